// The tabs of a function's page, each its own chunk (the editor and the charts are heavy and
// load only with their tab). The first is the default at /functions/:name.
import type { Component } from "svelte";
import type { Schemas } from "../../lib/api/client";

export type FunctionDetail = Schemas["FunctionOut"];

export interface TabProps {
  fn: FunctionDetail;
  /** Fetch the function again (after a deploy, say) and re-render every tab with it. */
  reload: () => Promise<void>;
}

export interface Tab {
  key: string;
  label: string;
  load: () => Promise<{ default: Component<TabProps> }>;
}

export const TABS: Tab[] = [
  { key: "code", label: "Code", load: () => import("./Code.svelte") },
  { key: "test", label: "Test", load: () => import("./Test.svelte") },
  { key: "invocations", label: "Invocations", load: () => import("./Invocations.svelte") },
  { key: "logs", label: "Logs", load: () => import("./Logs.svelte") },
  { key: "metrics", label: "Metrics", load: () => import("./Metrics.svelte") },
  { key: "versions", label: "Versions", load: () => import("./Versions.svelte") },
  { key: "configuration", label: "Configuration", load: () => import("./Configuration.svelte") },
  { key: "schedules", label: "Schedules", load: () => import("./Schedules.svelte") },
  { key: "releases", label: "Releases", load: () => import("./Releases.svelte") },
];

export function tabOf(key: string | undefined): Tab | null {
  if (key === undefined) return TABS[0] ?? null;
  return TABS.find((tab) => tab.key === key) ?? null;
}
