// Who is signed in, and the namespace they act in. The session itself is an HttpOnly
// cookie the page never sees; what the page holds is what /auth/me says, including the CSRF
// token that state-changing requests send.
import type { Schemas } from "./api/client";

export type Me = Schemas["MeOut"];
export type Membership = Schemas["MembershipOut"];

export const NAMESPACE_KEY = "sandlot.namespace";
// Set while signed in: on a fresh visit without it, the page goes straight to sign-in
// instead of asking /auth/me for a 401 that every visitor's console would show as an error.
export const SIGNED_IN_KEY = "sandlot.signed-in";
const DEFAULT_NAMESPACE = "default";

export type SessionState = "unknown" | "signed-in" | "signed-out";

export class Session {
  state = $state<SessionState>("unknown");
  me = $state<Me | null>(null);
  csrfToken = $state<string | null>(null);
  namespace = $state<string | null>(null);
  #storage: Storage | null;

  constructor(storage: Storage | null = safeLocalStorage()) {
    this.#storage = storage;
  }

  get memberships(): Membership[] {
    return this.me?.memberships ?? [];
  }

  /** The role in the chosen namespace; a platform admin's is `admin` everywhere. */
  get role(): string | null {
    if (this.me?.platform_admin) return "admin";
    return this.memberships.find((m) => m.namespace === this.namespace)?.role ?? null;
  }

  signedIn(me: Me): void {
    this.me = me;
    this.csrfToken = me.csrf_token ?? this.csrfToken;
    this.namespace = this.#pickNamespace(me.memberships);
    this.state = "signed-in";
    this.#write(SIGNED_IN_KEY, "1");
  }

  signedOut(): void {
    this.me = null;
    this.csrfToken = null;
    this.state = "signed-out";
    this.#write(SIGNED_IN_KEY, null);
  }

  /** Whether this browser was signed in when last seen (the cookie may have expired since). */
  get mayBeSignedIn(): boolean {
    return this.#read(SIGNED_IN_KEY) === "1";
  }

  /** Switch namespace; remembered for the next visit. */
  choose(namespace: string): void {
    this.namespace = namespace;
    this.#write(NAMESPACE_KEY, namespace);
  }

  /** The namespace kept from the last visit if still a member there, else `default`,
   *  else the first membership (the server's own default, too). */
  #pickNamespace(memberships: readonly Membership[]): string | null {
    const names = memberships.map((m) => m.namespace);
    const kept = this.#read(NAMESPACE_KEY);
    if (kept && names.includes(kept)) return kept;
    if (names.includes(DEFAULT_NAMESPACE)) return DEFAULT_NAMESPACE;
    return names[0] ?? null;
  }

  #read(key: string): string | null {
    try {
      return this.#storage?.getItem(key) ?? null;
    } catch {
      return null; // storage switched off: nothing kept
    }
  }

  #write(key: string, value: string | null): void {
    try {
      if (value === null) this.#storage?.removeItem(key);
      else this.#storage?.setItem(key, value);
    } catch {
      // kept for this page only
    }
  }
}

function safeLocalStorage(): Storage | null {
  try {
    return window.localStorage;
  } catch {
    return null;
  }
}
