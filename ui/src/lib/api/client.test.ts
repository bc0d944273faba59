import { describe, expect, it } from "vitest";
import { CSRF_HEADER, errorMessage, makeClient, NAMESPACE_HEADER } from "./client";

// A server at the other end of fetch: records each request, answers with `status`.
function server(status = 200, body: unknown = { items: [] }) {
  const seen: Request[] = [];
  const fetch = async (request: Request) => {
    seen.push(request);
    return new Response(JSON.stringify(body), {
      status,
      headers: { "Content-Type": "application/json" },
    });
  };
  return { seen, fetch };
}

function client(fetch: (r: Request) => Promise<Response>, onUnauthenticated = () => {}) {
  return makeClient({
    baseUrl: "http://sandlot.test",
    fetch,
    credentials: () => ({ csrfToken: "csrf-123", namespace: "team-a" }),
    onUnauthenticated,
  });
}

describe("the API client", () => {
  it("sends the CSRF token on requests that change something, and only on those", async () => {
    const { seen, fetch } = server();
    const api = client(fetch);
    await api.GET("/api/v1/functions");
    await api.POST("/api/v1/auth/logout");
    await api.DELETE("/api/v1/functions/{name}", { params: { path: { name: "hello" } } });
    expect(seen.map((r) => [r.method, r.headers.get(CSRF_HEADER)])).toEqual([
      ["GET", null],
      ["POST", "csrf-123"],
      ["DELETE", "csrf-123"],
    ]);
  });

  it("names the chosen namespace on every request", async () => {
    const { seen, fetch } = server();
    await client(fetch).GET("/api/v1/functions");
    expect(seen[0]?.headers.get(NAMESPACE_HEADER)).toBe("team-a");
  });

  it("sends nothing of a session it does not have", async () => {
    const { seen, fetch } = server();
    const api = makeClient({
      baseUrl: "http://sandlot.test",
      fetch,
      credentials: () => ({ csrfToken: null, namespace: null }),
      onUnauthenticated: () => {},
    });
    await api.POST("/api/v1/auth/logout");
    expect(seen[0]?.headers.has(CSRF_HEADER)).toBe(false);
    expect(seen[0]?.headers.has(NAMESPACE_HEADER)).toBe(false);
  });

  it("reports a 401 as the end of the session, except from the sign-in itself", async () => {
    const unauthenticated = { error: "Unauthenticated", detail: { message: "sign in" } };
    const { fetch } = server(401, unauthenticated);
    let ended = 0;
    const api = client(fetch, () => ended++);
    const { error } = await api.GET("/api/v1/functions");
    expect(ended).toBe(1);
    expect(errorMessage(error)).toBe("sign in");
    await api.POST("/api/v1/auth/login", { body: { login: "ann", password: "wrong" } });
    expect(ended).toBe(1);
  });

  it("does not take other errors for the end of the session", async () => {
    const { fetch } = server(403, { error: "PermissionDenied", detail: { message: "no" } });
    let ended = 0;
    await client(fetch, () => ended++).GET("/api/v1/functions");
    expect(ended).toBe(0);
  });
});

describe("errorMessage", () => {
  it("gives the server's message, or a fallback", () => {
    expect(errorMessage({ error: "X", detail: { message: "the reason" } })).toBe("the reason");
    expect(errorMessage({ error: "X", detail: [{ loc: [] }] }, "fallback")).toBe("fallback");
    expect(errorMessage(undefined, "fallback")).toBe("fallback");
  });
});
