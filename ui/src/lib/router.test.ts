import { beforeEach, describe, expect, it } from "vitest";
import { appPath, isAppTarget, match, Router, type Route } from "./router.svelte";

const routes: Route<string>[] = [
  { pattern: "/", value: "home" },
  { pattern: "/functions", value: "list" },
  { pattern: "/functions/:name", value: "one" },
  { pattern: "/functions/:name/invocations/:id", value: "invocation" },
  { pattern: "*", value: "missing" },
];

describe("match", () => {
  it("finds fixed routes and their parameters", () => {
    expect(match(routes, "/")).toEqual({ value: "home", params: {} });
    expect(match(routes, "/functions")).toEqual({ value: "list", params: {} });
    expect(match(routes, "/functions/")).toEqual({ value: "list", params: {} });
    expect(match(routes, "/functions/hello")).toEqual({ value: "one", params: { name: "hello" } });
    expect(match(routes, "/functions/a%20b/invocations/inv_1")).toEqual({
      value: "invocation",
      params: { name: "a b", id: "inv_1" },
    });
  });

  it("falls back to the catch-all, or nothing without one", () => {
    expect(match(routes, "/nope/deeper")?.value).toBe("missing");
    expect(match(routes.slice(0, 2), "/nope")).toBeNull();
  });

  it("keeps a parameter that is not valid percent-encoding as it came", () => {
    expect(match(routes, "/functions/%E0%A4%A")?.params).toEqual({ name: "%E0%A4%A" });
  });
});

describe("paths", () => {
  it("maps browser paths under /ui to app paths", () => {
    expect(appPath("/ui")).toBe("/");
    expect(appPath("/ui/")).toBe("/");
    expect(appPath("/ui/functions")).toBe("/functions");
    expect(appPath("/uix")).toBeNull();
    expect(appPath("/api/v1/functions")).toBeNull();
  });

  it("accepts only this app's pages as a place to go after sign-in", () => {
    expect(isAppTarget("/functions?q=a")).toBe(true);
    expect(isAppTarget("//evil.example/")).toBe(false);
    expect(isAppTarget("https://evil.example/")).toBe(false);
    expect(isAppTarget("/\\evil.example")).toBe(false);
  });
});

describe("Router", () => {
  beforeEach(() => {
    window.history.replaceState(null, "", "/ui/functions?q=he&sort=-updated");
  });

  it("reads the page it starts on", () => {
    const router = new Router();
    expect(router.path).toBe("/functions");
    expect(router.query.get("q")).toBe("he");
    expect(router.here).toBe("/functions?q=he&sort=-updated");
  });

  it("pushes a history entry per navigation and follows the back button", async () => {
    const router = new Router();
    const before = window.history.length;
    router.navigate("/functions/hello");
    expect(window.location.pathname).toBe("/ui/functions/hello");
    expect(router.path).toBe("/functions/hello");
    expect(window.history.length).toBe(before + 1);

    const popped = new Promise((resolve) => window.addEventListener("popstate", resolve, { once: true }));
    window.history.back();
    await popped;
    expect(router.path).toBe("/functions");
  });

  it("changes query parameters in place, without new history entries", () => {
    const router = new Router();
    const before = window.history.length;
    router.setQuery({ q: "hello" });
    router.setQuery({ sort: null });
    expect(window.location.search).toBe("?q=hello");
    router.setQuery({ q: "" });
    expect(window.location.search).toBe("");
    expect(router.here).toBe("/functions");
    expect(window.history.length).toBe(before);
  });

  it("never navigates off the app", () => {
    const router = new Router();
    router.navigate("//evil.example/x");
    expect(window.location.pathname).toBe("/ui/");
  });

  it("turns a plain click on one of our links into a navigation, and leaves others alone", () => {
    const router = new Router();
    document.body.innerHTML = `
      <a id="ours" href="/ui/functions/hi?tab=code"><span id="inner">hi</span></a>
      <a id="api" href="/docs">docs</a>
      <a id="away" href="https://elsewhere.example/ui/x">away</a>
      <a id="tab" href="/ui/functions" target="_blank">new tab</a>`;
    // Whether the router took the click; then the click is stopped all the same, so that
    // the test's DOM never follows a link onto the network.
    const click = (id: string, init: MouseEventInit = {}) => {
      const event = new MouseEvent("click", { bubbles: true, cancelable: true, button: 0, ...init });
      let taken = false;
      document.addEventListener("click", (e) => router.intercept(e as MouseEvent), { once: true });
      window.addEventListener(
        "click",
        (e) => {
          taken = e.defaultPrevented;
          e.preventDefault();
        },
        { once: true },
      );
      document.getElementById(id)?.dispatchEvent(event);
      return taken;
    };
    expect(click("inner")).toBe(true);
    expect(router.here).toBe("/functions/hi?tab=code");
    expect(click("api")).toBe(false);
    expect(click("away")).toBe(false);
    expect(click("tab")).toBe(false);
    expect(click("ours", { ctrlKey: true })).toBe(false);
  });
});
