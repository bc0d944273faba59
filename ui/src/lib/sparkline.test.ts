import { describe, expect, it } from "vitest";
import { sparkBars, sparkLabel } from "./sparkline";

describe("sparkBars", () => {
  const size = { width: 23, height: 10, gap: 1 };

  it("splits the width between the bars and their gaps", () => {
    const bars = sparkBars([1, 2, 3, 4], size);
    expect(bars.map((bar) => bar.x)).toEqual([0, 6, 12, 18]);
    expect(bars.every((bar) => bar.width === 5)).toBe(true);
    // The last bar ends at the right edge.
    const last = bars[3]!;
    expect(last.x + last.width).toBe(23);
  });

  it("scales to the busiest bucket, bottoms on the baseline", () => {
    const bars = sparkBars([0, 5, 10, 0], size);
    expect(bars.map((bar) => bar.height)).toEqual([0, 5, 10, 0]);
    expect(bars.map((bar) => bar.y + bar.height)).toEqual([10, 10, 10, 10]);
  });

  it("keeps a sliver for a bucket with few calls, and nothing for none", () => {
    const bars = sparkBars([1, 1000], size);
    expect(bars[0]!.height).toBe(1);
    expect(sparkBars([0, 0], size).every((bar) => bar.height === 0)).toBe(true);
    expect(sparkBars([], size)).toEqual([]);
  });
});

describe("sparkLabel", () => {
  it("says the total in words", () => {
    expect(sparkLabel([1, 2, 9], "the last hour")).toBe("12 calls in the last hour");
    expect(sparkLabel([0, 1], "the last hour")).toBe("1 call in the last hour");
  });
});
