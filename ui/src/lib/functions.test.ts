import { describe, expect, it } from "vitest";
import {
  ago,
  DEFAULT_SORT,
  duration,
  filterAndSort,
  formatSort,
  parseSort,
  percent,
  toggleSort,
  type FunctionRow,
} from "./functions";

function row(name: string, state: string, updated: string, versions = 1): FunctionRow {
  return {
    id: `fn_${name}`,
    name,
    namespace: "default",
    created_at: updated,
    updated_at: updated,
    latest_version: versions,
    versions,
    config: { state } as FunctionRow["config"],
    unchanged: false,
  };
}

const rows = [
  row("beta", "ready", "2026-12-01T10:00:00Z", 3),
  row("alpha", "failed", "2026-12-01T12:00:00Z", 1),
  row("gamma-api", "ready", "2026-12-01T11:00:00Z", 2),
];

describe("sort in the URL", () => {
  it("reads and writes `name`, `-updated`, and leaves the default out", () => {
    expect(parseSort(null)).toEqual(DEFAULT_SORT);
    expect(parseSort("-updated")).toEqual({ key: "updated", descending: true });
    expect(parseSort("bogus")).toEqual(DEFAULT_SORT);
    expect(formatSort(DEFAULT_SORT)).toBeNull();
    expect(formatSort({ key: "versions", descending: true })).toBe("-versions");
  });

  it("flips a column clicked twice; a date column starts newest first", () => {
    expect(toggleSort(DEFAULT_SORT, "name")).toEqual({ key: "name", descending: true });
    expect(toggleSort(DEFAULT_SORT, "updated")).toEqual({ key: "updated", descending: true });
    expect(toggleSort(DEFAULT_SORT, "state")).toEqual({ key: "state", descending: false });
  });
});

describe("filterAndSort", () => {
  const names = (list: FunctionRow[]) => list.map((r) => r.name);

  it("searches names, ignoring case and spaces around", () => {
    expect(names(filterAndSort(rows, " API ", DEFAULT_SORT))).toEqual(["gamma-api"]);
    expect(names(filterAndSort(rows, "", DEFAULT_SORT))).toEqual(["alpha", "beta", "gamma-api"]);
  });

  it("sorts by any column, ties by name", () => {
    expect(names(filterAndSort(rows, "", { key: "updated", descending: true }))).toEqual([
      "alpha",
      "gamma-api",
      "beta",
    ]);
    expect(names(filterAndSort(rows, "", { key: "state", descending: false }))).toEqual([
      "alpha",
      "beta",
      "gamma-api",
    ]);
    expect(names(filterAndSort(rows, "", { key: "versions", descending: true }))).toEqual([
      "beta",
      "gamma-api",
      "alpha",
    ]);
  });
});

describe("ago", () => {
  it("says how long ago, in words", () => {
    const now = Date.parse("2026-12-01T12:00:00Z");
    expect(ago("2026-12-01T11:59:50Z", now)).toBe("just now");
    expect(ago("2026-12-01T11:55:00Z", now)).toBe("5 minutes ago");
    expect(ago("2026-11-30T12:00:00Z", now)).toBe("yesterday");
  });
});

describe("the numbers' columns", () => {
  function stats(name: string, invocations: number, errors: number, p50: number | null, last: string | null) {
    return {
      name,
      invocations,
      errors,
      error_rate: invocations ? errors / invocations : 0,
      p50_ms: p50,
      last_invocation_at: last,
      buckets: [],
    };
  }
  const names = (list: FunctionRow[]) => list.map((r) => r.name);
  const byName = new Map([
    ["alpha", stats("alpha", 10, 5, 30, "2026-12-01T11:00:00Z")],
    ["beta", stats("beta", 40, 1, 5, "2026-12-01T11:30:00Z")],
    ["gamma-api", stats("gamma-api", 0, 0, null, null)],
  ]);

  it("sort busiest, worst, slowest and latest first; the never-called last", () => {
    expect(toggleSort(DEFAULT_SORT, "invocations")).toEqual({ key: "invocations", descending: true });
    const sorted = (key: "invocations" | "errors" | "p50" | "last") =>
      names(filterAndSort(rows, "", { key, descending: true }, byName));
    expect(sorted("invocations")).toEqual(["beta", "alpha", "gamma-api"]);
    expect(sorted("errors")).toEqual(["alpha", "beta", "gamma-api"]);
    expect(sorted("p50")).toEqual(["alpha", "beta", "gamma-api"]);
    expect(sorted("last")).toEqual(["beta", "alpha", "gamma-api"]);
  });

  it("sort by name alone until the numbers arrive", () => {
    expect(names(filterAndSort(rows, "", { key: "invocations", descending: true }))).toEqual([
      "alpha",
      "beta",
      "gamma-api",
    ]);
  });

  it("format rates and durations", () => {
    expect(percent(0, 0)).toBe("–");
    expect(percent(0, 5)).toBe("0%");
    expect(percent(1, 5)).toBe("100%");
    expect(percent(0.0333, 30)).toBe("3.3%");
    expect(percent(0.25, 4)).toBe("25%");
    expect(duration(null)).toBe("–");
    expect(duration(4.25)).toBe("4.3 ms");
    expect(duration(120.4)).toBe("120 ms");
    expect(duration(1450)).toBe("1.4 s");
  });
});
