// The line model of a unified diff (as the version diff API sends it, from Python's
// difflib): each line with its kind and its numbers in the old and the new file, so the
// view can mark added and removed lines by a sign and a word, not by colour alone.

export type DiffLineKind = "added" | "removed" | "context" | "hunk";

export interface DiffLine {
  kind: DiffLineKind;
  /** The line's text without its marker (for a hunk, the whole `@@ … @@` line). */
  text: string;
  /** Its number in the version compared with; null for an added line or a hunk. */
  oldNumber: number | null;
  /** Its number in this version; null for a removed line or a hunk. */
  newNumber: number | null;
}

export interface DiffSummary {
  added: number;
  removed: number;
}

const HUNK = /^@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@/;

/** The lines of a unified diff; its `---`/`+++` file header is left out (the view names
 *  the file), and a line outside any hunk is context. */
export function parseUnifiedDiff(diff: string): DiffLine[] {
  const lines: DiffLine[] = [];
  let oldNumber = 0;
  let newNumber = 0;
  let inHunk = false;
  for (const raw of splitLines(diff)) {
    const hunk = HUNK.exec(raw);
    if (hunk) {
      oldNumber = Number(hunk[1]);
      newNumber = Number(hunk[2]);
      inHunk = true;
      lines.push({ kind: "hunk", text: raw, oldNumber: null, newNumber: null });
    } else if (!inHunk && (raw.startsWith("--- ") || raw.startsWith("+++ "))) {
      continue; // the file header
    } else if (raw.startsWith("+")) {
      lines.push({ kind: "added", text: raw.slice(1), oldNumber: null, newNumber: newNumber++ });
    } else if (raw.startsWith("-")) {
      lines.push({ kind: "removed", text: raw.slice(1), oldNumber: oldNumber++, newNumber: null });
    } else if (raw.startsWith("\\")) {
      continue; // "\ No newline at end of file": a note about the line before
    } else {
      const text = raw.startsWith(" ") ? raw.slice(1) : raw;
      lines.push({ kind: "context", text, oldNumber: oldNumber++, newNumber: newNumber++ });
    }
  }
  return lines;
}

/** How many lines a diff adds and removes. */
export function summarise(lines: readonly DiffLine[]): DiffSummary {
  let added = 0;
  let removed = 0;
  for (const line of lines) {
    if (line.kind === "added") added += 1;
    else if (line.kind === "removed") removed += 1;
  }
  return { added, removed };
}

function splitLines(text: string): string[] {
  const lines = text.split("\n");
  if (lines.at(-1) === "") lines.pop(); // the newline that ends the last line
  return lines;
}
