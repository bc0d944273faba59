import { describe, expect, it } from "vitest";
import { EventStreamParser, readEvents, type StreamEvent } from "./sse";

describe("EventStreamParser", () => {
  it("parses events split across chunks anywhere", () => {
    const text = "id: 7\nevent: log\ndata: one\ndata: two\n\n: a comment\ndata: plain\r\n\r\n";
    for (let cut = 0; cut <= text.length; cut++) {
      const parser = new EventStreamParser();
      const events = [...parser.push(text.slice(0, cut)), ...parser.push(text.slice(cut))];
      expect(events).toEqual([
        { event: "log", data: "one\ntwo", id: "7" },
        { event: "message", data: "plain", id: "7" },
      ]);
    }
  });

  it("keeps a value's own colons and drops one leading space only", () => {
    const parser = new EventStreamParser();
    expect(parser.push("data:  a: b\n\n")).toEqual([{ event: "message", data: " a: b", id: null }]);
  });

  it("sends nothing for a blank line with no data", () => {
    expect(new EventStreamParser().push("\n\n: ping\n\n")).toEqual([]);
  });
});

describe("readEvents", () => {
  it("reads a response's events to its end", async () => {
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        const encoder = new TextEncoder();
        controller.enqueue(encoder.encode("event: log\ndata: {\"n\":1}\n\nevent: end"));
        controller.enqueue(encoder.encode("\ndata: ready\n\n"));
        controller.close();
      },
    });
    const seen: StreamEvent[] = [];
    await readEvents(new Response(body), (event) => seen.push(event));
    expect(seen.map((event) => [event.event, event.data])).toEqual([
      ["log", '{"n":1}'],
      ["end", "ready"],
    ]);
  });

  it("ends quietly when aborted", async () => {
    const body = new ReadableStream<Uint8Array>({ start() {} });
    const abort = new AbortController();
    const done = readEvents(new Response(body), () => undefined, abort.signal);
    abort.abort();
    await expect(done).resolves.toBeUndefined();
  });
});
