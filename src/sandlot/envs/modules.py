"""What a function's directories make importable, and its Python sources, read from disk.

Both the function's code and its environment's `site-packages` are plain directories on
the function's `sys.path`, so what each provides is what Python would find at its top: a
package directory (a namespace package needs no `__init__.py`), a `.py` module, or an
extension module. Distributions' `top_level.txt` files add the names they declare, which
the listing already holds for any wheel a resolver installs; they are read as well because
they cost little and cover a package laid out oddly. Blocking: call from a thread.
"""

from __future__ import annotations

import os
from pathlib import Path

# A function's folder is bounded by its code quota, but a scan must still stay small: past
# these the rest is not read (a hint is advice, and missing one costs nothing).
MAX_SOURCES = 2_000
MAX_SOURCE_BYTES = 1_000_000

_SKIPPED_DIRS = frozenset({"__pycache__", "node_modules", "site-packages"})


def importable_names(directory: Path) -> frozenset[str]:
    """The top-level module names `directory`, put on sys.path, makes importable."""
    names: set[str] = set()
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return frozenset()
    for entry in entries:
        name = _module_name(entry)
        if name is not None:
            names.add(name)
        if entry.name.endswith(".dist-info") and entry.is_dir(follow_symlinks=False):
            names |= _declared_top_level(Path(entry.path))
    return frozenset(names)


def _module_name(entry: os.DirEntry[str]) -> str | None:
    if entry.name.startswith("."):
        return None
    if entry.is_dir(follow_symlinks=False):
        return entry.name if entry.name.isidentifier() else None
    stem, dot, suffix = entry.name.partition(".")
    # `mod.py`, `mod.pyc`, and extension modules: `mod.so`, `mod.cpython-311-x86_64-linux-gnu.so`.
    if dot and stem.isidentifier() and suffix.rsplit(".", 1)[-1] in {"py", "pyc", "so", "pyd"}:
        return stem
    return None


def _declared_top_level(dist_info: Path) -> set[str]:
    try:
        text = (dist_info / "top_level.txt").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return set()
    return {line.strip().split("/")[0] for line in text.splitlines() if line.strip()}


def vendored_names(code_dir: Path) -> frozenset[str]:
    """Packages installed into the function's own folder (`pip install -t .`, as Lambda's
    guide has it): those that a `*.dist-info` beside them claims. Their code is a
    dependency's, not the function's, so it is not scanned for imports."""
    names: set[str] = set()
    try:
        entries = list(os.scandir(code_dir))
    except OSError:
        return frozenset()
    for entry in entries:
        if entry.name.endswith(".dist-info") and entry.is_dir(follow_symlinks=False):
            names |= _declared_top_level(Path(entry.path))
            names |= _recorded_top_level(Path(entry.path))
    return frozenset(names)


def _recorded_top_level(dist_info: Path) -> set[str]:
    """The first path part of each file a distribution's RECORD lists."""
    try:
        text = (dist_info / "RECORD").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return set()
    names: set[str] = set()
    for line in text.splitlines():
        first = line.split(",", 1)[0].split("/", 1)[0]
        stem = first.removesuffix(".py")
        if stem.isidentifier():
            names.add(stem)
    return names


def own_module_names(code_dir: Path) -> frozenset[str]:
    """Every module or package name anywhere in the function's folder. An import of one of
    them is the function's own, whichever directory the module adds to sys.path."""
    names: set[str] = set()
    for _root, dirs, files in os.walk(code_dir):
        dirs[:] = [d for d in dirs if not d.startswith(".") and d not in _SKIPPED_DIRS]
        names.update(d for d in dirs if d.isidentifier())
        for file in files:
            stem, dot, suffix = file.partition(".")
            if dot and stem.isidentifier() and suffix.rsplit(".", 1)[-1] in {"py", "so"}:
                names.add(stem)
    return frozenset(names)


def python_sources(code_dir: Path, skip: frozenset[str] = frozenset()) -> dict[str, str]:
    """The function's own `.py` files (path relative to `code_dir` -> text), leaving out
    the top-level directories in `skip`, files that are not UTF-8, and anything past the
    bounds above."""
    sources: dict[str, str] = {}
    for root, dirs, files in os.walk(code_dir):
        top = Path(root) == code_dir
        dirs[:] = sorted(
            d
            for d in dirs
            if not d.startswith(".")
            and d not in _SKIPPED_DIRS
            and not d.endswith(".dist-info")
            and not (top and d in skip)
        )
        for file in sorted(files):
            if not file.endswith(".py") or len(sources) >= MAX_SOURCES:
                continue
            if top and file.removesuffix(".py") in skip:
                continue
            path = Path(root, file)
            text = _read_source(path)
            if text is not None:
                sources[path.relative_to(code_dir).as_posix()] = text
    return sources


def _read_source(path: Path) -> str | None:
    try:
        if path.is_symlink() or path.stat().st_size > MAX_SOURCE_BYTES:
            return None
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
