// What the Releases tab decides on its own, kept out of the components so it is tested on
// its own: an alias's routes as text and as a bar, the weights dialog's checks (the same
// rules as domain/aliases.py check_routes, so a mistake is said before the request), the
// start form's steps, interval and threshold as typed, and which two versions a history
// entry's Compare link shows.

export const LATEST = "latest";
export const TOTAL_WEIGHT = 100;
export const MAX_ROUTES = 10;
// domain/releases.py MIN_INTERVAL_S: under it a step sees too little traffic to judge.
export const MIN_INTERVAL_S = 30;
export const MAX_INTERVAL_S = 7 * 24 * 3600;
export const DEFAULT_STEPS = [10, 50, 100];
const ALIAS_NAME = /^[a-z][a-z0-9-]{0,62}$/;

export interface Route {
  version: number;
  weight: number;
}

/** Null when `name` may be an alias, else why not (as the server would say it). */
export function aliasNameProblem(name: string): string | null {
  if (name === LATEST) return "“latest” is built in (the newest ready version) and cannot be an alias.";
  if (!ALIAS_NAME.test(name)) {
    return "An alias name is a lower-case letter, then up to 62 lower-case letters, digits or “-”.";
  }
  return null;
}

/** Newest version first, as the server orders them (its sticky buckets do too). */
export function ordered<T extends Route>(routes: readonly T[]): T[] {
  return [...routes].sort((a, b) => b.version - a.version);
}

/** `v3` or `v5 10%, v4 90%`: the same words as the server's history notes. */
export function routesText(routes: readonly Route[]): string {
  if (routes.length === 0) return "nothing";
  const [only] = routes;
  if (routes.length === 1 && only) return `v${only.version}`;
  return ordered(routes)
    .map((route) => `v${route.version} ${route.weight}%`)
    .join(", ");
}

/** The version that takes most of the traffic (ties: the newer), or null for none. */
export function mainVersion(routes: readonly Route[]): number | null {
  let best: Route | null = null;
  for (const route of routes) {
    if (best === null || route.weight > best.weight || (route.weight === best.weight && route.version > best.version)) {
      best = route;
    }
  }
  return best?.version ?? null;
}

/** One row of the weights dialog as typed: either field may be empty. */
export interface WeightRow {
  version: number | null;
  weight: number | null;
}

/** Null when the rows make a valid alias, else what is wrong with them. `ready`: the
 *  versions an alias may name (the server refuses the others with AliasVersionNotReady). */
export function weightsProblem(rows: readonly WeightRow[], ready: ReadonlySet<number>): string | null {
  if (rows.length === 0) return "An alias needs at least one version.";
  if (rows.length > MAX_ROUTES) return `An alias splits between at most ${MAX_ROUTES} versions.`;
  const seen = new Set<number>();
  for (const row of rows) {
    if (row.version === null) return "Choose a version for every row.";
    if (!ready.has(row.version)) return `Version ${row.version} is not ready.`;
    if (seen.has(row.version)) return `Version ${row.version} is named twice.`;
    seen.add(row.version);
    if (row.weight === null || !Number.isInteger(row.weight) || row.weight < 1 || row.weight > TOTAL_WEIGHT) {
      return `The weight of version ${row.version} must be a whole percent from 1 to ${TOTAL_WEIGHT}.`;
    }
  }
  const total = weightTotal(rows);
  if (total !== TOTAL_WEIGHT) return `The weights sum to ${total}; they must sum to ${TOTAL_WEIGHT}.`;
  return null;
}

export function weightTotal(rows: readonly WeightRow[]): number {
  return rows.reduce((sum, row) => sum + (row.weight ?? 0), 0);
}

/** The rows as the request's routes; only called once weightsProblem said null. */
export function routesOf(rows: readonly WeightRow[]): Route[] {
  return rows.map((row) => ({ version: row.version ?? 0, weight: row.weight ?? 0 }));
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; problem: string };

/** "10, 50, 100": whole percents, increasing, ending at 100 (domain/releases.py check_plan). */
export function parseSteps(text: string): Parsed<number[]> {
  const parts = text
    .split(",")
    .map((part) => part.trim().replace(/%$/, ""))
    .filter((part) => part !== "");
  if (parts.length === 0) return { ok: false, problem: "Name at least one step, the last being 100." };
  const steps: number[] = [];
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part) || Number(part) < 1 || Number(part) > TOTAL_WEIGHT) {
      return { ok: false, problem: `“${part}” is not a whole percent from 1 to 100.` };
    }
    const step = Number(part);
    const last = steps[steps.length - 1];
    if (last !== undefined && step <= last) {
      return { ok: false, problem: "Each step must put more traffic on the new version than the one before." };
    }
    steps.push(step);
  }
  if (steps[steps.length - 1] !== TOTAL_WEIGHT) return { ok: false, problem: "The last step must be 100." };
  return { ok: true, value: steps };
}

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/** "5m", "90s", "1h" or plain seconds: the time each step runs before it is judged. */
export function parseInterval(text: string): Parsed<number> {
  const match = /^\s*(\d{1,7})\s*([smhd]?)\s*$/i.exec(text);
  if (!match) return { ok: false, problem: "Write the interval as seconds or with a unit: 90s, 5m, 1h." };
  const seconds = Number(match[1]) * (UNIT_SECONDS[(match[2] || "s").toLowerCase()] ?? 1);
  if (seconds < MIN_INTERVAL_S) {
    return { ok: false, problem: `The interval must be at least ${MIN_INTERVAL_S} s to see enough traffic.` };
  }
  if (seconds > MAX_INTERVAL_S) return { ok: false, problem: "The interval must be at most 7 days." };
  return { ok: true, value: seconds };
}

/** "2%" or "2.5": percentage points the new version's error rate may be worse by. */
export function parsePercent(text: string): Parsed<number> {
  const match = /^\s*(\d{1,3}(?:\.\d{1,3})?)\s*%?\s*$/.exec(text);
  const value = match ? Number(match[1]) : NaN;
  if (!match || value > 100) return { ok: false, problem: "Write the error rate as a percent from 0 to 100, like 2%." };
  return { ok: true, value };
}

/** "90 s", "5 min", "1 h 30 min". */
export function formatInterval(seconds: number): string {
  if (seconds < 60 || seconds % 60 !== 0) return `${seconds} s`;
  const minutes = seconds / 60;
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  const rest = minutes % 60;
  return rest === 0 ? `${hours} h` : `${hours} h ${rest} min`;
}

export const ACTIVE_STATES = new Set(["running", "paused"]);

/** What a person may do to a release in `state` (domain/releases.py RELEASE_MOVES). */
export function releaseActions(state: string): ("pause" | "resume" | "promote" | "abort")[] {
  if (state === "running") return ["pause", "promote", "abort"];
  if (state === "paused") return ["resume", "promote", "abort"];
  return [];
}

export const ACTION_LABELS = { pause: "Pause", resume: "Resume", promote: "Promote", abort: "Abort" } as const;

export const STATE_LABELS: Record<string, string> = {
  running: "running",
  paused: "paused",
  succeeded: "succeeded",
  promoted: "promoted",
  rolled_back: "rolled back by itself",
  aborted: "aborted",
};

export const REASON_LABELS: Record<string, string> = {
  set: "set",
  deploy: "deploy",
  rollback: "rollback",
  release: "release step",
  "auto-rollback": "automatic rollback",
  promote: "promoted",
  abort: "release aborted",
  delete: "deleted",
};

/** Which versions a history entry's Compare link opens in the Versions tab: the version the
 *  alias mostly served after the move, against the one it mostly served before. Null when
 *  there is nothing to compare (the alias was made or deleted, or stayed on one version). */
export function comparison(before: readonly Route[], after: readonly Route[]): { version: number; against: number } | null {
  const version = mainVersion(after);
  const against = mainVersion(before);
  if (version === null || against === null || version === against) return null;
  return { version, against };
}

// The fields of the API's answers (AliasOut, HistoryEntry, ReleaseOut) that the tab shows:
// written out here so its parts take what any of those answers carries.
export interface AliasView {
  name: string;
  builtin: boolean;
  routes: Route[];
  updated_at: string;
  updated_by: string;
  release_id: string | null;
}

export interface HistoryView {
  id: string;
  alias: string;
  before: Route[];
  after: Route[];
  actor: string;
  at: string;
  reason: string;
  release_id: string | null;
  note: string | null;
}

export interface HealthView {
  calls: number;
  errors: number;
  error_rate: number;
  p99_ms: number | null;
}

export interface JudgementView {
  step: number;
  weight: number;
  at: string;
  verdict: string;
  new: HealthView;
  old: HealthView;
}

export interface ReleaseView {
  id: string;
  alias: string;
  from_version: number;
  to_version: number;
  steps: number[];
  interval_s: number;
  max_error_rate: number;
  max_p99_ratio: number | null;
  min_calls: number;
  state: string;
  step: number;
  weight: number;
  next_check_at: string | null;
  reason: string | null;
  created_by: string;
  created_at: string;
  finished_at: string | null;
  judged: JudgementView[];
}

/** "step 2 of 3 (50% on v5)". */
export function progressText(release: ReleaseView): string {
  return `step ${release.step + 1} of ${release.steps.length} (${release.weight}% on v${release.to_version})`;
}

/** The health of one side of a verdict: "3 errors in 120 calls (2.5%), p99 41 ms". */
export function healthText(health: HealthView): string {
  const p99 = health.p99_ms === null ? "" : `, p99 ${Math.round(health.p99_ms)} ms`;
  return `${health.errors} error${health.errors === 1 ? "" : "s"} in ${health.calls} call${health.calls === 1 ? "" : "s"} (${health.error_rate.toFixed(1)}%)${p99}`;
}

/** The body of `POST /functions/{name}/releases` (ReleaseIn). */
export interface ReleaseRequest {
  alias: string;
  version: number;
  steps: number[];
  interval_s: number;
  max_error_rate: number;
  max_p99_ratio: number | null;
  min_calls: number;
}
