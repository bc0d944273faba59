"""What changed between two versions' code: per file a status and, for text, a unified diff.

Pure work on two zips already checked at deploy. Bounded both ways, because code may be up
to 250 MB unpacked: a file larger than `FILE_DIFF_MAX_BYTES` is compared by its zip CRC and
size only (never read whole), and the diffs of one answer stop at `DIFF_MAX_BYTES`, saying
so, rather than sending a browser megabytes it will not show.
"""

from __future__ import annotations

import difflib
import io
import zipfile
from dataclasses import dataclass
from enum import StrEnum
from pathlib import PurePosixPath

DIFF_MAX_BYTES = 1024 * 1024
FILE_DIFF_MAX_BYTES = 256 * 1024


class FileStatus(StrEnum):
    ADDED = "added"
    REMOVED = "removed"
    CHANGED = "changed"
    SAME = "same"


@dataclass(frozen=True)
class FileDiff:
    path: str
    status: FileStatus
    size: int | None  # in the version asked about; None when removed
    against_size: int | None  # in the version compared with; None when added
    binary: bool = False
    too_large: bool = False  # over FILE_DIFF_MAX_BYTES: no diff, compared by CRC and size
    diff: str | None = None
    truncated: bool = False  # the answer's budget ran out in or before this file's diff


@dataclass(frozen=True)
class CodeDiff:
    files: list[FileDiff]
    truncated: bool
    diff_bytes: int


def _entries(data: bytes | None) -> dict[str, zipfile.ZipInfo]:
    if data is None:
        return {}
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {
            str(PurePosixPath(info.filename)): info
            for info in archive.infolist()
            if not info.is_dir()
        }


def _text(data: bytes) -> str | None:
    """Text is UTF-8 with no NUL byte; anything else is shown as binary."""
    if b"\0" in data:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


class _Budget:
    def __init__(self, limit: int) -> None:
        self.left = limit
        self.used = 0
        self.cut = False

    def take(self, text: str) -> tuple[str | None, bool]:
        """The part of `text` that fits (cut at a line end), and whether it was cut."""
        if self.cut:
            return None, True
        size = len(text.encode())
        if size <= self.left:
            self.left -= size
            self.used += size
            return text, False
        self.cut = True
        kept: list[str] = []
        for line in text.splitlines(keepends=True):
            line_size = len(line.encode())
            if line_size > self.left:
                break
            kept.append(line)
            self.left -= line_size
            self.used += line_size
        return "".join(kept), True


def diff_code(
    new: bytes,
    old: bytes | None,
    *,
    max_bytes: int = DIFF_MAX_BYTES,
    file_max_bytes: int = FILE_DIFF_MAX_BYTES,
) -> CodeDiff:
    """`new` against `old` (None: nothing before, so every file is added)."""
    budget = _Budget(max_bytes)
    files: list[FileDiff] = []
    new_entries, old_entries = _entries(new), _entries(old)
    with (
        zipfile.ZipFile(io.BytesIO(new)) as new_zip,
        zipfile.ZipFile(io.BytesIO(old or _EMPTY_ZIP)) as old_zip,
    ):
        for path in sorted(new_entries.keys() | old_entries.keys()):
            now, before = new_entries.get(path), old_entries.get(path)
            files.append(
                _file_diff(path, (new_zip, now), (old_zip, before), budget, file_max_bytes)
            )
    return CodeDiff(files=files, truncated=budget.cut, diff_bytes=budget.used)


def _read(archive: zipfile.ZipFile, info: zipfile.ZipInfo | None) -> bytes:
    return b"" if info is None else archive.read(info)


def _file_diff(
    path: str,
    new: tuple[zipfile.ZipFile, zipfile.ZipInfo | None],
    old: tuple[zipfile.ZipFile, zipfile.ZipInfo | None],
    budget: _Budget,
    file_max_bytes: int,
) -> FileDiff:
    (new_zip, now), (old_zip, before) = new, old
    size = now.file_size if now else None
    against_size = before.file_size if before else None
    if now is None:
        status = FileStatus.REMOVED
    elif before is None:
        status = FileStatus.ADDED
    else:
        status = FileStatus.CHANGED  # until the bytes (or CRC and size) say otherwise
    if max(size or 0, against_size or 0) > file_max_bytes:
        if now and before and (now.CRC, now.file_size) == (before.CRC, before.file_size):
            status = FileStatus.SAME
        return FileDiff(path, status, size, against_size, too_large=True)
    new_bytes, old_bytes = _read(new_zip, now), _read(old_zip, before)
    if status is FileStatus.CHANGED and new_bytes == old_bytes:
        return FileDiff(path, FileStatus.SAME, size, against_size)
    new_text, old_text = _text(new_bytes), _text(old_bytes)
    if new_text is None or old_text is None:
        return FileDiff(path, status, size, against_size, binary=True)
    if budget.cut:  # nothing more would be sent: no diff worth computing
        return FileDiff(path, status, size, against_size, truncated=True)
    lines = difflib.unified_diff(
        old_text.splitlines(keepends=True),
        new_text.splitlines(keepends=True),
        fromfile="/dev/null" if before is None else f"a/{path}",
        tofile="/dev/null" if now is None else f"b/{path}",
    )
    # A last line without a newline would run into the next hunk's header.
    text = "".join(line if line.endswith("\n") else line + "\n" for line in lines)
    diff, cut = budget.take(text)
    return FileDiff(path, status, size, against_size, diff=diff, truncated=cut)


def _empty_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w"):
        pass
    return buffer.getvalue()


_EMPTY_ZIP = _empty_zip()
