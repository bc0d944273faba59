"""Packaging a function's folder as a zip, honouring `.sandlotignore`.

The same folder always zips to the same bytes (sorted entries, fixed times and modes), so an
unchanged redeploy uploads identical code and the server stores it once.
"""

from __future__ import annotations

import fnmatch
import io
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

IGNORE_FILE = ".sandlotignore"
# Never function code, and often large: caches, VCS data and local virtualenvs.
ALWAYS_EXCLUDED_DIRS = frozenset({"__pycache__", ".git", ".venv"})
ALWAYS_EXCLUDED_FILES = ("*.pyc",)
# The earliest time a zip can hold; fixed so that the same files zip to the same bytes.
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class _IgnoreRule:
    """One `.sandlotignore` line, with gitignore's meaning where it is cheap to have it."""

    pattern: str
    negated: bool
    dir_only: bool
    anchored: bool  # the pattern had a '/' before its end: match the whole relative path
    any_depth: bool  # a leading '**/': the anchored pattern may also start in any folder

    @classmethod
    def parse(cls, line: str) -> _IgnoreRule | None:
        line = line.strip()
        if not line or line.startswith("#"):
            return None
        negated = line.startswith("!")
        line = line.removeprefix("!")
        dir_only = line.endswith("/")
        line = line.rstrip("/")
        any_depth = line.startswith("**/")
        line = line.removeprefix("**/")
        anchored = "/" in line
        line = line.lstrip("/")
        if not line:
            return None
        return cls(line, negated, dir_only, anchored, any_depth)

    def matches(self, rel: str, is_dir: bool) -> bool:
        if self.dir_only and not is_dir:
            return False
        if not self.anchored:
            return fnmatch.fnmatchcase(PurePosixPath(rel).name, self.pattern)
        if fnmatch.fnmatchcase(rel, self.pattern):
            return True
        return self.any_depth and fnmatch.fnmatchcase(rel, "*/" + self.pattern)


def _read_ignore_rules(root: Path) -> list[_IgnoreRule]:
    path = root / IGNORE_FILE
    if not path.is_file():
        return []
    rules = (_IgnoreRule.parse(line) for line in path.read_text(encoding="utf-8").splitlines())
    return [rule for rule in rules if rule is not None]


def _is_ignored(rel: str, is_dir: bool, rules: list[_IgnoreRule]) -> bool:
    name = PurePosixPath(rel).name
    if is_dir and name in ALWAYS_EXCLUDED_DIRS:
        return True
    if not is_dir and (
        rel == IGNORE_FILE or any(fnmatch.fnmatchcase(name, p) for p in ALWAYS_EXCLUDED_FILES)
    ):
        return True
    ignored = False
    for rule in rules:  # as in gitignore, the last matching rule decides
        if rule.matches(rel, is_dir):
            ignored = not rule.negated
    return ignored


def _folder_files(root: Path, rules: list[_IgnoreRule]) -> Iterator[tuple[str, Path]]:
    """(relative posix path, file) for every file to package. Symlinked folders are not
    followed, so a link cannot pull a large or private tree into the upload."""
    for dirpath, dirnames, filenames in os.walk(root):
        base = Path(dirpath).relative_to(root).as_posix()
        prefix = "" if base == "." else base + "/"
        # Pruning here means an ignored folder's content is never even listed.
        dirnames[:] = [d for d in dirnames if not _is_ignored(prefix + d, True, rules)]
        for filename in filenames:
            path = Path(dirpath) / filename
            rel = prefix + filename
            if path.is_file() and not _is_ignored(rel, False, rules):
                yield rel, path


def zip_folder(path: str | os.PathLike[str]) -> bytes:
    """Zip a function's folder the same way every time: sorted entries, fixed timestamps
    and permissions, honouring `.sandlotignore`, always without caches, `.git` and `.venv`."""
    import zipfile  # here, not at the top: `sandlot invoke` imports this module, never zips

    root = Path(path)
    if not root.is_dir():
        raise NotADirectoryError(f"{root} is not a folder")
    files = sorted(_folder_files(root, _read_ignore_rules(root)))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
        for rel, file in files:
            info = zipfile.ZipInfo(rel, date_time=_ZIP_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # unix, so external_attr carries the mode on every OS
            mode = 0o755 if file.stat().st_mode & 0o111 else 0o644
            info.external_attr = (0o100000 | mode) << 16
            zf.writestr(info, file.read_bytes())
    return buffer.getvalue()
