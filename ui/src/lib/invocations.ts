// What the Test tab, the Invocations tab and an invocation's page share: checking an event
// before it is sent, the history's filters as URL query parameters, and where a call's
// time went.

// ---------------------------------------------------------------------------------------
// Checking an event. JSON.parse says only that text is not JSON, and where only in some
// engines' wording; this small scanner says where (line and column) in every browser, and
// also refuses what the server refuses beyond plain JSON (domain/json_values.py): numbers
// past a double's range, lone surrogates, more than 128 levels of nesting.

export const MAX_JSON_DEPTH = 128;

export interface JsonProblem {
  message: string;
  /** 0-based offset into the text */
  offset: number;
  /** 1-based */
  line: number;
  column: number;
}

class Refused extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
  }
}

const WHITESPACE = new Set([" ", "\t", "\n", "\r"]);
const ESCAPES = new Set(['"', "\\", "/", "b", "f", "n", "r", "t"]);
const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;

class Scanner {
  at = 0;
  constructor(readonly text: string) {}

  fail(message: string, offset = this.at): never {
    throw new Refused(message, offset);
  }

  skipSpace(): void {
    while (this.at < this.text.length && WHITESPACE.has(this.text[this.at] ?? "")) this.at++;
  }

  found(): string {
    if (this.at >= this.text.length) return "the end of the text";
    return `“${this.text[this.at]}”`;
  }

  value(depth: number): void {
    this.skipSpace();
    const char = this.text[this.at];
    if (char === "{" || char === "[") {
      if (depth >= MAX_JSON_DEPTH) this.fail(`nested more than ${MAX_JSON_DEPTH} levels deep`);
      if (char === "{") this.object(depth + 1);
      else this.array(depth + 1);
    } else if (char === '"') this.string();
    else if (char === "-" || (char !== undefined && char >= "0" && char <= "9")) this.number();
    else if (!this.word("true") && !this.word("false") && !this.word("null")) {
      this.fail(`expected a value, found ${this.found()}`);
    }
  }

  word(word: string): boolean {
    if (!this.text.startsWith(word, this.at)) return false;
    this.at += word.length;
    return true;
  }

  object(depth: number): void {
    this.at++; // {
    this.skipSpace();
    if (this.text[this.at] === "}") {
      this.at++;
      return;
    }
    for (;;) {
      this.skipSpace();
      if (this.text[this.at] !== '"') this.fail(`expected a key in double quotes, found ${this.found()}`);
      this.string();
      this.skipSpace();
      if (this.text[this.at] !== ":") this.fail(`expected “:” after the key, found ${this.found()}`);
      this.at++;
      this.value(depth);
      this.skipSpace();
      const next = this.text[this.at];
      this.at++;
      if (next === "}") return;
      if (next !== ",") this.fail(`expected “,” or “}”, found ${this.found0(next)}`, this.at - 1);
    }
  }

  array(depth: number): void {
    this.at++; // [
    this.skipSpace();
    if (this.text[this.at] === "]") {
      this.at++;
      return;
    }
    for (;;) {
      this.value(depth);
      this.skipSpace();
      const next = this.text[this.at];
      this.at++;
      if (next === "]") return;
      if (next !== ",") this.fail(`expected “,” or “]”, found ${this.found0(next)}`, this.at - 1);
    }
  }

  found0(char: string | undefined): string {
    return char === undefined ? "the end of the text" : `“${char}”`;
  }

  string(): void {
    const start = this.at;
    this.at++; // "
    for (;;) {
      if (this.at >= this.text.length) this.fail("a string is not closed", start);
      const code = this.text.charCodeAt(this.at);
      const char = this.text[this.at];
      if (char === '"') {
        this.at++;
        return;
      }
      if (code < 0x20) this.fail("a control character (a line break, say) inside a string; write it as \\n");
      if (char === "\\") {
        const escaped = this.text[this.at + 1];
        if (escaped === "u") this.unicodeEscape();
        else if (escaped !== undefined && ESCAPES.has(escaped)) this.at += 2;
        else this.fail(`“\\${escaped ?? ""}” is not an escape JSON knows`);
      } else if (code >= 0xd800 && code <= 0xdbff) {
        const low = this.text.charCodeAt(this.at + 1);
        if (!(low >= 0xdc00 && low <= 0xdfff)) this.fail("a lone UTF-16 surrogate, which is not Unicode");
        this.at += 2;
      } else if (code >= 0xdc00 && code <= 0xdfff) {
        this.fail("a lone UTF-16 surrogate, which is not Unicode");
      } else this.at++;
    }
  }

  unicodeEscape(): void {
    const code = this.hex4(this.at + 2);
    if (code >= 0xd800 && code <= 0xdbff) {
      const low = this.text.startsWith("\\u", this.at + 6) ? this.hex4(this.at + 8) : -1;
      if (!(low >= 0xdc00 && low <= 0xdfff)) this.fail("a lone UTF-16 surrogate (\\ud800-\\udfff), which is not Unicode");
      this.at += 12;
    } else if (code >= 0xdc00 && code <= 0xdfff) {
      this.fail("a lone UTF-16 surrogate (\\ud800-\\udfff), which is not Unicode");
    } else this.at += 6;
  }

  hex4(from: number): number {
    const digits = this.text.slice(from, from + 4);
    if (!/^[0-9a-fA-F]{4}$/.test(digits)) this.fail("\\u needs four hexadecimal digits");
    return parseInt(digits, 16);
  }

  number(): void {
    NUMBER.lastIndex = this.at;
    const found = NUMBER.exec(this.text);
    if (found === null) this.fail(`expected a number, found ${this.found()}`);
    if (!Number.isFinite(Number(found[0]))) this.fail(`the number ${found[0].slice(0, 40)} is out of a double's range`);
    this.at += found[0].length;
  }
}

function position(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset);
  const line = before.split("\n").length;
  return { line, column: offset - before.lastIndexOf("\n") };
}

/** Why `text` is not an event the server accepts, and where; null when it is. Empty text
 *  is an event too: the server takes an empty body as `null`. */
export function jsonProblem(text: string): JsonProblem | null {
  if (text.trim() === "") return null;
  const scanner = new Scanner(text);
  try {
    scanner.value(0);
    scanner.skipSpace();
    if (scanner.at < text.length) scanner.fail(`unexpected ${scanner.found()} after the value`);
    return null;
  } catch (error) {
    if (!(error instanceof Refused)) throw error;
    return { message: error.message, offset: error.offset, ...position(text, error.offset) };
  }
}

export function describeProblem(problem: JsonProblem): string {
  return `Not valid JSON at line ${problem.line}, column ${problem.column}: ${problem.message}.`;
}

/** JSON text indented for reading; text that is not JSON (an event cut at its bound, say)
 *  as it is. */
export function prettyJson(text: string): string {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

export function prettyValue(value: unknown): string {
  return value === undefined ? "null" : JSON.stringify(value, null, 2);
}

// ---------------------------------------------------------------------------------------
// The Invocations tab's filters, kept in the URL's query (so a link or a reload keeps
// them). Times are ISO 8601 in UTC there, whatever the reader's zone.

export const STATES = [
  "queued",
  "running",
  "succeeded",
  "failed",
  "timed_out",
  "out_of_memory",
  "cancelled",
  "dead",
] as const;
export type InvocationStateName = (typeof STATES)[number];

export interface Filters {
  state: InvocationStateName | null;
  version: number | null;
  /** The alias the caller named (`latest` when it named none). */
  alias: string | null;
  /** true: cold starts only; false: warm only */
  cold: boolean | null;
  since: string | null;
  until: string | null;
}

export const NO_FILTERS: Filters = { state: null, version: null, alias: null, cold: null, since: null, until: null };
// domain/aliases.py ALIAS_NAME, and `latest`.
const ALIAS = /^[a-z][a-z0-9-]{0,62}$/;

function isoOrNull(value: string | null): string | null {
  if (!value) return null;
  const time = new Date(value);
  return Number.isNaN(time.getTime()) ? null : time.toISOString();
}

/** The filters a URL asks for; values that make no sense are dropped, not sent. */
export function filtersFromQuery(query: URLSearchParams): Filters {
  const state = query.get("state");
  const version = query.get("version");
  const cold = query.get("cold");
  const alias = query.get("alias");
  return {
    state: STATES.includes(state as InvocationStateName) ? (state as InvocationStateName) : null,
    version: version && /^[1-9][0-9]{0,9}$/.test(version) ? Number(version) : null,
    alias: alias && ALIAS.test(alias) ? alias : null,
    cold: cold === "true" ? true : cold === "false" ? false : null,
    since: isoOrNull(query.get("since")),
    until: isoOrNull(query.get("until")),
  };
}

/** The query parameters for router.setQuery(): every filter, null removing one. */
export function filtersToQuery(filters: Filters): Record<string, string | null> {
  return {
    state: filters.state,
    version: filters.version === null ? null : String(filters.version),
    alias: filters.alias,
    cold: filters.cold === null ? null : String(filters.cold),
    since: filters.since,
    until: filters.until,
  };
}

export interface ListQuery {
  function: string;
  limit: number;
  cursor?: string;
  state?: InvocationStateName;
  version?: number;
  alias?: string;
  cold_start?: boolean;
  since?: string;
  until?: string;
}

/** The query of `GET /api/v1/invocations` for a function's page of history. */
export function listQuery(name: string, filters: Filters, limit: number, cursor: string | null): ListQuery {
  const query: ListQuery = { function: name, limit };
  if (cursor) query.cursor = cursor;
  if (filters.state) query.state = filters.state;
  if (filters.version !== null) query.version = filters.version;
  if (filters.alias !== null) query.alias = filters.alias;
  if (filters.cold !== null) query.cold_start = filters.cold;
  if (filters.since) query.since = filters.since;
  if (filters.until) query.until = filters.until;
  return query;
}

export function anyFilter(filters: Filters): boolean {
  return Object.values(filters).some((value) => value !== null);
}

/** An ISO time as the value of an <input type="datetime-local"> (the reader's zone). */
export function toLocalInput(iso: string | null): string {
  if (!iso) return "";
  const time = new Date(iso);
  if (Number.isNaN(time.getTime())) return "";
  const pad = (n: number) => String(n).padStart(2, "0");
  return (
    `${time.getFullYear()}-${pad(time.getMonth() + 1)}-${pad(time.getDate())}` +
    `T${pad(time.getHours())}:${pad(time.getMinutes())}`
  );
}

/** An <input type="datetime-local"> value (the reader's zone) as ISO in UTC. */
export function fromLocalInput(value: string): string | null {
  return value ? isoOrNull(value) : null;
}

// ---------------------------------------------------------------------------------------
// Where a call's time went (the record's `timings`): queue, start (the sandbox, without
// the imports), imports, handler. start_ms includes init_ms (worker/interface.py).

export interface Segment {
  key: "queue" | "start" | "imports" | "handler";
  label: string;
  ms: number;
  /** its part of the sum of the four, 0..1 */
  share: number;
}

export function timingSegments(timings: Record<string, number>): Segment[] {
  const get = (key: string) => Math.max(0, timings[key] ?? 0);
  const imports = get("init_ms");
  const parts: Omit<Segment, "share">[] = [
    { key: "queue", label: "Queue", ms: get("queue_ms") },
    { key: "start", label: "Start", ms: Math.max(0, get("start_ms") - imports) },
    { key: "imports", label: "Imports", ms: imports },
    { key: "handler", label: "Handler", ms: get("handler_ms") },
  ];
  const sum = parts.reduce((total, part) => total + part.ms, 0);
  return parts.map((part) => ({ ...part, share: sum > 0 ? part.ms / sum : 0 }));
}

export function formatMs(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return "–";
  if (ms >= 1000) return `${(ms / 1000).toFixed(2)} s`;
  if (ms >= 10) return `${ms.toFixed(0)} ms`;
  return `${ms.toFixed(1)} ms`;
}

export function formatTime(iso: string | null | undefined): string {
  if (!iso) return "–";
  const time = new Date(iso);
  return Number.isNaN(time.getTime()) ? iso : time.toLocaleString();
}
