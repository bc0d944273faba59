// The role ladder of the API (domain/actions.py), for deciding what a page offers: a viewer
// sees no deploy button. The server refuses anyway; this only spares people a button that
// cannot work.
export const ROLES = ["viewer", "invoker", "developer", "owner", "admin"] as const;
export type Role = (typeof ROLES)[number];

/** Whether `role` is `wanted` or above it; an unknown role is below everything. */
export function atLeast(role: string | null | undefined, wanted: Role): boolean {
  const rank = ROLES.indexOf(role as Role);
  return rank >= 0 && rank >= ROLES.indexOf(wanted);
}
