// The sections of a namespace's settings, each its own chunk. `reads` is the least role
// that may read the section (domain/actions.py): the nav offers only those, and a section
// asked for by URL above one's role says why instead of provoking the server's 403.
import type { Component } from "svelte";
import type { Role } from "../../lib/roles";

export interface SectionProps {
  /** The namespace chosen in the header's switcher. */
  namespace: string;
  /** The caller's role there (`admin`: the platform admin). */
  role: string | null;
}

export interface Section {
  key: string;
  label: string;
  reads: Role;
  load: () => Promise<{ default: Component<SectionProps> }>;
}

export const SECTIONS: Section[] = [
  { key: "members", label: "Members", reads: "viewer", load: () => import("./Members.svelte") },
  { key: "keys", label: "API keys", reads: "viewer", load: () => import("./Keys.svelte") },
  { key: "secrets", label: "Secrets", reads: "developer", load: () => import("./Secrets.svelte") },
  { key: "quotas", label: "Quotas", reads: "viewer", load: () => import("./Quotas.svelte") },
  { key: "network", label: "Network access", reads: "viewer", load: () => import("./Network.svelte") },
  { key: "audit", label: "Audit log", reads: "owner", load: () => import("./Audit.svelte") },
];

export function sectionOf(key: string | undefined): Section | null {
  if (key === undefined) return SECTIONS[0] ?? null;
  return SECTIONS.find((section) => section.key === key) ?? null;
}
