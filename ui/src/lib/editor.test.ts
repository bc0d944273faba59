import { describe, expect, it } from "vitest";
import {
  changed,
  handlerFile,
  languageOf,
  nameProblem,
  pathProblem,
  pickFile,
  placeError,
  treeOf,
  uneditable,
  uvErrorLines,
} from "./editor";

describe("languageOf", () => {
  it("knows Python and JSON, and calls the rest text", () => {
    expect(languageOf("main.py")).toBe("python");
    expect(languageOf("pkg/Types.PYI")).toBe("python");
    expect(languageOf("event.json")).toBe("json");
    expect(languageOf("requirements.txt")).toBe("text");
    expect(languageOf("Makefile")).toBe("text");
  });
});

describe("treeOf", () => {
  it("nests folders, folders before files, each sorted by name", () => {
    const tree = treeOf(["main.py", "lib/b.py", "requirements.txt", "lib/a/x.py", "a.py"]);
    expect(tree.map((node) => `${node.kind}:${node.path}`)).toEqual([
      "folder:lib",
      "file:a.py",
      "file:main.py",
      "file:requirements.txt",
    ]);
    const lib = tree[0];
    if (lib?.kind !== "folder") throw new Error("lib is a folder");
    expect(lib.children.map((node) => `${node.kind}:${node.path}`)).toEqual([
      "folder:lib/a",
      "file:lib/b.py",
    ]);
  });

  it("is empty for no paths", () => {
    expect(treeOf([])).toEqual([]);
  });
});

describe("pathProblem", () => {
  it("refuses what the server would", () => {
    expect(pathProblem("", [])).toMatch(/name/);
    expect(pathProblem("/etc/passwd", [])).toMatch(/leading/);
    expect(pathProblem("lib/", [])).toMatch(/folder/);
    expect(pathProblem("../x.py", [])).toMatch(/\.\./);
    expect(pathProblem("a//b.py", [])).toMatch(/empty/);
    expect(pathProblem("main.py", ["main.py"])).toMatch(/already/);
    expect(pathProblem("lib/util.py", ["main.py"])).toBeNull();
  });
});

describe("nameProblem", () => {
  it("follows the API's rule", () => {
    expect(nameProblem("hello-2")).toBeNull();
    expect(nameProblem("")).not.toBeNull();
    expect(nameProblem("Hello")).not.toBeNull();
    expect(nameProblem("2fast")).not.toBeNull();
    expect(nameProblem("a".repeat(64))).not.toBeNull();
    expect(nameProblem("a".repeat(63))).toBeNull();
  });
});

describe("handlerFile and pickFile", () => {
  const paths = ["app/__init__.py", "lib/x.py", "main.py"];
  it("finds the module as the server does", () => {
    expect(handlerFile("main.handler", paths)).toBe("main.py");
    expect(handlerFile("app.handler", paths)).toBe("app/__init__.py");
    expect(handlerFile("lib.x.run", paths)).toBe("lib/x.py");
    expect(handlerFile("gone.handler", paths)).toBeNull();
    expect(handlerFile("nodot", paths)).toBeNull();
  });
  it("shows the file asked for, else the handler's, else the first", () => {
    expect(pickFile("lib/x.py", paths, "main.handler")).toBe("lib/x.py");
    expect(pickFile("nope.py", paths, "main.handler")).toBe("main.py");
    expect(pickFile(null, ["b.py", "c.py"], "main.handler")).toBe("b.py");
    expect(pickFile(null, [], "main.handler")).toBeNull();
  });
});

const BUILD_LOG = [
  "building fn version 2",
  "resolving 1 requirement(s) from requirements.txt",
  "Using CPython 3.12",
  "error: Failed to resolve dependencies",
  "  × No solution found when resolving dependencies:",
  "  ╰─▶ Because no-such-package was not found in the package registry",
  "",
];

describe("placeError", () => {
  const paths = ["main.py", "requirements.txt"];

  it("puts uv's error next to the requirements", () => {
    expect(uvErrorLines(BUILD_LOG)).toEqual(BUILD_LOG.slice(3, 6));
    const placed = placeError(
      { state: "failed", handler: "main.handler", error: "resolving failed: …" },
      BUILD_LOG,
      paths,
    );
    expect(placed).toEqual({
      path: "requirements.txt",
      kind: "build",
      text: BUILD_LOG.slice(3, 6).join("\n"),
    });
  });

  it("says uv's error once though the log has it twice", () => {
    const twice = [...BUILD_LOG.slice(0, 6), ...BUILD_LOG.slice(3, 6)];
    expect(uvErrorLines(twice)).toEqual(BUILD_LOG.slice(3, 6));
  });

  it("names the file the requirements came from", () => {
    const log = ["resolving 2 requirement(s) from pyproject.toml", "error: nope"];
    const placed = placeError(
      { state: "failed", handler: "main.handler", error: "x" },
      log,
      ["main.py", "pyproject.toml", "requirements.txt"],
    );
    expect(placed?.path).toBe("pyproject.toml");
  });

  it("puts an import's traceback next to the handler's file", () => {
    const error =
      "the handler 'main.handler' failed to import: RuntimeError: boom\n" +
      'Traceback (most recent call last):\n  File "/var/task/main.py", line 1\n' +
      "error: not uv's";
    const log = ["building fn version 1", "no dependencies declared", "error: not uv's"];
    const placed = placeError({ state: "failed", handler: "main.handler", error }, log, paths);
    expect(placed).toEqual({ path: "main.py", kind: "import", text: error });
  });

  it("keeps other failures for no file, and nothing for a good version", () => {
    const secret = { state: "failed", handler: "main.handler", error: "secret X is not set" };
    expect(placeError(secret, [], paths)).toEqual({
      path: null,
      kind: "other",
      text: "secret X is not set",
    });
    expect(placeError({ state: "ready", handler: "main.handler", error: null }, BUILD_LOG, paths))
      .toBeNull();
  });
});

describe("the working copy", () => {
  const loaded = [
    { path: "main.py", text: "a", binary: false, truncated: false },
    { path: "blob.bin", text: null, binary: true, truncated: false },
  ];
  it("names the files a deploy from the page could not send back", () => {
    expect(uneditable(loaded)).toEqual(["blob.bin"]);
  });
  it("sees edits, added and removed files", () => {
    const text = [{ path: "main.py", text: "a", binary: false, truncated: false }];
    expect(changed(text, { "main.py": "a" })).toBe(false);
    expect(changed(text, { "main.py": "b" })).toBe(true);
    expect(changed(text, { "main.py": "a", "x.py": "" })).toBe(true);
    expect(changed(text, {})).toBe(true);
  });
});
