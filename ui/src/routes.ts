// The console's pages. Each screen is its own chunk, loaded when its route is first
// visited, so the first load carries only the shell and the page asked for, however many
// screens the console grows (heavy parts, the editor and the charts, stay out of it).
import type { Component } from "svelte";
import type { Params, Route } from "./lib/router.svelte";

export type ScreenProps = { params: Params };
export type ScreenModule = { default: Component<ScreenProps> };

export interface Screen {
  load: () => Promise<ScreenModule>;
  title: string;
  /** Shown signed out, without the header (only the sign-in page). */
  public?: boolean;
}

export type Target = Screen | { redirect: string };

// One screen under several patterns (its tab or section in the path) is one value, so that
// moving between its tabs keeps the screen and its loaded data instead of remounting it.
const fn: Screen = { load: () => import("./screens/Function.svelte"), title: "Function" };
const settings: Screen = {
  load: () => import("./screens/Settings.svelte"),
  title: "Namespace settings",
};
const operator: Screen = { load: () => import("./screens/Operator.svelte"), title: "Operator" };

export const routes: Route<Target>[] = [
  { pattern: "/", value: { redirect: "/functions" } },
  {
    pattern: "/sign-in",
    value: { load: () => import("./screens/SignIn.svelte"), title: "Sign in", public: true },
  },
  { pattern: "/functions", value: { load: () => import("./screens/Functions.svelte"), title: "Functions" } },
  // Not under /functions/: a function may be called "new".
  {
    pattern: "/new-function",
    value: { load: () => import("./screens/NewFunction.svelte"), title: "New function" },
  },
  { pattern: "/functions/:name", value: fn },
  { pattern: "/functions/:name/:tab", value: fn },
  {
    pattern: "/invocations/:id",
    value: { load: () => import("./screens/Invocation.svelte"), title: "Invocation" },
  },
  { pattern: "/settings", value: settings },
  { pattern: "/settings/:section", value: settings },
  { pattern: "/operator", value: operator },
  { pattern: "/operator/:section", value: operator },
  { pattern: "*", value: { load: () => import("./screens/NotFound.svelte"), title: "Not found" } },
];

const loaded = new Map<Screen, Promise<ScreenModule>>();

/** A screen's module, imported once. */
export function loadScreen(screen: Screen): Promise<ScreenModule> {
  let module = loaded.get(screen);
  if (module === undefined) {
    module = screen.load();
    loaded.set(screen, module);
  }
  return module;
}
