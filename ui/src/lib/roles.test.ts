import { describe, expect, it } from "vitest";
import { atLeast } from "./roles";

describe("atLeast", () => {
  it("follows the ladder", () => {
    expect(atLeast("developer", "developer")).toBe(true);
    expect(atLeast("owner", "developer")).toBe(true);
    expect(atLeast("admin", "owner")).toBe(true);
    expect(atLeast("viewer", "invoker")).toBe(false);
    expect(atLeast("invoker", "developer")).toBe(false);
  });

  it("puts an unknown or missing role below everything", () => {
    expect(atLeast("superuser", "viewer")).toBe(false);
    expect(atLeast(null, "viewer")).toBe(false);
    expect(atLeast(undefined, "viewer")).toBe(false);
  });
});
