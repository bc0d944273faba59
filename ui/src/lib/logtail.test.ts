import { describe, expect, it } from "vitest";
import { linesOf, LogTail, matches, type InvocationEvent } from "./logtail.svelte";

let serial = 0;

function event(logs: string, overrides: Partial<InvocationEvent> = {}): InvocationEvent {
  serial += 1;
  return {
    id: `01INV${String(serial).padStart(21, "0")}`,
    function: "echo",
    version: 1,
    state: "succeeded",
    cold_start: false,
    duration_ms: 4.2,
    created_at: "2026-12-01T12:00:00+00:00",
    finished_at: "2026-12-01T12:00:01+00:00",
    error: null,
    logs,
    logs_truncated: false,
    ...overrides,
  };
}

const texts = (tail: LogTail) => tail.lines.map((line) => line.text);

describe("linesOf", () => {
  it("splits the output into lines and ends with how the call went", () => {
    const lines = linesOf(event("one\ntwo\n", { cold_start: true }), 10);
    expect(lines.map((line) => [line.key, line.kind, line.text])).toEqual([
      [10, "output", "one"],
      [11, "output", "two"],
      [12, "end", "succeeded · 4.2 ms · cold start"],
    ]);
    expect(lines.every((line) => line.at === "2026-12-01T12:00:01+00:00")).toBe(true);
  });

  it("names a failure and its error; no output is no output line", () => {
    const failed = event("", {
      state: "failed",
      duration_ms: null,
      error: { kind: "FunctionError", message: "boom" },
    });
    const lines = linesOf(failed, 0);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ kind: "end", failed: true, text: "failed · FunctionError: boom" });
  });
});

describe("LogTail", () => {
  it("keeps at most its cap, dropping the oldest and counting them", () => {
    const tail = new LogTail(5);
    tail.add(event("a\nb\nc"));
    tail.add(event("d\ne\nf"));
    expect(texts(tail)).toEqual(["succeeded · 4.2 ms", "d", "e", "f", "succeeded · 4.2 ms"]);
    expect(tail.lines).toHaveLength(5);
    expect(tail.dropped).toBe(3);
  });

  it("holds what arrives while paused, counts it, and shows it on resume", () => {
    const tail = new LogTail(100);
    tail.add(event("before"));
    tail.pause();
    tail.add(event("while paused"));
    expect(texts(tail)).toEqual(["before", "succeeded · 4.2 ms"]);
    expect(tail.held.map((line) => line.text)).toEqual(["while paused", "succeeded · 4.2 ms"]);
    tail.resume();
    expect(texts(tail)).toEqual(["before", "succeeded · 4.2 ms", "while paused", "succeeded · 4.2 ms"]);
    expect(tail.held).toEqual([]);
    expect(tail.paused).toBe(false);
  });

  it("caps the held lines too, and the whole after resuming", () => {
    const tail = new LogTail(3);
    tail.add(event("1")); // 2 lines
    tail.pause();
    tail.add(event("2\n3\n4")); // 4 lines held: 1 dropped
    expect(tail.lines).toHaveLength(2);
    expect(tail.held.map((line) => line.text)).toEqual(["3", "4", "succeeded · 4.2 ms"]);
    expect(tail.dropped).toBe(1);
    tail.resume();
    expect(texts(tail)).toEqual(["3", "4", "succeeded · 4.2 ms"]);
    expect(tail.dropped).toBe(3);
  });

  it("gives every line its own key across events", () => {
    const tail = new LogTail(100);
    tail.add(event("a\nb"));
    tail.add(event("c"));
    const keys = tail.lines.map((line) => line.key);
    expect(new Set(keys).size).toBe(keys.length);
  });
});

describe("matches", () => {
  const [line] = linesOf(event("Payment ACCEPTED for order 7"), 0);

  it("finds a part of the text, any case; an empty filter shows all", () => {
    expect(matches(line!, "accepted")).toBe(true);
    expect(matches(line!, "  ORDER 7 ")).toBe(true);
    expect(matches(line!, "refused")).toBe(false);
    expect(matches(line!, "")).toBe(true);
  });

  it("finds the invocation id too", () => {
    expect(matches(line!, line!.invocation.slice(-6).toLowerCase())).toBe(true);
  });
});
