import { describe, expect, it } from "vitest";
import {
  changesOf,
  draftOf,
  envOf,
  envRow,
  envRows,
  fieldError,
  isDirty,
  type VersionConfig,
} from "./configuration";

const VERSION: VersionConfig = {
  function: "fn",
  number: 3,
  state: "ready",
  handler: "main.handler",
  memory_mb: 256,
  timeout_s: 30,
  env: { B: "2", A: "1" },
  max_concurrency: null,
  min_warm: 0,
  keep_alive_s: 60,
  log_level: null,
  secrets: [{ name: "DB_PASSWORD", as: "env" }],
  egress: ["none"],
  code_sha256: "0".repeat(64),
  code_size: 100,
  created_at: "2026-12-01T00:00:00Z",
  error: null,
  deployed_by: "ada",
};

describe("env rows", () => {
  it("lists the environment sorted by name, each row with its own id", () => {
    const rows = envRows({ B: "2", A: "1" });
    expect(rows.map((row) => [row.key, row.value])).toEqual([
      ["A", "1"],
      ["B", "2"],
    ]);
    expect(new Set(rows.map((row) => row.id)).size).toBe(2);
  });

  it("makes the environment back, ignoring empty rows and trimming names", () => {
    const rows = [envRow(" A ", "1"), envRow("", ""), envRow("B", "")];
    expect(envOf(rows)).toEqual({ env: { A: "1", B: "" }, problem: null });
  });

  it("refuses a value without a name, and a name given twice", () => {
    expect(envOf([envRow("", "x")]).problem).toMatch(/needs a name/);
    expect(envOf([envRow("A", "1"), envRow("A", "2")]).problem).toMatch(/A is given twice/);
  });
});

describe("changesOf", () => {
  it("sends nothing for an untouched draft", () => {
    const draft = draftOf(VERSION);
    expect(changesOf(draft, VERSION)).toEqual({ body: {}, problems: {} });
    expect(isDirty(draft, VERSION)).toBe(false);
  });

  it("sends only what changed, the whole env when any of it did", () => {
    const draft = draftOf(VERSION);
    draft.numbers.memory_mb = "512";
    draft.env[0]!.value = "changed";
    draft.env.push(envRow("C", "3"));
    expect(changesOf(draft, VERSION)).toEqual({
      body: { memory_mb: 512, env: { A: "changed", B: "2", C: "3" } },
      problems: {},
    });
    expect(isDirty(draft, VERSION)).toBe(true);
  });

  it("sends a number out of range as it is: the API's own message says why", () => {
    const draft = draftOf(VERSION);
    draft.numbers.memory_mb = "1";
    expect(changesOf(draft, VERSION).body).toEqual({ memory_mb: 1 });
  });

  it("flags what cannot be sent: not a whole number, a set value cleared", () => {
    const draft = draftOf(VERSION);
    draft.numbers.timeout_s = "1.5";
    draft.numbers.keep_alive_s = "";
    draft.numbers.max_concurrency = ""; // it was never set: still no limit
    const { body, problems } = changesOf(draft, VERSION);
    expect(body).toEqual({});
    expect(Object.keys(problems).sort()).toEqual(["keep_alive_s", "timeout_s"]);
  });

  it("sends the secrets list when one is added, removed or mounted otherwise", () => {
    const draft = draftOf(VERSION);
    draft.secrets = [{ name: "DB_PASSWORD", as: "file" }];
    expect(changesOf(draft, VERSION).body).toEqual({
      secrets: [{ name: "DB_PASSWORD", as: "file" }],
    });
    draft.secrets = [];
    expect(changesOf(draft, VERSION).body).toEqual({ secrets: [] });
  });

  it("reads an unset log level as INFO and sends the level only when it changes", () => {
    const draft = draftOf(VERSION);
    expect(draft.logLevel).toBe("INFO");
    expect(isDirty(draft, VERSION)).toBe(false);
    draft.logLevel = "DEBUG";
    expect(changesOf(draft, VERSION).body).toEqual({ log_level: "DEBUG" });
    const leveled = { ...VERSION, log_level: "ERROR" };
    expect(draftOf(leveled).logLevel).toBe("ERROR");
    expect(changesOf(draftOf(leveled), leveled).body).toEqual({});
  });
});

describe("fieldError", () => {
  it("names the field of a limit", () => {
    const error = {
      error: "InvalidLimit",
      detail: { message: "memory_mb must be between 64 and 4096, got 1", field: "memory_mb" },
    };
    expect(fieldError(error, "x")).toEqual({
      field: "memory_mb",
      message: "memory_mb must be between 64 and 4096, got 1",
    });
  });

  it("places environment, secret and handler problems", () => {
    const env = { error: "InvalidInput", detail: { message: "bad name", key: "1X" } };
    const secret = { error: "SecretMissing", detail: { message: "no", secrets: ["X"] } };
    const handler = { error: "HandlerNotFound", detail: { message: "gone", handler: "a.b" } };
    expect(fieldError(env, "x").field).toBe("env");
    expect(fieldError(secret, "x").field).toBe("secrets");
    expect(fieldError(handler, "x").field).toBe("handler");
  });

  it("reads where a 422 says the problem is", () => {
    const error = {
      error: "ValidationError",
      detail: {
        message: "The request does not match",
        problems: [{ field: "body.min_warm", message: "Input should be a valid integer" }],
      },
    };
    expect(fieldError(error, "x")).toEqual({
      field: "min_warm",
      message: "Input should be a valid integer",
    });
  });

  it("leaves anything else to an alert, with the fallback when the answer says nothing", () => {
    expect(fieldError({ error: "QuotaExceeded", detail: { message: "over" } }, "x")).toEqual({
      field: null,
      message: "over",
    });
    expect(fieldError(undefined, "It failed.")).toEqual({ field: null, message: "It failed." });
  });
});
