import { render, screen, within } from "@testing-library/svelte";
import { describe, expect, it } from "vitest";
import Diff from "./Diff.svelte";

const DIFF = "--- a/main.py\n+++ b/main.py\n@@ -1,2 +1,2 @@\n def handler(e, c):\n-    return 1\n+    return 2\n";

describe("the diff view", () => {
  it("names the file and its counts, and marks each change by a word as well as a sign", () => {
    render(Diff, { path: "main.py", diff: DIFF });
    const table = screen.getByRole("table", { name: /main\.py\s?: 1 line added, 1 removed/ });
    const rows = within(table).getAllByRole("row").slice(1); // after the (hidden) header
    expect(rows.map((row) => row.className.split(" ").find((c) => c !== "" && !c.startsWith("svelte-")))).toEqual([
      "hunk",
      "context",
      "removed",
      "added",
    ]);
    expect(rows[2]!.textContent).toMatch(/^2\s*−\s*removed\s+return 1$/);
    expect(rows[3]!.textContent).toMatch(/^2\s*\+\s*added\s+return 2$/);
    expect(rows[1]!.textContent).not.toMatch(/added|removed/);
  });
});
