import { describe, expect, it } from "vitest";
import { atLeast } from "../../lib/roles";
import { sectionOf, SECTIONS } from "./sections";

describe("the settings sections", () => {
  it("open on the members, and know no section by another name", () => {
    expect(sectionOf(undefined)?.key).toBe("members");
    expect(sectionOf("audit")?.label).toBe("Audit log");
    expect(sectionOf("billing")).toBeNull();
  });

  it("are offered by role as the API allows reading them", () => {
    const offered = (role: string) =>
      SECTIONS.filter((section) => atLeast(role, section.reads)).map((section) => section.key);
    expect(offered("viewer")).toEqual(["members", "keys", "quotas", "network"]);
    expect(offered("developer")).toEqual(["members", "keys", "secrets", "quotas", "network"]);
    expect(offered("owner")).toEqual(["members", "keys", "secrets", "quotas", "network", "audit"]);
    expect(offered("admin")).toEqual(offered("owner"));
  });
});
