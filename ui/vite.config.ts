import { svelte } from "@sveltejs/vite-plugin-svelte";
import { svelteTesting } from "@testing-library/svelte/vite";
import { defineConfig } from "vitest/config";
import { precompress } from "./build/precompress.ts";

// Built into the Python package, which serves it at /ui (src/sandlot/api/ui.py).
const outDir = "../src/sandlot/ui_dist";

export default defineConfig({
  base: "/ui/",
  plugins: [svelte(), svelteTesting(), precompress()],
  // `npm run dev`: the console with hot reload on :5173, talking to a `make run` server on
  // :8000 through this proxy, so the session cookie stays same-origin as in production.
  server: {
    proxy: { "/api": "http://127.0.0.1:8000" },
  },
  build: {
    outDir,
    emptyOutDir: true,
    // The budget test (tests/ui) reads it to tell first-load files from lazy chunks.
    manifest: true,
    // The CSP forbids inline code, so nothing may be inlined as a data: URL script.
    assetsInlineLimit: 0,
    target: "es2022",
    // The editor chunk is ~465 KiB minified (156 KiB gzipped); tests/ui/test_budget.py holds
    // every lazy chunk to 200 KiB gzipped, which is what the browser downloads.
    chunkSizeWarningLimit: 500,
  },
  test: {
    environment: "happy-dom",
    include: ["src/**/*.test.ts"],
    restoreMocks: true,
  },
});
