// The Logs tab's lines: what the live stream brought, capped, held while paused, filtered.
// A model apart from the page, so that its rules (the cap, what pausing keeps, what the
// filter hides) are tested without a browser or a server.

/** One `invocation` event of GET /functions/{name}/logs/stream (api/routes/log_stream.py). */
export interface InvocationEvent {
  id: string;
  function: string;
  version: number;
  state: string;
  cold_start: boolean;
  duration_ms: number | null;
  created_at: string;
  finished_at: string | null;
  error: { kind?: string; message?: string } | null;
  logs: string;
  logs_truncated: boolean;
}

export interface LogLine {
  /** Unique in the page, for keyed lists. */
  key: number;
  at: string;
  invocation: string;
  text: string;
  /** `output`: what the function printed; `end`: the line that says how the call ended. */
  kind: "output" | "end";
  failed: boolean;
}

export const LINE_CAP = 2000;

const OK_STATES = new Set(["succeeded"]);

function ending(event: InvocationEvent): string {
  const parts = [event.state];
  if (event.duration_ms !== null) parts.push(`${event.duration_ms.toFixed(1)} ms`);
  if (event.cold_start) parts.push("cold start");
  if (event.logs_truncated) parts.push("output cut at the stored bound");
  let text = `${parts.join(" · ")}`;
  if (event.error) text += ` · ${[event.error.kind, event.error.message].filter(Boolean).join(": ")}`;
  return text;
}

/** An invocation's printed lines (the last newline ends a line, it does not start one),
 *  then one line saying how it ended, as Lambda's END/REPORT lines do. */
export function linesOf(event: InvocationEvent, firstKey: number): LogLine[] {
  const at = event.finished_at ?? event.created_at;
  const failed = !OK_STATES.has(event.state);
  const printed = event.logs === "" ? [] : event.logs.replace(/\r?\n$/, "").split(/\r?\n/);
  const lines: LogLine[] = printed.map((text, index) => ({
    key: firstKey + index,
    at,
    invocation: event.id,
    text,
    kind: "output",
    failed: false,
  }));
  lines.push({
    key: firstKey + lines.length,
    at,
    invocation: event.id,
    text: ending(event),
    kind: "end",
    failed,
  });
  return lines;
}

/** Whether a line shows under the filter: a case-insensitive part of its text or its id. */
export function matches(line: LogLine, filter: string): boolean {
  const needle = filter.trim().toLowerCase();
  if (!needle) return true;
  return line.text.toLowerCase().includes(needle) || line.invocation.toLowerCase().includes(needle);
}

export class LogTail {
  lines = $state.raw<LogLine[]>([]);
  /** Arrived while paused: kept (under a cap of their own, so the paused view stays still),
   *  counted, and shown on resume. */
  held = $state.raw<LogLine[]>([]);
  paused = $state(false);
  /** Older lines let go of to stay under the cap, since the page opened. */
  dropped = $state(0);
  #nextKey = 0;
  readonly cap: number;

  constructor(cap: number = LINE_CAP) {
    this.cap = cap;
  }

  add(event: InvocationEvent): void {
    const lines = linesOf(event, this.#nextKey);
    this.#nextKey += lines.length;
    if (this.paused) this.held = this.#capped(this.held, lines);
    else this.lines = this.#capped(this.lines, lines);
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    if (this.held.length === 0) return;
    this.lines = this.#capped(this.lines, this.held);
    this.held = [];
  }

  clear(): void {
    this.lines = [];
    this.held = [];
    this.dropped = 0;
  }

  /** `older` then `newer`, the oldest let go of (and counted) past the cap. */
  #capped(older: readonly LogLine[], newer: readonly LogLine[]): LogLine[] {
    const all = [...older, ...newer];
    const over = all.length - this.cap;
    if (over <= 0) return all;
    this.dropped += over;
    return all.slice(over);
  }
}
