import { describe, expect, it } from "vitest";
import {
  detailText,
  limitLabel,
  keyRoles,
  keyStatus,
  localToRfc3339,
  memberRoles,
  moment,
  orderQuotas,
  parseFunctions,
  quotaFraction,
  quotaLabel,
  quotaUseText,
  rfc3339ToLocal,
} from "./format";

describe("quota use", () => {
  it("says the use against the limit, in the quota's unit", () => {
    expect(quotaUseText({ limit: 50, used: 3, unit: "functions", default: true })).toBe(
      "3 of 50 functions",
    );
    expect(quotaUseText({ limit: 100, used: 0.421875, unit: "MB", default: false })).toBe(
      "0.42 of 100 MB",
    );
    expect(quotaUseText({ limit: 2000, used: 1500, unit: "MB", default: true })).toBe(
      "1,500 of 2,000 MB",
    );
  });

  it("says when there is no limit", () => {
    expect(quotaUseText({ limit: null, used: 12, unit: "calls at once", default: true })).toBe(
      "12 calls at once (no limit)",
    );
  });

  it("measures the share for a meter, with no share without a limit", () => {
    expect(quotaFraction({ limit: 50, used: 3, unit: "functions", default: true })).toBe(0.06);
    expect(quotaFraction({ limit: null, used: 3, unit: "MB", default: true })).toBeNull();
    expect(quotaFraction({ limit: 0, used: 0, unit: "MB", default: false })).toBe(0);
    expect(quotaFraction({ limit: 0, used: 1, unit: "MB", default: false })).toBe(1);
    expect(quotaFraction({ limit: 2, used: 3, unit: "MB", default: false })).toBe(1.5);
  });

  it("names and orders the quotas for people, keeping ones it does not know", () => {
    expect(quotaLabel("memory_mb")).toBe("Memory of live instances");
    expect(quotaLabel("gpu_hours")).toBe("gpu hours");
    expect(limitLabel("functions", "functions")).toBe("Functions");
    expect(limitLabel("rate_per_minute", "calls per minute")).toBe("Calls per minute");
    expect(limitLabel("memory_mb", "MB")).toBe("Memory of live instances (MB)");
    const order = orderQuotas({ env_kb: 1, zeta: 2, functions: 3, alpha: 4 }).map(([n]) => n);
    expect(order).toEqual(["functions", "env_kb", "alpha", "zeta"]);
  });
});

describe("audit detail", () => {
  it("is compact key=value text with the keys sorted", () => {
    expect(detailText({ version: 2, name: "API_TOKEN" })).toBe("name=API_TOKEN version=2");
  });

  it("quotes text with spaces and writes nested values as JSON", () => {
    expect(detailText({ name: "ci key", functions: ["a", "b"], expires: null, ok: true })).toBe(
      'expires=null functions=["a","b"] name="ci key" ok=true',
    );
    expect(detailText({ limits: { functions: 5 } })).toBe('limits={"functions":5}');
  });

  it("is empty without a detail", () => {
    expect(detailText(null)).toBe("");
    expect(detailText({})).toBe("");
  });
});

describe("roles a caller may hand out", () => {
  it("go up to their own, highest first", () => {
    expect(memberRoles("owner")).toEqual(["owner", "developer", "invoker", "viewer"]);
    expect(keyRoles("developer")).toEqual(["developer", "invoker", "viewer"]);
  });

  it("never make a member an admin, though the platform admin may make admin keys", () => {
    expect(memberRoles("admin")).toEqual(["owner", "developer", "invoker", "viewer"]);
    expect(keyRoles("admin")[0]).toBe("admin");
  });

  it("are none for an unknown role", () => {
    expect(keyRoles(null)).toEqual([]);
    expect(memberRoles("root")).toEqual([]);
  });
});

describe("keys", () => {
  const now = new Date("2026-12-01T12:00:00Z");
  it("are active, revoked or expired", () => {
    expect(keyStatus({ revoked_at: null, expires_at: null }, now)).toBe("active");
    expect(keyStatus({ revoked_at: null, expires_at: "2026-12-02T00:00:00Z" }, now)).toBe(
      "active",
    );
    expect(keyStatus({ revoked_at: null, expires_at: "2026-11-30T00:00:00Z" }, now)).toBe(
      "expired",
    );
    expect(keyStatus({ revoked_at: "2026-11-30T00:00:00Z", expires_at: null }, now)).toBe(
      "revoked",
    );
  });

  it("take a function list separated by commas or spaces, or none for every function", () => {
    expect(parseFunctions(" hello, orders-api  hello ")).toEqual(["hello", "orders-api"]);
    expect(parseFunctions("  ")).toBeNull();
  });
});

describe("moments", () => {
  it("are shown in UTC to the minute", () => {
    expect(moment("2026-12-01T16:25:07.123456Z")).toBe("2026-12-01 16:25 UTC");
    expect(moment("2026-12-01T17:25:07+01:00")).toBe("2026-12-01 16:25 UTC");
    expect(moment(null)).toBe("never");
    expect(moment(undefined, "no expiry")).toBe("no expiry");
  });

  it("go from a datetime-local input to RFC 3339 and back", () => {
    const iso = localToRfc3339("2026-12-01T16:25");
    expect(iso).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:00\.000Z$/);
    expect(rfc3339ToLocal(iso)).toBe("2026-12-01T16:25");
    expect(localToRfc3339("")).toBe("");
    expect(rfc3339ToLocal("not a time")).toBe("");
  });
});
