import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

// The app's own router, session and client together, against a fetch that answers 401:
// what happens when a session ends while someone is on a page.
describe("an ended session", () => {
  beforeEach(() => {
    vi.resetModules();
    window.history.replaceState(null, "", "/ui/functions?q=api&sort=-updated");
    vi.stubGlobal("fetch", async () =>
      new Response(JSON.stringify({ error: "Unauthenticated", detail: { message: "expired" } }), {
        status: 401,
        headers: { "Content-Type": "application/json" },
      }),
    );
  });
  afterEach(() => {
    vi.unstubAllGlobals();
  });

  it("goes back to sign-in, keeping the page they were on", async () => {
    const { api, router, session } = await import("./app");
    session.signedIn({
      kind: "session",
      login: "ann",
      platform_admin: false,
      memberships: [{ namespace: "default", role: "owner" }],
      csrf_token: "t",
    });
    await api.GET("/api/v1/functions");
    expect(session.state).toBe("signed-out");
    expect(session.csrfToken).toBeNull();
    expect(router.path).toBe("/sign-in");
    expect(router.query.get("next")).toBe("/functions?q=api&sort=-updated");
    expect(router.query.get("reason")).toBe("expired");
  });
});
