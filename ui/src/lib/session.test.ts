import { beforeEach, describe, expect, it } from "vitest";
import { NAMESPACE_KEY, Session, SIGNED_IN_KEY, type Me } from "./session.svelte";

const me = (namespaces: string[]): Me => ({
  kind: "session",
  login: "ann",
  platform_admin: false,
  memberships: namespaces.map((namespace) => ({ namespace, role: "developer" })),
  csrf_token: "csrf",
});

describe("Session", () => {
  beforeEach(() => localStorage.clear());

  it("acts in `default` when a member there, else the first namespace", () => {
    const session = new Session(localStorage);
    session.signedIn(me(["team-a", "default"]));
    expect(session.namespace).toBe("default");
    session.signedIn(me(["team-b", "team-a"]));
    expect(session.namespace).toBe("team-b");
  });

  it("remembers the namespace chosen, while still a member there", () => {
    new Session(localStorage).choose("team-a");
    expect(localStorage.getItem(NAMESPACE_KEY)).toBe("team-a");
    const next = new Session(localStorage);
    next.signedIn(me(["default", "team-a"]));
    expect(next.namespace).toBe("team-a");
    next.signedIn(me(["default"]));
    expect(next.namespace).toBe("default");
  });

  it("keeps the CSRF token and a signed-in mark only while signed in", () => {
    const session = new Session(localStorage);
    session.signedIn(me(["default"]));
    expect(session.csrfToken).toBe("csrf");
    expect(session.mayBeSignedIn).toBe(true);
    session.signedOut();
    expect(session.csrfToken).toBeNull();
    expect(localStorage.getItem(SIGNED_IN_KEY)).toBeNull();
    expect(session.mayBeSignedIn).toBe(false);
  });
});

describe("Session.role", () => {
  it("is the membership's role in the chosen namespace, and admin for a platform admin", () => {
    const session = new Session(null);
    session.signedIn({
      ...me(["default"]),
      memberships: [
        { namespace: "default", role: "viewer" },
        { namespace: "team-a", role: "owner" },
      ],
    });
    expect(session.role).toBe("viewer");
    session.choose("team-a");
    expect(session.role).toBe("owner");
    session.signedIn({ ...me(["default"]), platform_admin: true });
    expect(session.role).toBe("admin");
  });
});
