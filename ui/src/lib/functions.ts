// The functions table's search and sort, kept in the URL (`?q=api&sort=-updated`) so a link
// or a reload shows the same rows in the same order.
import type { Schemas } from "./api/client";

export type FunctionRow = Schemas["FunctionOut"];

export const SORT_KEYS = ["name", "state", "version", "versions", "updated"] as const;
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
export function toggleSort(current: Sort, key: SortKey): Sort {
  if (current.key === key) return { key, descending: !current.descending };
  // Newest first is what one wants from a date column.
  return { key, descending: key === "updated" };
}

export function stateOf(row: FunctionRow): string {
  return row.config?.state ?? "none";
}

function value(row: FunctionRow, key: SortKey): string | number {
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
  }
}

export function filterAndSort(rows: readonly FunctionRow[], query: string, sort: Sort): FunctionRow[] {
  const needle = query.trim().toLowerCase();
  const kept = needle ? rows.filter((row) => row.name.includes(needle)) : [...rows];
  const direction = sort.descending ? -1 : 1;
  return kept.sort((a, b) => {
    const x = value(a, sort.key);
    const y = value(b, sort.key);
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
