import { describe, expect, it } from "vitest";
import { destinationsOf, modeOf, namedError, policyOf, policyText } from "./egress";

describe("a network policy in the console", () => {
  it("reads the API's text form as a mode and a list", () => {
    expect(modeOf(["none"])).toBe("none");
    expect(modeOf(["api.test:443"])).toBe("allow");
    expect(modeOf(["10.0.0.0/8", "internet"])).toBe("internet");
    expect(destinationsOf(["10.0.0.0/8", "internet"])).toEqual(["10.0.0.0/8"]);
  });

  it("writes it back, refusing an empty allow-list", () => {
    expect(policyOf("none", ["api.test:443"]).policy).toEqual(["none"]);
    expect(policyOf("allow", [" api.test:443 ", ""]).policy).toEqual(["api.test:443"]);
    expect(policyOf("internet", ["10.0.0.0/8"]).policy).toEqual(["10.0.0.0/8", "internet"]);
    expect(policyOf("allow", [" "]).problem).toMatch(/at least one/);
  });

  it("says a policy and an error for people", () => {
    expect(policyText(["none"])).toBe("no network access");
    expect(policyText(["internet"])).toBe("the internet");
    const error = { error: "EgressNotAllowed", detail: { message: "'x' exceeds" } };
    expect(namedError(error, "?")).toBe("EgressNotAllowed: 'x' exceeds");
  });
});
