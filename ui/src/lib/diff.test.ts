import { describe, expect, it } from "vitest";
import { parseUnifiedDiff, summarise } from "./diff";

const DIFF = [
  "--- a/main.py",
  "+++ b/main.py",
  "@@ -1,3 +1,3 @@",
  " def handler(event, context):",
  "-    return 'v1'",
  "+    return 'v2'",
  " # end",
  "@@ -10,2 +10,3 @@",
  " x = 1",
  "+y = 2",
  " z = 3",
  "",
].join("\n");

describe("parseUnifiedDiff", () => {
  it("numbers each line in the old and the new file and drops the file header", () => {
    const lines = parseUnifiedDiff(DIFF);
    expect(lines.map((line) => [line.kind, line.oldNumber, line.newNumber, line.text])).toEqual([
      ["hunk", null, null, "@@ -1,3 +1,3 @@"],
      ["context", 1, 1, "def handler(event, context):"],
      ["removed", 2, null, "    return 'v1'"],
      ["added", null, 2, "    return 'v2'"],
      ["context", 3, 3, "# end"],
      ["hunk", null, null, "@@ -10,2 +10,3 @@"],
      ["context", 10, 10, "x = 1"],
      ["added", null, 11, "y = 2"],
      ["context", 11, 12, "z = 3"],
    ]);
  });

  it("keeps lines that look like a header inside a hunk", () => {
    const lines = parseUnifiedDiff("@@ -1 +1 @@\n--- a comment\n+++ plus\n");
    expect(lines.map((line) => [line.kind, line.text])).toEqual([
      ["hunk", "@@ -1 +1 @@"],
      ["removed", "-- a comment"],
      ["added", "++ plus"],
    ]);
  });

  it("counts a hunk without lengths from its start, and skips the no-newline note", () => {
    const lines = parseUnifiedDiff("@@ -5 +7 @@\n-a\n\\ No newline at end of file\n+b\n");
    expect(lines.slice(1)).toEqual([
      { kind: "removed", text: "a", oldNumber: 5, newNumber: null },
      { kind: "added", text: "b", oldNumber: null, newNumber: 7 },
    ]);
  });

  it("gives nothing for an empty diff", () => {
    expect(parseUnifiedDiff("")).toEqual([]);
  });
});

describe("summarise", () => {
  it("counts added and removed lines", () => {
    expect(summarise(parseUnifiedDiff(DIFF))).toEqual({ added: 2, removed: 1 });
  });
});
