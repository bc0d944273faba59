// What the console does with asynchronous calls: queue one, follow it live until it ends (a
// long poll, `GET /invocations/{id}?wait=`, so an ended call shows at once without a timer),
// and act on it: cancel, redrive and discard.
import { errorMessage, type Schemas } from "./api/client";
import { api } from "./app";

export type InvocationRecord = Schemas["InvocationOut"];

/** How long one long poll asks the server to hold (it shortens it to its own bound). */
export const WAIT_S = 20;

const RUNNING_STATES = new Set(["queued", "running"]);

export function hasEnded(state: string): boolean {
  return !RUNNING_STATES.has(state);
}

/** An asynchronous call has a retry policy; a sync call's row has none. */
export function isAsync(record: InvocationRecord): boolean {
  return record.max_attempts !== null && record.max_attempts !== undefined;
}

export interface AttemptEnd {
  attempt: number;
  state: string;
  message: string;
  kind: string;
  finishedAt: string | null;
  redrivenAt: string | null;
}

/** The earlier attempts' ends as the runner keeps them (`attempts`), for people. */
export function attemptEnds(record: InvocationRecord): AttemptEnd[] {
  const raw = (record.attempts ?? []) as Record<string, unknown>[];
  return raw.map((entry) => {
    const error = (entry.error ?? {}) as { kind?: unknown; message?: unknown };
    return {
      attempt: typeof entry.attempt === "number" ? entry.attempt : 0,
      state: typeof entry.state === "string" ? entry.state : "",
      kind: typeof error.kind === "string" ? error.kind : "",
      message: typeof error.message === "string" ? error.message : "",
      finishedAt: typeof entry.finished_at === "string" ? entry.finished_at : null,
      redrivenAt: typeof entry.redriven_at === "string" ? entry.redriven_at : null,
    };
  });
}

export type Outcome<T> = { ok: true; value: T } | { ok: false; message: string };

/** Queue a call of `name` with the raw JSON `event`; the queued invocation. */
export async function queueCall(name: string, event: string): Promise<Outcome<InvocationRecord>> {
  const { data, error, response } = await api.POST("/api/v1/functions/{name}/invoke", {
    params: { path: { name }, header: { prefer: "respond-async" } },
    body: event as never,
    bodySerializer: (body: unknown) => body as string,
  });
  if (response.status === 202 && data) return { ok: true, value: data as unknown as InvocationRecord };
  return { ok: false, message: errorMessage(error, "The call could not be queued.") };
}

/** Follow one call: `onRecord` gets it each time it is read, until it has ended or `signal`
 * aborts. A failed read ends the following and says why. */
export async function follow(
  id: string,
  onRecord: (record: InvocationRecord) => void,
  signal: AbortSignal,
): Promise<string | null> {
  while (!signal.aborted) {
    let found;
    try {
      found = await api.GET("/api/v1/invocations/{invocation_id}", {
        params: { path: { invocation_id: id }, query: { wait: WAIT_S } },
        signal,
      });
    } catch {
      return signal.aborted ? null : "Lost touch with the server; reload to follow the call again.";
    }
    if (signal.aborted) return null;
    if (!found.data) return errorMessage(found.error, "The invocation could not be read.");
    onRecord(found.data);
    if (hasEnded(found.data.state)) return null;
  }
  return null;
}

export async function redrive(id: string): Promise<Outcome<InvocationRecord>> {
  const { data, error } = await api.POST("/api/v1/invocations/{invocation_id}/redrive", {
    params: { path: { invocation_id: id } },
  });
  if (data) return { ok: true, value: data };
  return { ok: false, message: errorMessage(error, "The call could not be redriven.") };
}

export async function discard(id: string): Promise<Outcome<null>> {
  const { error, response } = await api.POST("/api/v1/invocations/{invocation_id}/discard", {
    params: { path: { invocation_id: id } },
  });
  if (response.ok) return { ok: true, value: null };
  return { ok: false, message: errorMessage(error, "The dead letter could not be discarded.") };
}

export async function cancel(id: string): Promise<Outcome<InvocationRecord>> {
  const { data, error } = await api.POST("/api/v1/invocations/{invocation_id}/cancel", {
    params: { path: { invocation_id: id } },
  });
  if (data) return { ok: true, value: data };
  return { ok: false, message: errorMessage(error, "The call could not be cancelled.") };
}

export async function redriveAll(name: string): Promise<Outcome<number>> {
  const { data, error } = await api.POST("/api/v1/functions/{name}/dead-letters/redrive", {
    params: { path: { name } },
  });
  if (data) return { ok: true, value: data.redriven };
  return { ok: false, message: errorMessage(error, "The dead letters could not be redriven.") };
}

export async function discardAll(name: string): Promise<Outcome<number>> {
  const { data, error } = await api.POST("/api/v1/functions/{name}/dead-letters/discard", {
    params: { path: { name } },
  });
  if (data) return { ok: true, value: data.discarded };
  return { ok: false, message: errorMessage(error, "The dead letters could not be discarded.") };
}
