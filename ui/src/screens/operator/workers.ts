// What the Workers page says about each worker, for people.

export interface Warm {
  namespace: string;
  function: string;
  version: number;
  idle: number;
}

/** Seconds since a heartbeat: "0.4 s ago", "12 s ago", "3 min ago"; "never" without one. */
export function heartbeatAge(ageS: number | null | undefined): string {
  if (ageS === null || ageS === undefined) return "never";
  if (ageS < 10) return `${ageS.toFixed(1)} s ago`;
  if (ageS < 120) return `${Math.round(ageS)} s ago`;
  return `${Math.round(ageS / 60)} min ago`;
}

/** A warm version as "namespace/function:version", with its idle instances if any. */
export function warmLabel(warm: Warm): string {
  const where = warm.namespace ? `${warm.namespace}/${warm.function}` : warm.function;
  return `${where}:${warm.version}${warm.idle ? ` (${warm.idle} idle)` : ""}`;
}

/** Whether a Drain button makes sense: a registered worker not already on its way out. */
export function drainable(mode: string, worker: { draining: boolean; drain_requested: boolean }): boolean {
  return mode === "cluster" && !worker.draining && !worker.drain_requested;
}
