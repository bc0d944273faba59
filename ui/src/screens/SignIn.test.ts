import { fireEvent, render, screen } from "@testing-library/svelte";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { session } from "../lib/app";
import SignIn from "./SignIn.svelte";

// The sign-in form against a server that answers each request from a list, in order.
// Installed before the imports below run: the app's client keeps the fetch it started with.
const server = vi.hoisted(() => {
  const state = {
    replies: [] as [number, unknown, Record<string, string>?][],
    seen: [] as Request[],
  };
  globalThis.fetch = (async (request: Request) => {
    state.seen.push(request);
    const [status, body, headers] = state.replies.shift() ?? [500, {}];
    return new Response(JSON.stringify(body), {
      status,
      headers: { "Content-Type": "application/json", ...headers },
    });
  }) as typeof fetch;
  return state;
});

function answers(...replies: [number, unknown, Record<string, string>?][]) {
  server.replies = replies;
  server.seen = [];
  return server.seen;
}

async function signIn(login: string, password: string) {
  render(SignIn, { params: {} });
  await fireEvent.input(screen.getByLabelText("User name"), { target: { value: login } });
  await fireEvent.input(screen.getByLabelText("Password"), { target: { value: password } });
  await fireEvent.click(screen.getByRole("button", { name: "Sign in" }));
}

const ME = {
  kind: "session",
  login: "ann",
  platform_admin: false,
  memberships: [{ namespace: "default", role: "developer" }],
  csrf_token: "csrf-from-me",
};

describe("the sign-in form", () => {
  beforeEach(() => {
    session.signedOut();
    localStorage.clear();
    window.history.replaceState(null, "", "/ui/sign-in?next=%2Ffunctions%3Fq%3Dx");
    window.dispatchEvent(new PopStateEvent("popstate")); // the app's router reads it afresh
  });
  afterEach(() => {
    document.body.innerHTML = "";
  });

  it("says the name or password is wrong, without saying which", async () => {
    const unauthenticated = { error: "Unauthenticated", detail: { message: "wrong login" } };
    answers([401, unauthenticated]);
    await signIn("ann", "nope-nope-nope");
    expect(await screen.findByText("Wrong user name or password.")).toBeTruthy();
    expect(window.location.pathname).toBe("/ui/sign-in");
  });

  it("says how long to wait after too many failures", async () => {
    const limited = { error: "TooManyLoginAttempts", detail: { message: "later" } };
    answers([429, limited, { "Retry-After": "120" }]);
    await signIn("ann", "nope-nope-nope");
    expect(await screen.findByText("Too many failed sign-ins. Try again in 2 minutes.")).toBeTruthy();
  });

  it("asks for both fields before sending anything", async () => {
    const seen = answers();
    await signIn("ann", "");
    expect(await screen.findByText("Enter your user name and password.")).toBeTruthy();
    expect(seen).toHaveLength(0);
  });

  it("signs in, then goes on to the page asked for", async () => {
    const seen = answers([200, { csrf_token: "csrf-from-login" }], [200, ME]);
    await signIn("ann", "a-good-long-password");
    await vi.waitFor(() => expect(window.location.pathname).toBe("/ui/functions"));
    expect(window.location.search).toBe("?q=x");
    const login = seen[0];
    expect(login?.method).toBe("POST");
    expect(await login?.json()).toEqual({ login: "ann", password: "a-good-long-password" });
    expect(session.state).toBe("signed-in");
    expect(session.csrfToken).toBe("csrf-from-me");
  });
});
