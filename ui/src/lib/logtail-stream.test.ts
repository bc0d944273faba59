import { describe, expect, it } from "vitest";
import { follow, streamPath, type TailStatus } from "./logtail-stream";
import type { InvocationEvent } from "./logtail.svelte";

function sse(...events: string[]): Response {
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const event of events) controller.enqueue(new TextEncoder().encode(event));
      controller.close();
    },
  });
  return new Response(body, { status: 200, headers: { "Content-Type": "text/event-stream" } });
}

function invocation(id: string): string {
  return `event: invocation\nid: ${id}\ndata: ${JSON.stringify({ id, logs: "hi\n", state: "succeeded" })}\n\n`;
}

function end(reason: string, last: string | null): string {
  return `event: end\ndata: ${JSON.stringify({ reason, last_id: last })}\n\n`;
}

describe("follow", () => {
  it("reopens after a drop and after max_s, each time after the last id seen", async () => {
    const controller = new AbortController();
    const asked: string[] = [];
    const answers = [
      () => sse(invocation("A")), // ends without an `end` event: a drop
      () => sse(invocation("B"), end("max_s", "B")),
      () => {
        controller.abort();
        return sse();
      },
    ];
    const seen: string[] = [];
    const states: TailStatus[] = [];
    await follow({
      path: (after) => streamPath("echo", after),
      signal: controller.signal,
      onEvent: (event: InvocationEvent) => seen.push(event.id),
      onStatus: (status) => states.push(status),
      open: async (path) => {
        asked.push(path);
        return answers[asked.length - 1]!();
      },
      wait: async () => undefined,
    });
    expect(asked).toEqual([
      "/api/v1/functions/echo/logs/stream",
      "/api/v1/functions/echo/logs/stream?after=A",
      "/api/v1/functions/echo/logs/stream?after=B",
    ]);
    expect(seen).toEqual(["A", "B"]);
    expect(states.some((status) => status.state === "reconnecting")).toBe(true);
    expect(states.at(-1)?.state).toBe("stopped");
  });

  it("stops for good on a refusal, with the server's message", async () => {
    const states: TailStatus[] = [];
    let opened = 0;
    await follow({
      path: (after) => streamPath("gone", after),
      signal: new AbortController().signal,
      onEvent: () => undefined,
      onStatus: (status) => states.push(status),
      open: async () => {
        opened += 1;
        return Response.json(
          { error: "FunctionNotFound", detail: { message: "no function named 'gone'" } },
          { status: 404 },
        );
      },
    });
    expect(opened).toBe(1);
    expect(states.at(-1)).toEqual({ state: "stopped", message: "no function named 'gone'" });
  });

  it("stops when the function is deleted", async () => {
    const states: TailStatus[] = [];
    await follow({
      path: (after) => streamPath("echo", after),
      signal: new AbortController().signal,
      onEvent: () => undefined,
      onStatus: (status) => states.push(status),
      open: async () => sse(end("function_deleted", null)),
    });
    expect(states.at(-1)).toEqual({ state: "stopped", message: "The function was deleted." });
  });
});
