import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { formatBytes, percent } from "./format";
import { whileVisible } from "./refresh";
import { sectionOf, SECTIONS } from "./sections";
import { drainable, heartbeatAge, warmLabel } from "./workers";

describe("sections", () => {
  it("defaults to the first and knows each by its key", () => {
    expect(sectionOf(undefined)?.key).toBe("pool");
    expect(sectionOf("health")?.label).toBe("Health");
    expect(sectionOf("nope")).toBeNull();
    expect(SECTIONS.map((s) => s.key)).toEqual(["pool", "workers", "environments", "health"]);
  });
});

describe("format", () => {
  it("writes sizes in binary units", () => {
    expect(formatBytes(0)).toBe("0 B");
    expect(formatBytes(1023)).toBe("1023 B");
    expect(formatBytes(1536)).toBe("1.5 KiB");
    expect(formatBytes(250 * 1024 * 1024)).toBe("250 MiB");
  });

  it("writes shares as whole percentages", () => {
    expect(percent(512, 16384)).toBe(3);
    expect(percent(1, 0)).toBe(0);
  });
});

describe("whileVisible", () => {
  let state: DocumentVisibilityState = "visible";

  beforeEach(() => {
    vi.useFakeTimers();
    state = "visible";
    Object.defineProperty(document, "visibilityState", { configurable: true, get: () => state });
  });

  afterEach(() => {
    vi.useRealTimers();
  });

  function show(next: DocumentVisibilityState) {
    state = next;
    document.dispatchEvent(new Event("visibilitychange"));
  }

  it("ticks while visible, pauses while hidden, and catches up when shown", () => {
    const tick = vi.fn();
    const stop = whileVisible(tick, 5000);
    vi.advanceTimersByTime(10_000);
    expect(tick).toHaveBeenCalledTimes(2);
    show("hidden");
    vi.advanceTimersByTime(60_000);
    expect(tick).toHaveBeenCalledTimes(2);
    show("visible");
    expect(tick).toHaveBeenCalledTimes(3); // at once on coming back
    vi.advanceTimersByTime(5000);
    expect(tick).toHaveBeenCalledTimes(4);
    stop();
    vi.advanceTimersByTime(60_000);
    show("visible");
    expect(tick).toHaveBeenCalledTimes(4);
  });

  it("does not start while the page is hidden", () => {
    state = "hidden";
    const tick = vi.fn();
    const stop = whileVisible(tick, 1000);
    vi.advanceTimersByTime(5000);
    expect(tick).not.toHaveBeenCalled();
    stop();
  });
});

describe("workers", () => {
  it("says how long ago a heartbeat was", () => {
    expect(heartbeatAge(0.42)).toBe("0.4 s ago");
    expect(heartbeatAge(47.6)).toBe("48 s ago");
    expect(heartbeatAge(600)).toBe("10 min ago");
    expect(heartbeatAge(null)).toBe("never");
  });

  it("names a warm version by namespace, function and version", () => {
    expect(warmLabel({ namespace: "default", function: "hello", version: 2, idle: 1 })).toBe(
      "default/hello:2 (1 idle)",
    );
    expect(warmLabel({ namespace: "", function: "f-id", version: 1, idle: 0 })).toBe("f-id:1");
  });

  it("offers a drain only for a registered worker not already leaving", () => {
    const ready = { draining: false, drain_requested: false };
    expect(drainable("cluster", ready)).toBe(true);
    expect(drainable("single", ready)).toBe(false);
    expect(drainable("cluster", { draining: false, drain_requested: true })).toBe(false);
    expect(drainable("cluster", { draining: true, drain_requested: false })).toBe(false);
  });
});
