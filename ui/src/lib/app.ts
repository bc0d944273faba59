// The app's single instances: its router, the session, and the API client between them.
import { makeClient, NAMESPACE_HEADER, type ApiClient } from "./api/client";
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

/** A streaming GET (server-sent events) with the headers the client sends: EventSource
 *  cannot send them. A 401 ends the session as any other request's does. */
export async function openStream(path: string, signal: AbortSignal): Promise<Response> {
  const headers = new Headers({ Accept: "text/event-stream" });
  if (session.namespace) headers.set(NAMESPACE_HEADER, session.namespace);
  const response = await fetch(path, { headers, signal, credentials: "same-origin" });
  if (response.status === 401) toSignIn("expired");
  return response;
}
