// A small router on the History API. The console has a dozen fixed routes with a parameter
// or two and keeps its filters in the query string; that takes ~100 lines, which are
// tested here, where a routing library would be a dependency to pin against Node 20 and
// Svelte 5 (the SvelteKit one is ruled out, the others are hash-based or Svelte 4 era).

/** Where the app lives; every route below is relative to it. */
export const BASE = "/ui";

export type Params = Record<string, string>;

export interface Route<T> {
  /** `/functions`, `/functions/:name`, or `*` for anything else */
  pattern: string;
  value: T;
}

export interface Match<T> {
  value: T;
  params: Params;
}

export function match<T>(routes: readonly Route<T>[], path: string): Match<T> | null {
  const parts = split(path);
  for (const route of routes) {
    if (route.pattern === "*") return { value: route.value, params: {} };
    const wanted = split(route.pattern);
    if (wanted.length !== parts.length) continue;
    const params: Params = {};
    const same = wanted.every((segment, i) => {
      const part = parts[i] ?? "";
      if (segment.startsWith(":")) {
        params[segment.slice(1)] = safeDecode(part);
        return true;
      }
      return segment === part;
    });
    if (same) return { value: route.value, params };
  }
  return null;
}

function split(path: string): string[] {
  return path.split("/").filter((part) => part !== "");
}

function safeDecode(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
}

/** The app's path of a browser path: `/ui/functions` → `/functions`; null outside the app. */
export function appPath(pathname: string): string | null {
  if (pathname === BASE) return "/";
  if (!pathname.startsWith(`${BASE}/`)) return null;
  return pathname.slice(BASE.length);
}

/** A target of navigate() (`/functions?q=x`) is one of ours when it starts with one slash;
 *  used to refuse `next=//elsewhere` and `next=https://…` after sign-in. */
export function isAppTarget(target: string): boolean {
  return target.startsWith("/") && !target.startsWith("//") && !target.includes("\\");
}

export class Router {
  path = $state("/");
  query = $state(new URLSearchParams());
  #window: Window;

  constructor(win: Window = window) {
    this.#window = win;
    this.#read();
    win.addEventListener("popstate", () => this.#read());
  }

  /** The current page as a target for navigate(): path and query. */
  get here(): string {
    const search = this.query.toString();
    return search ? `${this.path}?${search}` : this.path;
  }

  href(target: string): string {
    return BASE + (target === "/" ? "/" : target);
  }

  navigate(target: string, { replace = false }: { replace?: boolean } = {}): void {
    const url = this.href(isAppTarget(target) ? target : "/");
    const history = this.#window.history;
    if (replace) history.replaceState(null, "", url);
    else history.pushState(null, "", url);
    this.#read();
  }

  /** Change some query parameters (null or "" removes one), replacing the history entry:
   *  typing in a search box should not make one entry per key. */
  setQuery(changes: Record<string, string | null>): void {
    const query = new URLSearchParams(this.query);
    for (const [key, value] of Object.entries(changes)) {
      if (value === null || value === "") query.delete(key);
      else query.set(key, value);
    }
    const search = query.toString();
    this.navigate(search ? `${this.path}?${search}` : this.path, { replace: true });
  }

  /** A click on a link to one of our pages navigates without reloading; anything else
   *  (another site, a new tab, a download, a modified click) is left to the browser. */
  intercept(event: MouseEvent): void {
    if (event.defaultPrevented || event.button !== 0) return;
    if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    const target = event.target instanceof Element ? event.target.closest("a") : null;
    if (target === null || target.hasAttribute("download")) return;
    if (target.target && target.target !== "_self") return;
    const url = new URL(target.href, this.#window.location.href);
    if (url.origin !== this.#window.location.origin) return;
    const path = appPath(url.pathname);
    if (path === null) return;
    event.preventDefault();
    this.navigate(path + url.search);
  }

  #read(): void {
    const location = this.#window.location;
    this.path = appPath(location.pathname) ?? "/";
    this.query = new URLSearchParams(location.search);
  }
}
