// The functions table's sparkline: one bar per bucket, scaled to the busiest one, drawn as
// an inline SVG (no library, no canvas: 200 of them on a page must cost nothing).

export interface Bar {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface SparkSize {
  width: number;
  height: number;
  /** Space between bars, in the same units. */
  gap: number;
}

export const SPARK_SIZE: SparkSize = { width: 72, height: 20, gap: 1 };

// A bucket with a few calls still shows a sliver next to the busiest one.
const MIN_VISIBLE = 1;

/** The bars of `counts`, left to right, their bottoms on the baseline. An empty bucket has
 *  no height; any call at all at least MIN_VISIBLE, so "some" never looks like "none". */
export function sparkBars(counts: readonly number[], size: SparkSize = SPARK_SIZE): Bar[] {
  if (counts.length === 0) return [];
  const top = Math.max(...counts);
  const width = (size.width - size.gap * (counts.length - 1)) / counts.length;
  return counts.map((count, index) => {
    const scaled = top > 0 ? (count / top) * size.height : 0;
    const height = count > 0 ? Math.max(MIN_VISIBLE, scaled) : 0;
    return { x: index * (width + size.gap), y: size.height - height, width, height };
  });
}

/** What a screen reader hears for the sparkline. */
export function sparkLabel(counts: readonly number[], span: string): string {
  const total = counts.reduce((sum, count) => sum + count, 0);
  return `${total} call${total === 1 ? "" : "s"} in ${span}`;
}
