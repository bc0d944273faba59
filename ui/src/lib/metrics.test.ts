import { describe, expect, it } from "vitest";
import { cell, chartsOf, errorKinds, parseWindow, summary, totalCalls, type FunctionMetrics, type MetricsBucket } from "./metrics";

function bucket(start: string, overrides: Partial<MetricsBucket> = {}): MetricsBucket {
  return {
    start,
    invocations: 0,
    errors: 0,
    errors_by_kind: [],
    cold_starts: 0,
    cold_start_share: 0,
    p50_ms: null,
    p95_ms: null,
    p99_ms: null,
    peak_concurrency: 0,
    ...overrides,
  };
}

const metrics: FunctionMetrics = {
  function: "echo",
  window: "1h",
  bucket_seconds: 60,
  start: "2026-12-01T12:00:00Z",
  end: "2026-12-01T12:03:00Z",
  buckets: [
    bucket("2026-12-01T12:00:00Z", {
      invocations: 10,
      errors: 3,
      errors_by_kind: [
        { state: "failed", kind: "FunctionError", count: 2 },
        { state: "cancelled", kind: "", count: 1 },
      ],
      cold_starts: 1,
      cold_start_share: 0.1,
      p50_ms: 5,
      p95_ms: 9.5,
      p99_ms: 12.25,
      peak_concurrency: 2,
    }),
    bucket("2026-12-01T12:01:00Z"),
    bucket("2026-12-01T12:02:00Z", {
      invocations: 3,
      errors: 3,
      errors_by_kind: [{ state: "timed_out", kind: "FunctionTimedOut", count: 3 }],
      cold_starts: 2,
      cold_start_share: 2 / 3,
      p50_ms: 7,
      p95_ms: 7,
      p99_ms: 7,
      peak_concurrency: 1,
    }),
  ],
};

describe("chartsOf", () => {
  const charts = chartsOf(metrics);
  const byKey = Object.fromEntries(charts.map((chart) => [chart.key, chart]));

  it("draws every chart the tab promises, over the bucket starts in seconds", () => {
    expect(charts.map((chart) => chart.key)).toEqual([
      "invocations",
      "errors",
      "duration",
      "cold",
      "cold-share",
      "concurrency",
    ]);
    expect(byKey.invocations!.x).toEqual([1796126400, 1796126460, 1796126520]);
    expect(byKey.invocations!.series[0]!.values).toEqual([10, 0, 3]);
  });

  it("gives each error kind its own series, the most frequent first; a state when no kind", () => {
    expect(errorKinds(metrics.buckets)).toEqual(["FunctionTimedOut", "FunctionError", "cancelled"]);
    expect(byKey.errors!.series.map((s) => [s.label, s.values])).toEqual([
      ["FunctionTimedOut", [0, 0, 3]],
      ["FunctionError", [2, 0, 0]],
      ["cancelled", [1, 0, 0]],
    ]);
  });

  it("keeps gaps where nothing finished, and shares only where there were calls", () => {
    expect(byKey.duration!.series.map((s) => s.values)).toEqual([
      [5, null, 7],
      [9.5, null, 7],
      [12.25, null, 7],
    ]);
    expect(byKey["cold-share"]!.series[0]!.values).toEqual([10, null, 66.7]);
    expect(byKey.concurrency!.series[0]!.values).toEqual([2, 0, 1]);
  });

  it("has one flat error series when nothing failed", () => {
    const calm = chartsOf({ ...metrics, buckets: [bucket("2026-12-01T12:00:00Z", { invocations: 1 })] });
    expect(calm[1]!.series).toEqual([{ label: "Errors", values: [0], color: "--bad" }]);
  });
});

describe("words and cells", () => {
  it("sums counts and names the highest level", () => {
    const [invocations, , duration] = chartsOf(metrics);
    expect(summary(invocations!, "the last hour")).toBe(
      "Invocations over the last hour. Invocations: 13 in total. The numbers are in the table below.",
    );
    expect(summary(duration!, "the last hour")).toContain("p99: highest 12.25 ms");
    expect(totalCalls(metrics)).toBe(13);
  });

  it("prints a dash for no value and durations to a tenth", () => {
    expect(cell(null, "ms")).toBe("–");
    expect(cell(12.25, "ms")).toBe("12.3");
    expect(cell(3, "calls")).toBe("3");
  });

  it("reads the window from the URL, the hour by default", () => {
    expect(parseWindow("7d")).toBe("7d");
    expect(parseWindow("2h")).toBe("1h");
    expect(parseWindow(null)).toBe("1h");
  });
});
