// Light and dark themes. The CSS picks colours with light-dark() from `color-scheme`, which
// follows the system unless <html data-theme> says otherwise; the toggle's choice is kept in
// localStorage, and public/theme-init.js applies it before the first paint.

export type Theme = "light" | "dark";

export const THEME_KEY = "sandlot.theme";

function isTheme(value: unknown): value is Theme {
  return value === "light" || value === "dark";
}

export function storedTheme(storage: Storage = localStorage): Theme | null {
  try {
    const value = storage.getItem(THEME_KEY);
    return isTheme(value) ? value : null;
  } catch {
    return null; // storage can be switched off; then the system decides
  }
}

export function systemTheme(): Theme {
  return window.matchMedia?.("(prefers-color-scheme: dark)").matches ? "dark" : "light";
}

/** The theme in force: the one chosen with the toggle, else the system's. */
export function currentTheme(storage: Storage = localStorage): Theme {
  return storedTheme(storage) ?? systemTheme();
}

/** Apply `theme` to the page and remember it for the next visit. */
export function chooseTheme(theme: Theme, storage: Storage = localStorage): void {
  document.documentElement.dataset.theme = theme;
  try {
    storage.setItem(THEME_KEY, theme);
  } catch {
    // not kept across visits, but applied now
  }
}
