// The typed client of /api/v1: openapi-fetch over the paths generated from the server's own
// OpenAPI document (schema.d.ts, made by `make ui`), plus what a browser session needs.
import createClient, { type Client, type Middleware } from "openapi-fetch";
import type { components, paths } from "./schema";

export type Schemas = components["schemas"];
export type ApiClient = Client<paths>;

export const CSRF_HEADER = "X-CSRF-Token";
export const NAMESPACE_HEADER = "X-Sandlot-Namespace";
export const LOGIN_PATH = "/api/v1/auth/login";

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

export interface Credentials {
  /** The session's CSRF token, sent on every request that changes something. */
  csrfToken: string | null;
  /** The namespace chosen in the header's switcher. */
  namespace: string | null;
}

export interface ClientOptions {
  credentials: () => Credentials;
  /** Called on a 401 from anything but the sign-in itself: the session has ended. */
  onUnauthenticated: () => void;
  baseUrl?: string;
  fetch?: (request: Request) => Promise<Response>;
}

export function makeClient(options: ClientOptions): ApiClient {
  const client = createClient<paths>({
    baseUrl: options.baseUrl ?? window.location.origin,
    // The session cookie is HttpOnly and SameSite=Strict: same-origin requests only.
    credentials: "same-origin",
    ...(options.fetch ? { fetch: options.fetch } : {}),
  });
  client.use(sessionMiddleware(options));
  return client;
}

function sessionMiddleware(options: ClientOptions): Middleware {
  return {
    onRequest({ request }) {
      const { csrfToken, namespace } = options.credentials();
      if (csrfToken && !SAFE_METHODS.has(request.method)) {
        request.headers.set(CSRF_HEADER, csrfToken);
      }
      if (namespace) request.headers.set(NAMESPACE_HEADER, namespace);
      return request;
    },
    onResponse({ request, response }) {
      // A 401 from the sign-in means a wrong name or password, which its form shows.
      if (response.status === 401 && new URL(request.url).pathname !== LOGIN_PATH) {
        options.onUnauthenticated();
      }
      return response;
    },
  };
}

/** The one error shape of the API: `{"error": "<Name>", "detail": {"message": …}}`. */
export interface ApiError {
  error: string;
  detail?: { message?: string } | unknown;
}

/** The message of an error answer, for people: the server's own words when it sent some. */
export function errorMessage(error: unknown, fallback = "Something went wrong."): string {
  if (typeof error === "object" && error !== null && "detail" in error) {
    const detail = (error as ApiError).detail;
    if (typeof detail === "object" && detail !== null && "message" in detail) {
      const message = (detail as { message?: unknown }).message;
      if (typeof message === "string" && message) return message;
    }
  }
  return fallback;
}
