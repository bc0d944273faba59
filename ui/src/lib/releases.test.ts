import { describe, expect, it } from "vitest";
import {
  aliasNameProblem,
  comparison,
  formatInterval,
  healthText,
  mainVersion,
  parseInterval,
  parsePercent,
  parseSteps,
  progressText,
  releaseActions,
  routesText,
  weightsProblem,
} from "./releases";

describe("alias names", () => {
  it("takes what the server takes and refuses latest", () => {
    expect(aliasNameProblem("prod")).toBeNull();
    expect(aliasNameProblem("canary-2")).toBeNull();
    expect(aliasNameProblem("latest")).toMatch(/built in/);
    expect(aliasNameProblem("Prod")).toMatch(/lower-case/);
    expect(aliasNameProblem("2prod")).toMatch(/lower-case/);
    expect(aliasNameProblem("")).not.toBeNull();
  });
});

describe("routes", () => {
  it("reads as the server's notes do, newest first", () => {
    expect(routesText([{ version: 3, weight: 100 }])).toBe("v3");
    expect(
      routesText([
        { version: 4, weight: 90 },
        { version: 5, weight: 10 },
      ]),
    ).toBe("v5 10%, v4 90%");
    expect(routesText([])).toBe("nothing");
  });

  it("has a main version: the heaviest, the newer on a tie", () => {
    expect(
      mainVersion([
        { version: 4, weight: 90 },
        { version: 5, weight: 10 },
      ]),
    ).toBe(4);
    expect(
      mainVersion([
        { version: 4, weight: 50 },
        { version: 5, weight: 50 },
      ]),
    ).toBe(5);
    expect(mainVersion([])).toBeNull();
  });
});

describe("the weights dialog", () => {
  const ready = new Set([1, 2, 3]);
  it("accepts weights that sum to 100 on ready versions", () => {
    expect(
      weightsProblem(
        [
          { version: 1, weight: 90 },
          { version: 2, weight: 10 },
        ],
        ready,
      ),
    ).toBeNull();
  });

  it("says what is wrong", () => {
    expect(weightsProblem([], ready)).toMatch(/at least one/);
    expect(weightsProblem([{ version: null, weight: 100 }], ready)).toMatch(/Choose a version/);
    expect(weightsProblem([{ version: 7, weight: 100 }], ready)).toMatch(/not ready/);
    expect(
      weightsProblem(
        [
          { version: 1, weight: 50 },
          { version: 1, weight: 50 },
        ],
        ready,
      ),
    ).toMatch(/named twice/);
    expect(weightsProblem([{ version: 1, weight: 0 }], ready)).toMatch(/1 to 100/);
    expect(weightsProblem([{ version: 1, weight: 12.5 }], ready)).toMatch(/whole percent/);
    expect(
      weightsProblem(
        [
          { version: 1, weight: 60 },
          { version: 2, weight: 30 },
        ],
        ready,
      ),
    ).toBe("The weights sum to 90; they must sum to 100.");
  });
});

describe("the release form", () => {
  it("reads steps that increase to 100", () => {
    expect(parseSteps("10, 50, 100")).toEqual({ ok: true, value: [10, 50, 100] });
    expect(parseSteps("25%,100%")).toEqual({ ok: true, value: [25, 100] });
    expect(parseSteps("100")).toEqual({ ok: true, value: [100] });
    expect(parseSteps("50, 10, 100")).toMatchObject({ ok: false, problem: expect.stringMatching(/more traffic/) });
    expect(parseSteps("10, 50")).toMatchObject({ ok: false, problem: "The last step must be 100." });
    expect(parseSteps("10, x, 100")).toMatchObject({ ok: false });
    expect(parseSteps("")).toMatchObject({ ok: false });
  });

  it("reads intervals with units and keeps the minimum", () => {
    expect(parseInterval("5m")).toEqual({ ok: true, value: 300 });
    expect(parseInterval("90s")).toEqual({ ok: true, value: 90 });
    expect(parseInterval("1h")).toEqual({ ok: true, value: 3600 });
    expect(parseInterval("45")).toEqual({ ok: true, value: 45 });
    expect(parseInterval("10s")).toMatchObject({ ok: false, problem: expect.stringMatching(/at least 30 s/) });
    expect(parseInterval("8d")).toMatchObject({ ok: false });
    expect(parseInterval("soon")).toMatchObject({ ok: false });
  });

  it("reads a threshold in percent", () => {
    expect(parsePercent("2%")).toEqual({ ok: true, value: 2 });
    expect(parsePercent("0.5")).toEqual({ ok: true, value: 0.5 });
    expect(parsePercent("120%")).toMatchObject({ ok: false });
    expect(parsePercent("-1")).toMatchObject({ ok: false });
  });

  it("writes intervals for people", () => {
    expect(formatInterval(45)).toBe("45 s");
    expect(formatInterval(300)).toBe("5 min");
    expect(formatInterval(3600)).toBe("1 h");
    expect(formatInterval(5400)).toBe("1 h 30 min");
  });
});

describe("releases", () => {
  it("offers the moves the server allows", () => {
    expect(releaseActions("running")).toEqual(["pause", "promote", "abort"]);
    expect(releaseActions("paused")).toEqual(["resume", "promote", "abort"]);
    expect(releaseActions("promoted")).toEqual([]);
    expect(releaseActions("rolled_back")).toEqual([]);
  });
});

describe("the history's Compare link", () => {
  it("compares the version served after with the one before", () => {
    expect(comparison([{ version: 3, weight: 100 }], [{ version: 4, weight: 100 }])).toEqual({
      version: 4,
      against: 3,
    });
    expect(
      comparison(
        [{ version: 3, weight: 100 }],
        [
          { version: 4, weight: 10 },
          { version: 3, weight: 90 },
        ],
      ),
    ).toBeNull();
    expect(comparison([], [{ version: 4, weight: 100 }])).toBeNull();
    expect(comparison([{ version: 4, weight: 100 }], [])).toBeNull();
  });
});

describe("a release's words", () => {
  it("says its progress and the health it judged", () => {
    const release = { step: 1, steps: [10, 50, 100], weight: 50, to_version: 5 } as Parameters<typeof progressText>[0];
    expect(progressText(release)).toBe("step 2 of 3 (50% on v5)");
    expect(healthText({ calls: 120, errors: 3, error_rate: 2.5, p99_ms: 40.6 })).toBe(
      "3 errors in 120 calls (2.5%), p99 41 ms",
    );
    expect(healthText({ calls: 1, errors: 1, error_rate: 100, p99_ms: null })).toBe("1 error in 1 call (100.0%)");
  });
});
