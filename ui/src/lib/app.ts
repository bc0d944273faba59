// The app's single instances: its router, the session, and the API client between them.
import { makeClient, type ApiClient } from "./api/client";
import { Router } from "./router.svelte";
import { Session } from "./session.svelte";

export const router = new Router();
export const session = new Session();

export const api: ApiClient = makeClient({
  credentials: () => ({ csrfToken: session.csrfToken, namespace: session.namespace }),
  onUnauthenticated: () =>
    toSignIn(session.state === "signed-in" || session.mayBeSignedIn ? "expired" : null),
});

/** Back to sign-in, keeping the page they were on to return to after it. */
export function toSignIn(reason: "expired" | null): void {
  session.signedOut();
  if (router.path === "/sign-in") return;
  const query = new URLSearchParams({ next: router.here });
  if (reason) query.set("reason", reason);
  router.navigate(`/sign-in?${query}`, { replace: true });
}
