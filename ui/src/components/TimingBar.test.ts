import { render, screen } from "@testing-library/svelte";
import { describe, expect, it } from "vitest";
import TimingBar from "./TimingBar.svelte";

describe("the timing bar", () => {
  it("draws each step in proportion, labelled with its milliseconds", () => {
    const { container } = render(TimingBar, {
      timings: { queue_ms: 1, start_ms: 60, init_ms: 20, handler_ms: 39 },
    });
    const segments = [...container.querySelectorAll<HTMLElement>(".segment")];
    expect(segments.map((s) => s.textContent?.trim())).toEqual([
      "Queue 1.0 ms",
      "Start 40 ms",
      "Imports 20 ms",
      "Handler 39 ms",
    ]);
    expect(segments.map((s) => s.style.flexGrow)).toEqual(["0.01", "0.4", "0.2", "0.39"]);
  });

  it("leaves out steps that took nothing from the bar, not from the table", () => {
    const { container } = render(TimingBar, { timings: { handler_ms: 3 } });
    expect(container.querySelectorAll(".segment")).toHaveLength(1);
    const table = screen.getByRole("table", { name: "Where the time went" });
    expect(table.querySelectorAll("tbody tr")).toHaveLength(4);
    expect(screen.getByRole("row", { name: /Handler 3\.0 ms 100%/ })).toBeTruthy();
  });
});
