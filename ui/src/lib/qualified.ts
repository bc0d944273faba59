/** The name a trigger calls: `hello` for latest, `hello:prod` for an alias. */
export function qualifiedName(name: string, alias: string | null | undefined): string {
  return !alias || alias === "latest" ? name : `${name}:${alias}`;
}
