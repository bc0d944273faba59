// The chart's colours from the page's CSS variables. A variable holding light-dark() reads
// back as that text, not a colour, so each is resolved by letting an element use it and
// reading the colour the browser computed: the theme in force, whichever picked it.

export function resolveColors(host: Element, variables: readonly string[]): Map<string, string> {
  const probe = document.createElement("span");
  probe.hidden = true;
  host.append(probe);
  const colors = new Map<string, string>();
  try {
    for (const variable of variables) {
      probe.style.color = `var(${variable})`;
      colors.set(variable, getComputedStyle(probe).color);
    }
  } finally {
    probe.remove();
  }
  return colors;
}

/** Calls `onChange` when the theme changes: the toggle (<html data-theme>) or the system's. */
export function onThemeChange(onChange: () => void): () => void {
  const observer = new MutationObserver(onChange);
  observer.observe(document.documentElement, { attributes: true, attributeFilter: ["data-theme"] });
  const media = window.matchMedia?.("(prefers-color-scheme: dark)");
  media?.addEventListener("change", onChange);
  return () => {
    observer.disconnect();
    media?.removeEventListener("change", onChange);
  };
}

/** The colour with an alpha, for fills under lines and bars ("rgb(1, 2, 3)" → rgba). */
export function withAlpha(color: string, alpha: number): string {
  const match = /^rgba?\(([^)]+)\)$/.exec(color.trim());
  if (!match?.[1]) return color;
  const [r, g, b] = match[1].split(/[,\s/]+/).filter(Boolean);
  return `rgba(${r}, ${g}, ${b}, ${alpha})`;
}
