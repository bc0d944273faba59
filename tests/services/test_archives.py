"""Hostile and broken zips are refused before anything touches the disk."""

from __future__ import annotations

import io
import stat
import zipfile
from pathlib import Path

import pytest

from sandlot.domain.errors import HandlerNotFound, HandlerSyntaxError, InvalidArchive
from sandlot.services.archives import ArchiveLimits, check_archive, check_handler, unpack

LIMITS = ArchiveLimits(max_unpacked_bytes=1024 * 1024, max_files=50)


def _zip(entries: list[tuple[zipfile.ZipInfo | str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for info, data in entries:
            archive.writestr(info, data)
    return buffer.getvalue()


def test_a_good_zip_unpacks(tmp_path: Path) -> None:
    checked = check_archive(
        _zip([("main.py", b"def handler(e, c): pass\n"), ("pkg/x.txt", b"x")]), LIMITS
    )
    assert checked.files == {"main.py", "pkg/x.txt"}
    unpack(checked, tmp_path / "code")
    assert (tmp_path / "code" / "pkg" / "x.txt").read_bytes() == b"x"
    check_handler(checked, "main.handler")


@pytest.mark.parametrize("name", ["../evil.py", "a/../../evil.py", "/etc/evil.py", "C:/evil.py"])
def test_entries_that_escape_are_refused(name: str) -> None:
    with pytest.raises(InvalidArchive, match=r"escapes|absolute"):
        check_archive(_zip([(zipfile.ZipInfo(name), b"x")]), LIMITS)


def test_symlinks_are_refused() -> None:
    info = zipfile.ZipInfo("link")
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    with pytest.raises(InvalidArchive, match="symbolic link"):
        check_archive(_zip([(info, b"/etc/passwd")]), LIMITS)


def test_not_a_zip_is_refused() -> None:
    with pytest.raises(InvalidArchive, match="not a valid zip"):
        check_archive(b"this is not a zip", LIMITS)


def test_a_truncated_zip_is_refused() -> None:
    data = _zip([("main.py", b"x" * 5000)])
    with pytest.raises(InvalidArchive):
        check_archive(data[: len(data) // 2], LIMITS)


def test_a_zip_bomb_is_refused() -> None:
    bomb = _zip([("zeros.bin", b"\0" * (2 * 1024 * 1024))])  # compresses to ~2 KB
    assert len(bomb) < 10_000
    with pytest.raises(InvalidArchive, match="unpacks to more than"):
        check_archive(bomb, LIMITS)


def test_too_many_files_are_refused() -> None:
    with pytest.raises(InvalidArchive, match="entries"):
        check_archive(_zip([(f"f{i}.txt", b"") for i in range(51)]), LIMITS)


def test_a_missing_handler_module_is_named() -> None:
    checked = check_archive(_zip([("app.py", b"def handler(e, c): pass\n")]), LIMITS)
    with pytest.raises(HandlerNotFound, match="'main' is not in the archive") as caught:
        check_handler(checked, "main.handler")
    assert caught.value.extra["python_files"] == ["app.py"]


def test_a_missing_handler_function_is_named() -> None:
    checked = check_archive(_zip([("main.py", b"def other(e, c): pass\n")]), LIMITS)
    with pytest.raises(HandlerNotFound, match="no top-level 'handler'"):
        check_handler(checked, "main.handler")


def test_handlers_bound_other_ways_are_accepted() -> None:
    source = b"from impl import run as handler\n"
    check_handler(check_archive(_zip([("main.py", source)]), LIMITS), "main.handler")
    package = _zip([("pkg/__init__.py", b""), ("pkg/mod.py", b"handler = lambda e, c: 1\n")])
    check_handler(check_archive(package, LIMITS), "pkg.mod.handler")


def test_a_syntax_error_is_reported_with_its_line() -> None:
    checked = check_archive(_zip([("main.py", b"def handler(:\n")]), LIMITS)
    with pytest.raises(HandlerSyntaxError) as caught:
        check_handler(checked, "main.handler")
    assert caught.value.extra["line"] == 1
