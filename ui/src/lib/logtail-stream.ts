// Following a function's log stream for as long as the Logs tab is open: the stream ends by
// design (`max_s`, a reader that fell behind) or drops (a restart, the network), and each
// time it is opened again after the last invocation seen, so nothing is missed or shown
// twice. It stops for good when the tab closes (the signal), the function is deleted, or
// the server refuses (a 4xx: reconnecting would not change its mind).
import { readEvents, type StreamEvent } from "./sse";
import type { InvocationEvent } from "./logtail.svelte";

export type TailState = "connecting" | "live" | "reconnecting" | "stopped";

export interface TailStatus {
  state: TailState;
  /** Why it stopped or is reconnecting, in words. */
  message?: string;
}

export interface FollowOptions {
  /** The stream's path for a start after `after` (null: live from now). */
  path: (after: string | null) => string;
  signal: AbortSignal;
  onEvent: (event: InvocationEvent) => void;
  onStatus: (status: TailStatus) => void;
  open: (path: string, signal: AbortSignal) => Promise<Response>;
  /** Waits between attempts; resolves early (or rejects) when the signal aborts. */
  wait?: (ms: number, signal: AbortSignal) => Promise<void>;
}

// Reasons of the `end` event after which the stream is opened again at once.
const REOPEN = new Set(["max_s", "more_history", "too_slow", "server_stopping"]);
const BACKOFF_MS = [500, 1000, 2000, 5000, 10_000];

export function delay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener(
      "abort",
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });
}

export function streamPath(name: string, after: string | null): string {
  const base = `/api/v1/functions/${encodeURIComponent(name)}/logs/stream`;
  return after ? `${base}?${new URLSearchParams({ after })}` : base;
}

type Outcome = { again: true; failed: boolean; reason?: string } | { again: false; message: string };

/** Follows until the signal aborts or the server says stop; resolves then. */
export async function follow(options: FollowOptions): Promise<void> {
  const wait = options.wait ?? delay;
  let last: string | null = null;
  let failures = 0;
  while (!options.signal.aborted) {
    options.onStatus({ state: failures ? "reconnecting" : "connecting" });
    const outcome = await once(options, last, (id) => {
      last = id;
      failures = 0;
    });
    if (options.signal.aborted) break;
    if (!outcome.again) {
      options.onStatus({ state: "stopped", message: outcome.message });
      return;
    }
    if (outcome.failed) {
      failures += 1;
      const ms = BACKOFF_MS[Math.min(failures, BACKOFF_MS.length) - 1] ?? 10_000;
      options.onStatus({ state: "reconnecting", message: outcome.reason ?? "The stream was cut." });
      await wait(ms, options.signal);
    }
  }
  options.onStatus({ state: "stopped" });
}

async function once(options: FollowOptions, after: string | null, seen: (id: string) => void): Promise<Outcome> {
  let response: Response;
  try {
    response = await options.open(options.path(after), options.signal);
  } catch {
    return { again: true, failed: true, reason: "The server cannot be reached." };
  }
  if (response.status >= 400 && response.status < 500) {
    return { again: false, message: await refusal(response) };
  }
  if (!response.ok) return { again: true, failed: true, reason: `The server answered ${response.status}.` };
  options.onStatus({ state: "live" });
  let ended: string | null = null;
  try {
    await readEvents(
      response,
      (event: StreamEvent) => {
        if (event.event === "invocation") {
          const data = JSON.parse(event.data) as InvocationEvent;
          seen(data.id);
          options.onEvent(data);
        } else if (event.event === "end") {
          const end = JSON.parse(event.data) as { reason: string; last_id: string | null };
          if (end.last_id) seen(end.last_id);
          ended = end.reason;
        }
      },
      options.signal,
    );
  } catch {
    return { again: true, failed: true, reason: "The stream was cut." };
  }
  if (ended === "function_deleted") return { again: false, message: "The function was deleted." };
  if (ended !== null && REOPEN.has(ended)) return { again: true, failed: false };
  // Ended without saying why: a drop.
  return { again: true, failed: true, reason: "The stream was cut." };
}

async function refusal(response: Response): Promise<string> {
  try {
    const body = (await response.json()) as { detail?: { message?: string } };
    if (body.detail?.message) return body.detail.message;
  } catch {
    // not the API's JSON
  }
  return `The server refused the log stream (${response.status}).`;
}
