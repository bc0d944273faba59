// A gentle auto-refresh: every `intervalMs` while the page is visible, paused while it is
// hidden (another tab, a minimised window), and once at once when it is visible again, so
// that what comes back into view is fresh. The function it returns stops it (on leaving).
export function whileVisible(tick: () => void, intervalMs: number, doc: Document = document): () => void {
  let timer: ReturnType<typeof setInterval> | null = null;

  const start = () => {
    timer ??= setInterval(tick, intervalMs);
  };
  const pause = () => {
    if (timer !== null) clearInterval(timer);
    timer = null;
  };
  const onChange = () => {
    if (doc.visibilityState === "visible") {
      tick();
      start();
    } else {
      pause();
    }
  };

  doc.addEventListener("visibilitychange", onChange);
  if (doc.visibilityState === "visible") start();
  return () => {
    pause();
    doc.removeEventListener("visibilitychange", onChange);
  };
}
