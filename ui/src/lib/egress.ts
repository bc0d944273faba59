// A function's network policy as the console edits it: a mode and a list of destinations,
// and the text form the API takes (["none"], destinations, and/or "internet"). The server
// checks each destination and the namespace's bound; this only shapes what is sent.
export type EgressMode = "none" | "allow" | "internet";

export function modeOf(policy: readonly string[]): EgressMode {
  if (policy.includes("internet")) return "internet";
  return policy.length === 0 || (policy.length === 1 && policy[0] === "none") ? "none" : "allow";
}

export function destinationsOf(policy: readonly string[]): string[] {
  return policy.filter((item) => item !== "none" && item !== "internet");
}

/** What a Save sends, or why it cannot be sent as it is. */
export function policyOf(
  mode: EgressMode,
  rows: readonly string[],
): { policy: string[]; problem: string | null } {
  if (mode === "none") return { policy: ["none"], problem: null };
  const destinations = rows.map((row) => row.trim()).filter((row) => row !== "");
  if (mode === "allow" && destinations.length === 0) {
    return { policy: [], problem: "Add at least one destination, or choose no network access." };
  }
  return { policy: mode === "internet" ? [...destinations, "internet"] : destinations, problem: null };
}

export function samePolicy(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((item, index) => item === b[index]);
}

/** A bound or policy for people. */
export function policyText(items: readonly string[]): string {
  if (modeOf(items) === "none") return "no network access";
  const destinations = destinationsOf(items);
  const listed = destinations.join(", ");
  if (items.includes("internet")) return listed ? `the internet, and ${listed}` : "the internet";
  return listed;
}

/** An error answer as `Name: message`, so the named error shows inline. */
export function namedError(error: unknown, fallback: string): string {
  const answer = (typeof error === "object" && error !== null ? error : {}) as {
    error?: unknown;
    detail?: { message?: unknown };
  };
  const message = typeof answer.detail?.message === "string" ? answer.detail.message : fallback;
  return typeof answer.error === "string" ? `${answer.error}: ${message}` : message;
}
