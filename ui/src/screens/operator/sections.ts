// The sections of the operator's page, each its own chunk, at /operator/:section; the first
// is the default at /operator.
import type { Component } from "svelte";

export interface Section {
  key: string;
  label: string;
  load: () => Promise<{ default: Component }>;
}

export const SECTIONS: Section[] = [
  { key: "pool", label: "Pool", load: () => import("./Pool.svelte") },
  { key: "workers", label: "Workers", load: () => import("./Workers.svelte") },
  { key: "environments", label: "Environments", load: () => import("./Environments.svelte") },
  { key: "health", label: "Health", load: () => import("./Health.svelte") },
];

export function sectionOf(key: string | undefined): Section | null {
  if (key === undefined) return SECTIONS[0] ?? null;
  return SECTIONS.find((section) => section.key === key) ?? null;
}
