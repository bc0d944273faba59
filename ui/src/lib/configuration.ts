// The Configuration tab's form, apart from its markup: a draft of a version's settings as
// the inputs hold them (text), what a Save sends (only what changed: the API keeps every
// field left out), and which field an error answer is about.
import type { Schemas } from "./api/client";
import type { paths } from "./api/schema";

export type VersionConfig = Schemas["VersionOut"];
export type UpdateBody = NonNullable<
  paths["/api/v1/functions/{name}"]["put"]["requestBody"]
>["content"]["application/json"];
export type Mount = "env" | "file";

export interface EnvRow {
  /** Stable across edits, for keyed rows: the key itself changes as people type. */
  id: number;
  key: string;
  value: string;
}

export interface SecretChoice {
  name: string;
  as: Mount;
}

export const NUMBER_FIELDS = [
  "memory_mb",
  "timeout_s",
  "max_concurrency",
  "min_warm",
  "keep_alive_s",
] as const;
export type NumberField = (typeof NUMBER_FIELDS)[number];
export type Field = NumberField | "handler" | "log_level" | "env" | "secrets";
export const FIELDS: readonly Field[] = ["handler", ...NUMBER_FIELDS, "log_level", "env", "secrets"];

/** The levels of a function's root logger (Lambda's log level, in Python's names). */
export const LOG_LEVELS = ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
/** What an instance uses when the version sets no level. */
export const DEFAULT_LOG_LEVEL: LogLevel = "INFO";

/** The level a version's instances log at: its own, or the default. */
export function logLevelOf(version: VersionConfig): LogLevel {
  return LOG_LEVELS.find((level) => level === version.log_level) ?? DEFAULT_LOG_LEVEL;
}

export interface Draft {
  /** The version the draft started from. */
  base: number;
  handler: string;
  numbers: Record<NumberField, string>;
  logLevel: LogLevel;
  env: EnvRow[];
  secrets: SecretChoice[];
}

let nextRowId = 1;

export function envRow(key = "", value = ""): EnvRow {
  return { id: nextRowId++, key, value };
}

/** The environment as rows, sorted by name so that a draft reads the same each time. */
export function envRows(env: Record<string, string>): EnvRow[] {
  return Object.keys(env)
    .sort()
    .map((key) => envRow(key, env[key]));
}

/** The environment the rows make; a row with neither name nor value is ignored. */
export function envOf(rows: readonly EnvRow[]): { env: Record<string, string>; problem: string | null } {
  const env: Record<string, string> = {};
  for (const row of rows) {
    const key = row.key.trim();
    if (key === "" && row.value === "") continue;
    if (key === "") return { env, problem: "A variable with a value needs a name." };
    if (key in env) return { env, problem: `The variable ${key} is given twice.` };
    env[key] = row.value;
  }
  return { env, problem: null };
}

export function draftOf(version: VersionConfig): Draft {
  const text = (value: number | null) => (value === null ? "" : String(value));
  return {
    base: version.number,
    handler: version.handler,
    numbers: {
      memory_mb: text(version.memory_mb),
      timeout_s: text(version.timeout_s),
      max_concurrency: text(version.max_concurrency),
      min_warm: text(version.min_warm),
      keep_alive_s: text(version.keep_alive_s),
    },
    logLevel: logLevelOf(version),
    env: envRows(version.env),
    secrets: version.secrets.map((use) => ({ name: use.name, as: use.as ?? "env" })),
  };
}

export interface Changes {
  body: UpdateBody;
  /** What is wrong before anything is sent, by field. */
  problems: Partial<Record<Field, string>>;
}

/** What a Save sends for `draft` over `version`: the fields that differ, and nothing of a
 *  field that cannot be sent as it is (with the reason in `problems`). */
export function changesOf(draft: Draft, version: VersionConfig): Changes {
  const body: UpdateBody = {};
  const problems: Partial<Record<Field, string>> = {};
  const handler = draft.handler.trim();
  if (handler !== version.handler) body.handler = handler;
  for (const field of NUMBER_FIELDS) {
    const text = draft.numbers[field].trim();
    const before = version[field];
    if (text === "") {
      // The API reads a missing (or null) field as "keep the current value".
      if (before !== null) problems[field] = "Give a number: a value once set cannot be cleared.";
      continue;
    }
    if (!/^-?\d+$/.test(text)) {
      problems[field] = "Give a whole number.";
      continue;
    }
    const value = Number(text);
    if (value !== before) body[field] = value;
  }
  if (draft.logLevel !== logLevelOf(version)) body.log_level = draft.logLevel;
  const { env, problem } = envOf(draft.env);
  if (problem) problems.env = problem;
  else if (!sameEnv(env, version.env)) body.env = env;
  const secrets = draft.secrets.map((use) => ({ name: use.name, as: use.as }));
  if (!sameSecrets(secrets, version.secrets)) body.secrets = secrets;
  return { body, problems };
}

/** Whether the draft holds edits not saved yet. */
export function isDirty(draft: Draft, version: VersionConfig): boolean {
  const { body, problems } = changesOf(draft, version);
  return Object.keys(body).length > 0 || Object.keys(problems).length > 0;
}

function sameEnv(a: Record<string, string>, b: Record<string, string>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((key) => b[key] === a[key]);
}

function sameSecrets(a: readonly SecretChoice[], b: VersionConfig["secrets"]): boolean {
  const key = (uses: readonly { name: string; as?: string }[]) =>
    uses
      .map((use) => `${use.name}:${use.as ?? "env"}`)
      .sort()
      .join(",");
  return key(a) === key(b);
}

export interface FieldError {
  /** The form field the error is about, or null when it names none of them. */
  field: Field | null;
  message: string;
}

/** Which field an error answer of a Save is about: a limit names it (`detail.field`), an
 *  environment problem names its key, a missing secret its names, and a 422 lists where
 *  (`body.memory_mb`). */
export function fieldError(error: unknown, fallback: string): FieldError {
  const answer = (typeof error === "object" && error !== null ? error : {}) as {
    error?: unknown;
    detail?: unknown;
  };
  const detail = (typeof answer.detail === "object" && answer.detail !== null
    ? answer.detail
    : {}) as Record<string, unknown>;
  const message = typeof detail.message === "string" && detail.message ? detail.message : fallback;
  if (answer.error === "ValidationError" && Array.isArray(detail.problems)) {
    const first = detail.problems[0] as { field?: unknown; message?: unknown } | undefined;
    const where = typeof first?.field === "string" ? first.field.split(".") : [];
    const field = where[0] === "body" ? known(where[1]) : null;
    const said = typeof first?.message === "string" ? `${first.message}` : message;
    return { field, message: field ? said : message };
  }
  if (typeof detail.field === "string") return { field: known(detail.field), message };
  if (typeof detail.handler === "string") return { field: "handler", message };
  if ("secrets" in detail || "secret" in detail || "names" in detail) return { field: "secrets", message };
  if ("key" in detail || "keys" in detail) return { field: "env", message };
  return { field: null, message };
}

function known(name: string | undefined): Field | null {
  return FIELDS.find((field) => field === name) ?? null;
}

/** How both tabs name each setting. */
export const FIELD_LABELS: Record<Field, string> = {
  handler: "Handler",
  memory_mb: "Memory (MB)",
  timeout_s: "Timeout (seconds)",
  max_concurrency: "Max concurrency",
  min_warm: "Min warm instances",
  keep_alive_s: "Keep-alive (seconds)",
  log_level: "Log level",
  env: "Environment variables",
  secrets: "Secrets",
};

export function labelOf(field: string): string {
  return FIELD_LABELS[field as Field] ?? field;
}

/** A setting's value for people: "none" where nothing is set (no limit, the default). */
export function shownValue(value: unknown): string {
  if (value === null || value === undefined) return "none";
  return typeof value === "string" ? value : JSON.stringify(value);
}
