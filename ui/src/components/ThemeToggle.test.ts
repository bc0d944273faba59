import { fireEvent, render, screen } from "@testing-library/svelte";
import { beforeEach, describe, expect, it } from "vitest";
import { THEME_KEY } from "../lib/theme";
import ThemeToggle from "./ThemeToggle.svelte";

describe("the theme toggle", () => {
  beforeEach(() => {
    localStorage.clear();
    delete document.documentElement.dataset.theme;
  });

  it("switches the page to dark and back, and keeps the choice", async () => {
    render(ThemeToggle);
    const button = screen.getByRole("button", { name: "Dark theme" });
    expect(button.getAttribute("aria-pressed")).toBe("false");

    await fireEvent.click(button);
    expect(document.documentElement.dataset.theme).toBe("dark");
    expect(localStorage.getItem(THEME_KEY)).toBe("dark");
    expect(button.getAttribute("aria-pressed")).toBe("true");

    await fireEvent.click(button);
    expect(document.documentElement.dataset.theme).toBe("light");
    expect(localStorage.getItem(THEME_KEY)).toBe("light");
  });

  it("starts from the choice kept from the last visit", () => {
    localStorage.setItem(THEME_KEY, "dark");
    render(ThemeToggle);
    expect(screen.getByRole("button", { name: "Dark theme" }).getAttribute("aria-pressed")).toBe("true");
  });
});
