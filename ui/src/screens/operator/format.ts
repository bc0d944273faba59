// Numbers of the operator's pages, for people.

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB"];

/** 1536 → "1.5 KiB"; whole bytes below a KiB. */
export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  const digits = unit === 0 || value >= 100 ? 0 : 1;
  return `${value.toFixed(digits)} ${UNITS[unit]}`;
}

/** The share of `max` that `used` is, as a whole percentage; 0 when there is no max. */
export function percent(used: number, max: number): number {
  if (max <= 0) return 0;
  return Math.round((used / max) * 100);
}

/** A time of day, in the browser's locale: "14:05:09". */
export function timeOfDay(date: Date): string {
  return date.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

/** An ISO date and time in the browser's locale, to the minute. */
export function dateTime(iso: string): string {
  return new Date(iso).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}
