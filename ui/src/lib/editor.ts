// What the Code tab knows without the editor itself: which language a file is, the tree of
// a version's paths, the working copy of its files, and which file an error belongs next
// to. CodeMirror lives in editor-view.ts, loaded only when an editor mounts.

export type Language = "python" | "json" | "text";

export function languageOf(path: string): Language {
  const lower = path.toLowerCase();
  if (lower.endsWith(".py") || lower.endsWith(".pyi")) return "python";
  if (lower.endsWith(".json")) return "json";
  return "text";
}

// --- The tree of paths -------------------------------------------------------------------

export interface TreeFolder {
  kind: "folder";
  name: string;
  path: string;
  children: TreeNode[];
}

export interface TreeFile {
  kind: "file";
  name: string;
  path: string;
}

export type TreeNode = TreeFolder | TreeFile;

/** Folders first, then files, each by name; `a/b.py` is file b.py in folder a. */
export function treeOf(paths: readonly string[]): TreeNode[] {
  const root: TreeFolder = { kind: "folder", name: "", path: "", children: [] };
  for (const path of paths) {
    const parts = path.split("/").filter((part) => part !== "");
    let folder = root;
    parts.forEach((name, i) => {
      const at = parts.slice(0, i + 1).join("/");
      if (i === parts.length - 1) {
        folder.children.push({ kind: "file", name, path });
        return;
      }
      let next = folder.children.find(
        (child): child is TreeFolder => child.kind === "folder" && child.name === name,
      );
      if (next === undefined) {
        next = { kind: "folder", name, path: at, children: [] };
        folder.children.push(next);
      }
      folder = next;
    });
  }
  sortTree(root);
  return root.children;
}

function sortTree(folder: TreeFolder): void {
  folder.children.sort((a, b) =>
    a.kind === b.kind ? a.name.localeCompare(b.name) : a.kind === "folder" ? -1 : 1,
  );
  for (const child of folder.children) if (child.kind === "folder") sortTree(child);
}

// --- New files ---------------------------------------------------------------------------

/** Why a path cannot be a new file's, or null when it can (the server checks it again). */
export function pathProblem(path: string, existing: readonly string[]): string | null {
  const trimmed = path.trim();
  if (trimmed === "") return "Give the file a name.";
  if (trimmed.startsWith("/")) return "A path inside the function's folder: no leading /.";
  if (trimmed.endsWith("/")) return "That is a folder; name a file in it.";
  if (trimmed.includes("\\")) return "Use / between folders.";
  if (trimmed.split("/").some((part) => part === ".." || part === "." || part === "")) {
    return "No empty, . or .. parts in the path.";
  }
  if (existing.includes(trimmed)) return `There is already a file ${trimmed}.`;
  return null;
}

// --- Where an error goes -----------------------------------------------------------------

export interface VersionOutcome {
  state: string;
  handler: string;
  error: string | null;
}

export interface PlacedError {
  /** The file it is shown next to; null when it belongs to none (shown above the editor). */
  path: string | null;
  kind: "build" | "import" | "other";
  text: string;
}

const REQUIREMENTS_FILES = ["requirements.txt", "pyproject.toml"];
// uv's own error text starts at its first `error:` (or `×`) line; the lines before it are
// Sandlot's steps and uv's progress.
const UV_ERROR_START = /^\s*(error:|×)/;
const RESOLVING = /^resolving \d+ requirement\(s\) from (\S+)/;
const UV_STEP = /^(resolving \d+ requirement|installing )/;

/** uv's error lines in a build log; empty when uv reported none. */
export function uvErrorLines(log: readonly string[]): string[] {
  // Only after Sandlot started uv: an import's traceback may hold such a line too.
  const uvStarted = log.findIndex((line) => UV_STEP.test(line));
  if (uvStarted < 0) return [];
  const start = log.findIndex((line, i) => i > uvStarted && UV_ERROR_START.test(line));
  return start < 0 ? [] : once(trimEnd(log.slice(start)));
}

/** The build log has uv's error as uv printed it, then once more as the build's summary:
 *  one copy is enough. */
function once(lines: string[]): string[] {
  const half = lines.length / 2;
  if (!Number.isInteger(half)) return lines;
  const first = lines.slice(0, half);
  return first.every((line, i) => line === lines[half + i]) ? first : lines;
}

function trimEnd(lines: string[]): string[] {
  let end = lines.length;
  while (end > 0 && (lines[end - 1] ?? "").trim() === "") end -= 1;
  return lines.slice(0, end);
}

/** The handler's module file among `paths` (`pkg.mod.handler` → pkg/mod.py or
 *  pkg/mod/__init__.py), as the server looks for it. */
export function handlerFile(handler: string, paths: readonly string[]): string | null {
  const dot = handler.lastIndexOf(".");
  if (dot <= 0) return null;
  const base = handler.slice(0, dot).replaceAll(".", "/");
  return [`${base}.py`, `${base}/__init__.py`].find((path) => paths.includes(path)) ?? null;
}

/** Which file a failed version's error is shown next to: uv's error next to the file the
 *  requirements came from, an import failure's traceback next to the handler's file. */
export function placeError(
  version: VersionOutcome,
  log: readonly string[],
  paths: readonly string[],
): PlacedError | null {
  if (version.state !== "failed") return null;
  const uv = uvErrorLines(log);
  if (uv.length > 0) {
    return { path: requirementsFile(log, paths), kind: "build", text: uv.join("\n") };
  }
  const error = version.error ?? "The version failed.";
  if (/failed to import|^Traceback/m.test(error)) {
    return { path: handlerFile(version.handler, paths), kind: "import", text: error };
  }
  return { path: null, kind: "other", text: error };
}

function requirementsFile(log: readonly string[], paths: readonly string[]): string | null {
  for (const line of log) {
    const source = RESOLVING.exec(line)?.[1];
    if (source && paths.includes(source)) return source;
  }
  return REQUIREMENTS_FILES.find((path) => paths.includes(path)) ?? null;
}

// --- The working copy --------------------------------------------------------------------

export interface LoadedFile {
  path: string;
  text: string | null;
  binary: boolean;
  truncated: boolean;
}

/** Files the browser cannot send back unchanged (binary, or cut by the server's caps): a
 *  deploy from the page would drop them, so such a version is read-only here. */
export function uneditable(files: readonly LoadedFile[]): string[] {
  return files.filter((file) => file.text === null).map((file) => file.path);
}

/** Whether the edited files differ from those loaded. */
export function changed(loaded: readonly LoadedFile[], edited: Record<string, string>): boolean {
  const before = Object.fromEntries(loaded.map((file) => [file.path, file.text]));
  const paths = Object.keys(edited);
  if (paths.length !== loaded.length) return true;
  return paths.some((path) => before[path] !== edited[path]);
}

/** The file to show: the one asked for if it exists, else the handler's, else the first. */
export function pickFile(
  wanted: string | null,
  paths: readonly string[],
  handler: string,
): string | null {
  if (wanted !== null && paths.includes(wanted)) return wanted;
  return handlerFile(handler, paths) ?? paths[0] ?? null;
}

// --- A new function ----------------------------------------------------------------------

/** The API's rule for a function's name (domain/limits.py FUNCTION_NAME_RE). */
export const FUNCTION_NAME = /^[a-z][a-z0-9-]{0,62}$/;

export function nameProblem(name: string): string | null {
  if (name === "") return "Give the function a name.";
  if (!FUNCTION_NAME.test(name)) {
    return "Lowercase letters, digits and dashes, starting with a letter; at most 63.";
  }
  return null;
}

export const TEMPLATE_HANDLER = `def handler(event, context):
    """Called with the request's JSON body as \`event\`; returns JSON."""
    name = (event or {}).get("name", "world")
    return {"hello": name}
`;
