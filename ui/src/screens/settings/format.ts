// What the settings sections show as text: quota use, audit details, key facts, and which
// roles a caller may hand out. Pure functions, tested on their own (format.test.ts).
import { ROLES, type Role } from "../../lib/roles";

export interface QuotaUse {
  limit: number | null;
  used: number;
  unit: string;
  default: boolean;
}

/** The quotas in the order people read them, with their names for people. */
export const QUOTA_LABELS: Record<string, string> = {
  functions: "Functions",
  memory_mb: "Memory of live instances",
  concurrency: "Concurrent calls",
  rate_per_minute: "Calls per minute",
  code_mb: "Code, zipped",
  env_kb: "Environment variables",
};

export function quotaLabel(name: string): string {
  return QUOTA_LABELS[name] ?? name.replaceAll("_", " ");
}

/** A limit field's label: its name, and its unit unless the name already says it
 *  ("Functions", not "Functions (functions)"). */
export function limitLabel(name: string, unit: string): string {
  const label = quotaLabel(name);
  return label.toLowerCase() === unit.toLowerCase() ? label : `${label} (${unit})`;
}

/** Known quotas first, in QUOTA_LABELS' order; any the server adds later after them. */
export function orderQuotas<T>(quotas: Record<string, T>): [string, T][] {
  const known = Object.keys(QUOTA_LABELS);
  const rank = (name: string) => {
    const at = known.indexOf(name);
    return at < 0 ? known.length : at;
  };
  return Object.entries(quotas).sort(
    ([a], [b]) => rank(a) - rank(b) || a.localeCompare(b),
  );
}

/** A number for people: whole numbers as they are, fractions to two places at most. */
export function amount(value: number): string {
  if (Number.isInteger(value)) return value.toLocaleString("en");
  return value.toLocaleString("en", { maximumFractionDigits: 2 });
}

/** "3 of 50 functions", "0.42 of 100 MB", "12 calls at once (no limit)". A unit that is
 *  the quota's own noun ("functions") reads the same way. */
export function quotaUseText(use: QuotaUse): string {
  const used = amount(use.used);
  if (use.limit === null) return `${used} ${use.unit} (no limit)`;
  return `${used} of ${amount(use.limit)} ${use.unit}`;
}

/** The share of the limit in use, 0 to 1 (more when over it); null without a limit. A
 *  limit of 0 with nothing used is empty; with anything used, full. */
export function quotaFraction(use: QuotaUse): number | null {
  if (use.limit === null) return null;
  if (use.limit === 0) return use.used > 0 ? 1 : 0;
  return use.used / use.limit;
}

/** An audit event's detail as compact `key=value` text, keys sorted, nested values as
 *  JSON: `name=API_TOKEN version=2`. Empty for no detail. */
export function detailText(detail: Record<string, unknown> | null | undefined): string {
  if (!detail) return "";
  return Object.keys(detail)
    .sort()
    .map((key) => `${key}=${detailValue(detail[key])}`)
    .join(" ");
}

function detailValue(value: unknown): string {
  if (value === null || value === undefined) return "null";
  if (typeof value === "string") return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return JSON.stringify(value);
}

/** The roles a caller with `own` may give a member: up to their own, never `admin` (a key
 *  role only: the platform admin is a user's flag, not a membership). */
export function memberRoles(own: string | null): Role[] {
  return grantable(own).filter((role) => role !== "admin");
}

/** The roles a caller with `own` may give a new key: up to their own. */
export function keyRoles(own: string | null): Role[] {
  return grantable(own);
}

function grantable(own: string | null): Role[] {
  const rank = ROLES.indexOf(own as Role);
  return rank < 0 ? [] : ROLES.slice(0, rank + 1).reverse();
}

/** A comma- or space-separated list of function names, trimmed, without repeats; null
 *  (every function) when empty. */
export function parseFunctions(text: string): string[] | null {
  const names = [...new Set(text.split(/[\s,]+/).filter((name) => name !== ""))];
  return names.length > 0 ? names : null;
}

/** A moment for people, in UTC so that every reader of a log sees the same text:
 *  `2026-12-01 16:25 UTC`. */
export function moment(iso: string | null | undefined, never = "never"): string {
  if (!iso) return never;
  const at = new Date(iso);
  if (Number.isNaN(at.getTime())) return iso;
  return `${at.toISOString().slice(0, 16).replace("T", " ")} UTC`;
}

/** Whether a key still works at `now`: not revoked and not past its expiry. */
export function keyStatus(
  key: { revoked_at: string | null; expires_at: string | null },
  now: Date = new Date(),
): "active" | "revoked" | "expired" {
  if (key.revoked_at) return "revoked";
  if (key.expires_at && new Date(key.expires_at).getTime() <= now.getTime()) return "expired";
  return "active";
}

/** A `<input type="datetime-local">` value (local time, no zone) as the RFC 3339 moment with
 *  a zone that the audit API wants; "" stays "". */
export function localToRfc3339(local: string): string {
  if (!local) return "";
  const at = new Date(local);
  return Number.isNaN(at.getTime()) ? "" : at.toISOString();
}

/** The other way, for showing a moment from the URL in a datetime-local input. */
export function rfc3339ToLocal(iso: string): string {
  if (!iso) return "";
  const at = new Date(iso);
  if (Number.isNaN(at.getTime())) return "";
  const pad = (n: number) => String(n).padStart(2, "0");
  return (
    `${at.getFullYear()}-${pad(at.getMonth() + 1)}-${pad(at.getDate())}` +
    `T${pad(at.getHours())}:${pad(at.getMinutes())}`
  );
}
