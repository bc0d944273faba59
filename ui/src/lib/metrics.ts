// The Metrics tab's charts, shaped from GET /functions/{name}/metrics: one spec per chart,
// the same numbers for the drawing (uPlot, in components/Chart.svelte) and for the table
// that stands in for it. Pure functions, tested without a browser.
import type { Schemas } from "./api/client";

export type FunctionMetrics = Schemas["FunctionMetricsOut"];
export type MetricsBucket = Schemas["MetricsBucketOut"];
export type MetricsWindow = FunctionMetrics["window"];

export const WINDOWS: { value: MetricsWindow; label: string; span: string }[] = [
  { value: "1h", label: "Last hour", span: "the last hour" },
  { value: "24h", label: "Last day", span: "the last day" },
  { value: "7d", label: "Last week", span: "the last week" },
];

export function parseWindow(value: string | null): MetricsWindow {
  return WINDOWS.find((window) => window.value === value)?.value ?? "1h";
}

export function spanOf(window: MetricsWindow): string {
  return WINDOWS.find((each) => each.value === window)?.span ?? "the window";
}

export interface Series {
  label: string;
  values: (number | null)[];
  /** The CSS variable its colour comes from. */
  color: string;
}

export interface ChartSpec {
  key: string;
  title: string;
  /** What the y values are: "calls", "ms", "%". */
  unit: string;
  /** Bars for counts, lines for levels and durations. */
  kind: "bars" | "lines";
  /** Bucket starts, seconds since the epoch (what uPlot's time axis takes). */
  x: number[];
  series: Series[];
}

// Colours for several series of one chart, all text-contrast variables of app.css.
const PALETTE = ["--accent", "--focus", "--ok", "--warn", "--bad", "--muted"];

function seconds(bucket: MetricsBucket): number {
  return Date.parse(bucket.start) / 1000;
}

/** The name an error is charted under: its kind (FunctionError…), else its end state. */
export function errorLabel(error: { state: string; kind: string }): string {
  return error.kind || error.state;
}

/** Every error label of the window, most frequent first (ties by name): one series each. */
export function errorKinds(buckets: readonly MetricsBucket[]): string[] {
  const totals = new Map<string, number>();
  for (const bucket of buckets) {
    for (const error of bucket.errors_by_kind) {
      const label = errorLabel(error);
      totals.set(label, (totals.get(label) ?? 0) + error.count);
    }
  }
  return [...totals].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).map(([label]) => label);
}

function errorsOf(bucket: MetricsBucket, label: string): number {
  return bucket.errors_by_kind
    .filter((error) => errorLabel(error) === label)
    .reduce((sum, error) => sum + error.count, 0);
}

export function chartsOf(metrics: FunctionMetrics): ChartSpec[] {
  const buckets = metrics.buckets;
  const x = buckets.map(seconds);
  const kinds = errorKinds(buckets);
  return [
    {
      key: "invocations",
      title: "Invocations",
      unit: "calls",
      kind: "bars",
      x,
      series: [{ label: "Invocations", values: buckets.map((b) => b.invocations), color: "--accent" }],
    },
    {
      key: "errors",
      title: "Errors by kind",
      unit: "calls",
      kind: "bars",
      x,
      series: kinds.length
        ? kinds.map((label, index) => ({
            label,
            values: buckets.map((b) => errorsOf(b, label)),
            color: PALETTE[(index + 4) % PALETTE.length] ?? "--bad",
          }))
        : [{ label: "Errors", values: buckets.map(() => 0), color: "--bad" }],
    },
    {
      key: "duration",
      title: "Duration",
      unit: "ms",
      kind: "lines",
      x,
      series: [
        { label: "p50", values: buckets.map((b) => b.p50_ms), color: "--ok" },
        { label: "p95", values: buckets.map((b) => b.p95_ms), color: "--focus" },
        { label: "p99", values: buckets.map((b) => b.p99_ms), color: "--accent" },
      ],
    },
    {
      key: "cold",
      title: "Cold starts",
      unit: "calls",
      kind: "bars",
      x,
      series: [{ label: "Cold starts", values: buckets.map((b) => b.cold_starts), color: "--focus" }],
    },
    {
      key: "cold-share",
      title: "Share of calls that started cold",
      unit: "%",
      kind: "lines",
      x,
      // No share where there were no calls: a gap, not a 0% that never happened.
      series: [
        {
          label: "Cold share",
          values: buckets.map((b) => (b.invocations ? round(b.cold_start_share * 100) : null)),
          color: "--warn",
        },
      ],
    },
    {
      key: "concurrency",
      title: "Concurrent instances (peak)",
      unit: "calls",
      kind: "lines",
      x,
      series: [{ label: "Peak running", values: buckets.map((b) => b.peak_concurrency), color: "--accent" }],
    },
  ];
}

function round(value: number): number {
  return Math.round(value * 10) / 10;
}

export function totalCalls(metrics: FunctionMetrics): number {
  return metrics.buckets.reduce((sum, bucket) => sum + bucket.invocations, 0);
}

/** A chart's numbers in words, for the drawing's accessible name. */
export function summary(spec: ChartSpec, span: string): string {
  const parts = spec.series.map((series) => {
    const values = series.values.filter((value): value is number => value !== null);
    if (values.length === 0) return `${series.label}: none`;
    if (spec.unit === "calls" && spec.kind === "bars") {
      return `${series.label}: ${values.reduce((a, b) => a + b, 0)} in total`;
    }
    const unit = spec.unit === "%" ? "%" : spec.unit === "calls" ? "" : ` ${spec.unit}`;
    return `${series.label}: highest ${Math.max(...values)}${unit}`;
  });
  return `${spec.title} over ${span}. ${parts.join("; ")}. The numbers are in the table below.`;
}

/** A table cell's text: a dash for no value, durations to 0.1 ms. */
export function cell(value: number | null, unit: string): string {
  if (value === null) return "–";
  if (unit === "ms") return value.toFixed(1);
  return String(value);
}

/** A bucket's start as its table row says it: the time, with the date for windows > 1 day. */
export function bucketLabel(epochSeconds: number, window: MetricsWindow): string {
  const at = new Date(epochSeconds * 1000);
  const time = at.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit", hour12: false });
  if (window === "1h") return time;
  return `${at.toLocaleDateString(undefined, { month: "short", day: "numeric" })} ${time}`;
}
