import { describe, expect, it } from "vitest";
import {
  describeProblem,
  filtersFromQuery,
  filtersToQuery,
  jsonProblem,
  listQuery,
  NO_FILTERS,
  timingSegments,
} from "./invocations";

describe("checking an event", () => {
  it("accepts JSON, and empty text (the server takes it as null)", () => {
    for (const text of ['{"a": [1, 2.5e3, true, null, "\\u00e9 é"]}', "  42 ", '"x"', "", "  \n"]) {
      expect(jsonProblem(text), text).toBeNull();
    }
  });

  it("says where the text stops being JSON", () => {
    const problem = jsonProblem('{\n  "name": "Ada",\n  "age": ,\n}');
    expect(problem).toMatchObject({ line: 3, column: 10, offset: 28 });
    expect(describeProblem(problem!)).toBe(
      "Not valid JSON at line 3, column 10: expected a value, found “,”.",
    );
  });

  it("names the usual slips", () => {
    expect(jsonProblem("{'a': 1}")?.message).toBe("expected a key in double quotes, found “'”");
    expect(jsonProblem('{"a": 1,}')?.message).toBe("expected a key in double quotes, found “}”");
    expect(jsonProblem('{"a": 1')?.message).toBe("expected “,” or “}”, found the end of the text");
    expect(jsonProblem('"open')?.message).toBe("a string is not closed");
    expect(jsonProblem("[1] 2")?.message).toBe("unexpected “2” after the value");
    expect(jsonProblem("NaN")?.message).toBe("expected a value, found “N”");
  });

  it("refuses what the server refuses beyond plain JSON", () => {
    expect(jsonProblem("1e400")?.message).toContain("out of a double's range");
    expect(jsonProblem('"\\ud800"')?.message).toContain("lone UTF-16 surrogate");
    expect(jsonProblem('"\\ud83d\\ude00"')).toBeNull(); // a pair is one character
    expect(jsonProblem("[".repeat(129) + "]".repeat(129))?.message).toContain("128 levels");
    expect(jsonProblem("[".repeat(128) + "]".repeat(128))).toBeNull();
  });
});

describe("the filters in the URL", () => {
  it("round-trip through the query string", () => {
    const filters = {
      state: "failed" as const,
      version: 3,
      alias: "prod",
      cold: true,
      since: "2026-12-01T10:00:00.000Z",
      until: "2026-12-01T11:30:00.000Z",
    };
    const query = new URLSearchParams();
    for (const [key, value] of Object.entries(filtersToQuery(filters))) if (value) query.set(key, value);

    expect(query.toString()).toBe(
      "state=failed&version=3&alias=prod&cold=true&since=2026-12-01T10%3A00%3A00.000Z&until=2026-12-01T11%3A30%3A00.000Z",
    );
    expect(filtersFromQuery(query)).toEqual(filters);
  });

  it("drop what makes no sense instead of sending it", () => {
    const query = new URLSearchParams("state=exploded&version=0&alias=Prod!&cold=maybe&since=yesterday&until=");
    expect(filtersFromQuery(query)).toEqual(NO_FILTERS);
    expect(filtersFromQuery(new URLSearchParams("version=12x"))).toEqual(NO_FILTERS);
  });

  it("clearing one removes it from the URL", () => {
    expect(filtersToQuery(NO_FILTERS)).toEqual({
      state: null,
      version: null,
      alias: null,
      cold: null,
      since: null,
      until: null,
    });
    expect(filtersToQuery({ ...NO_FILTERS, cold: false }).cold).toBe("false");
  });

  it("make the API's query, with the cursor", () => {
    const filters = { ...NO_FILTERS, version: 2, alias: "prod", cold: false };
    expect(listQuery("fn", filters, 50, "01CURSOR")).toEqual({
      function: "fn",
      limit: 50,
      cursor: "01CURSOR",
      version: 2,
      alias: "prod",
      cold_start: false,
    });
    expect(listQuery("fn", NO_FILTERS, 50, null)).toEqual({ function: "fn", limit: 50 });
  });
});

describe("where the time went", () => {
  it("splits start into the sandbox and the imports, in proportion", () => {
    const segments = timingSegments({ queue_ms: 10, start_ms: 50, init_ms: 20, handler_ms: 40, total_ms: 101 });
    expect(segments.map((s) => [s.key, s.ms])).toEqual([
      ["queue", 10],
      ["start", 30],
      ["imports", 20],
      ["handler", 40],
    ]);
    expect(segments.map((s) => s.share)).toEqual([0.1, 0.3, 0.2, 0.4]);
  });

  it("a warm call is all handler; nothing measured is all zero", () => {
    expect(timingSegments({ handler_ms: 2 }).map((s) => s.share)).toEqual([0, 0, 0, 1]);
    expect(timingSegments({}).every((s) => s.share === 0)).toBe(true);
  });
});
