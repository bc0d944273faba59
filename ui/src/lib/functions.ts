// The functions table's search and sort, kept in the URL (`?q=api&sort=-updated`) so a link
// or a reload shows the same rows in the same order.
import type { Schemas } from "./api/client";

export type FunctionRow = Schemas["FunctionOut"];
/** A function's numbers over the last hour (GET /function-stats), by name. */
export type FunctionStats = Schemas["FunctionStatsOut"];
export type StatsByName = ReadonlyMap<string, FunctionStats>;

export const SORT_KEYS = [
  "name",
  "state",
  "version",
  "versions",
  "updated",
  "last",
  "invocations",
  "errors",
  "p50",
] as const;
export type SortKey = (typeof SORT_KEYS)[number];

export interface Sort {
  key: SortKey;
  descending: boolean;
}

export const DEFAULT_SORT: Sort = { key: "name", descending: false };

export function parseSort(value: string | null): Sort {
  if (!value) return DEFAULT_SORT;
  const descending = value.startsWith("-");
  const key = descending ? value.slice(1) : value;
  return (SORT_KEYS as readonly string[]).includes(key)
    ? { key: key as SortKey, descending }
    : DEFAULT_SORT;
}

/** The URL's value of a sort; null for the default, which the URL leaves out. */
export function formatSort(sort: Sort): string | null {
  if (sort.key === DEFAULT_SORT.key && sort.descending === DEFAULT_SORT.descending) return null;
  return (sort.descending ? "-" : "") + sort.key;
}

/** Clicking a column: sort by it, or flip it if it is already the one. */
const DESCENDING_FIRST = new Set<SortKey>(["updated", "last", "invocations", "errors", "p50"]);

export function toggleSort(current: Sort, key: SortKey): Sort {
  if (current.key === key) return { key, descending: !current.descending };
  // Newest first from a date column, the busiest and the worst first from a number's.
  return { key, descending: DESCENDING_FIRST.has(key) };
}

export function stateOf(row: FunctionRow): string {
  return row.config?.state ?? "none";
}

// A function without a number (never called, stats not loaded yet) sorts below every one.
const NONE = -1;

function value(row: FunctionRow, key: SortKey, stats: StatsByName): string | number {
  const numbers = stats.get(row.name);
  switch (key) {
    case "name":
      return row.name;
    case "state":
      return stateOf(row);
    case "version":
      return row.latest_version ?? 0;
    case "versions":
      return row.versions;
    case "updated":
      return Date.parse(row.updated_at);
    case "last":
      return numbers?.last_invocation_at ? Date.parse(numbers.last_invocation_at) : NONE;
    case "invocations":
      return numbers?.invocations ?? NONE;
    case "errors":
      return numbers && numbers.invocations > 0 ? numbers.error_rate : NONE;
    case "p50":
      return numbers?.p50_ms ?? NONE;
  }
}

export function filterAndSort(
  rows: readonly FunctionRow[],
  query: string,
  sort: Sort,
  stats: StatsByName = new Map(),
): FunctionRow[] {
  const needle = query.trim().toLowerCase();
  const kept = needle ? rows.filter((row) => row.name.includes(needle)) : [...rows];
  const direction = sort.descending ? -1 : 1;
  return kept.sort((a, b) => {
    const x = value(a, sort.key, stats);
    const y = value(b, sort.key, stats);
    const order = x < y ? -1 : x > y ? 1 : 0;
    // Ties keep a stable, readable order: by name.
    return order * direction || a.name.localeCompare(b.name);
  });
}

const UNITS: [Intl.RelativeTimeFormatUnit, number][] = [
  ["day", 86_400],
  ["hour", 3_600],
  ["minute", 60],
];

/** "5 minutes ago", "yesterday": how people read a recent time. */
export function ago(iso: string, now: number = Date.now()): string {
  const seconds = Math.round((Date.parse(iso) - now) / 1000);
  const format = new Intl.RelativeTimeFormat("en", { numeric: "auto" });
  for (const [unit, size] of UNITS) {
    if (Math.abs(seconds) >= size) return format.format(Math.round(seconds / size), unit);
  }
  return "just now";
}

/** "3.2%", "0%", "–" when nothing was called: an error rate as the table shows it. */
export function percent(rate: number, calls: number): string {
  if (calls === 0) return "–";
  const value = rate * 100;
  if (value === 0 || value === 100) return `${value}%`;
  return `${value < 10 ? value.toFixed(1) : Math.round(value)}%`;
}

/** "12 ms", "1.4 s": a duration at a glance. */
export function duration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return "–";
  if (ms < 10) return `${ms.toFixed(1)} ms`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;
}
