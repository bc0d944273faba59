import { describe, expect, it } from "vitest";
import {
  functionItems,
  invocationId,
  options,
  pageItems,
  releaseItems,
  rank,
  score,
  type PaletteItem,
} from "./CommandPaletteMatch";

const ID = "01jdqz3v8k5m2n7p9r4s6t0vwx";

function labels(items: PaletteItem[]): string[] {
  return items.map((item) => item.label);
}

describe("score", () => {
  it("ranks exact over prefix over word start over substring over fuzzy", () => {
    const exact = score("api", "api");
    const prefix = score("api", "api-gateway");
    const word = score("api", "orders-api");
    const inside = score("api", "rapid");
    const fuzzy = score("api", "a-pin-item");
    expect(exact).not.toBeNull();
    expect([exact, prefix, word, inside, fuzzy].every((s) => s !== null)).toBe(true);
    expect(exact!).toBeGreaterThan(prefix!);
    expect(prefix!).toBeGreaterThan(word!);
    expect(word!).toBeGreaterThan(inside!);
    expect(inside!).toBeGreaterThan(fuzzy!);
  });

  it("ignores case and the spaces around the query", () => {
    expect(score("  HeLLo ", "hello")).toBe(score("hello", "hello"));
  });

  it("does not match letters that are missing or out of order", () => {
    expect(score("xyz", "hello")).toBeNull();
    expect(score("olleh", "hello")).toBeNull();
  });

  it("prefers fewer gaps among fuzzy matches", () => {
    expect(score("rszimg", "resize-images")!).toBeGreaterThan(score("rszimg", "r-s-z-i-m-g-long-name")!);
  });

  it("prefers an earlier substring", () => {
    expect(score("der", "orders")!).toBeGreaterThan(score("der", "xxxxxxorders")!);
  });
});

describe("rank", () => {
  const items = functionItems(["resize-images", "orders-api", "hello", "api", "api-gateway", "rapid"]);

  it("puts the best match first and drops what does not match", () => {
    expect(labels(rank("api", items))).toEqual(["api", "api-gateway", "orders-api", "rapid"]);
    expect(labels(rank("hel", items))).toEqual(["hello"]);
    expect(labels(rank("zzz", items))).toEqual([]);
  });

  it("breaks ties by the shorter label, then alphabetically", () => {
    const tied = functionItems(["beta-one", "alfa-one", "one-b", "one-a", "one", "z-one"]);
    expect(labels(rank("one", tied))).toEqual(["one", "one-a", "one-b", "z-one", "alfa-one", "beta-one"]);
  });

  it("lists everything in its own order when nothing is typed, up to the limit", () => {
    expect(labels(rank("", items))).toEqual(labels(items));
    expect(rank(" ", items, 2)).toHaveLength(2);
  });

  it("matches fuzzily", () => {
    expect(labels(rank("rsz", items))).toEqual(["resize-images"]);
  });
});

describe("invocation ids", () => {
  it("recognises an id, pasted with spaces or in capitals", () => {
    expect(invocationId(ID)).toBe(ID);
    expect(invocationId(`  ${ID.toUpperCase()}\n`)).toBe(ID);
  });

  it("refuses what is not one", () => {
    expect(invocationId(ID.slice(1))).toBeNull(); // too short
    expect(invocationId(`${ID.slice(1)}u`)).toBeNull(); // u is not in the alphabet
    expect(invocationId("hello")).toBeNull();
  });

  it("offers the invocation first, before any function that matches", () => {
    const found = options(ID, functionItems(["hello"]));
    expect(found[0]).toEqual({
      label: `Open invocation ${ID}`,
      kind: "Invocation",
      target: `/invocations/${ID}`,
    });
  });
});

describe("items", () => {
  it("links functions to their page, with the name encoded", () => {
    expect(functionItems(["a-b"])[0]?.target).toBe("/functions/a-b");
  });

  it("offers the Releases tab of the function in view only", () => {
    expect(releaseItems("/functions/orders-api/versions")).toEqual([
      {
        label: "Releases of orders-api: aliases, rollback, history",
        kind: "Releases",
        target: "/functions/orders-api/releases",
      },
    ]);
    expect(releaseItems("/functions/hello")[0]?.target).toBe("/functions/hello/releases");
    expect(releaseItems("/functions")).toEqual([]);
    expect(releaseItems("/settings")).toEqual([]);
    expect(rank("rollback", releaseItems("/functions/hello"))).toHaveLength(1);
  });

  it("lists the operator's pages for the platform admin only", () => {
    expect(labels(pageItems(false))).toEqual(["Functions", "Namespace settings"]);
    expect(pageItems(true).map((page) => page.target)).toContain("/operator/pool");
  });
});
