"""The code diff on zips made here: statuses, text and binary, and both bounds."""

from __future__ import annotations

import io
import zipfile

from sandlot.services.code_diff import FileStatus, diff_code


def _zip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("pkg/", b"")  # a folder entry is not a file
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_every_status_and_a_unified_diff_for_text() -> None:
    old = _zip({"main.py": b"a\nb\n", "gone.txt": b"x\n", "same.py": b"s\n", "img": b"\0\1"})
    new = _zip({"main.py": b"a\nc", "new.txt": b"hi\n", "same.py": b"s\n", "img": b"\0\2"})
    result = diff_code(new, old)
    by_path = {item.path: item for item in result.files}
    assert [item.path for item in result.files] == sorted(by_path)
    assert {path: item.status for path, item in by_path.items()} == {
        "gone.txt": FileStatus.REMOVED,
        "img": FileStatus.CHANGED,
        "main.py": FileStatus.CHANGED,
        "new.txt": FileStatus.ADDED,
        "same.py": FileStatus.SAME,
    }
    assert by_path["img"].binary and by_path["img"].diff is None
    assert by_path["same.py"].diff is None
    main = by_path["main.py"].diff
    assert main is not None
    assert main.startswith("--- a/main.py\n+++ b/main.py\n@@")
    assert "-b\n" in main and "+c\n" in main  # the missing last newline does not glue lines
    assert by_path["new.txt"].diff == "--- /dev/null\n+++ b/new.txt\n@@ -0,0 +1 @@\n+hi\n"
    assert by_path["gone.txt"].size is None and by_path["gone.txt"].against_size == 2
    assert not result.truncated and result.diff_bytes == sum(
        len((item.diff or "").encode()) for item in result.files
    )


def test_nothing_before_means_everything_is_added() -> None:
    result = diff_code(_zip({"a.py": b"1\n", "b.py": b"2\n"}), None)
    assert [item.status for item in result.files] == [FileStatus.ADDED, FileStatus.ADDED]


def test_the_answer_stops_at_its_budget_and_says_so() -> None:
    text = b"".join(b"line %d\n" % number for number in range(200))
    old = _zip({f"f{n}.py": b"" for n in range(5)})
    new = _zip({f"f{n}.py": text for n in range(5)})
    result = diff_code(new, old, max_bytes=3000)
    assert result.truncated and result.diff_bytes <= 3000
    first, second, *rest = result.files
    assert first.diff is not None and not first.truncated
    assert second.truncated and second.diff is not None and second.diff.endswith("\n")
    assert all(item.truncated and item.diff is None for item in rest)
    assert all(item.status is FileStatus.CHANGED for item in result.files)


def test_a_file_over_the_per_file_bound_is_compared_by_crc_only() -> None:
    big = b"x" * 5000
    result = diff_code(
        _zip({"big": big, "other": big + b"y"}),
        _zip({"big": big, "other": big}),
        file_max_bytes=4096,
    )
    big_diff, other = result.files
    assert big_diff.too_large and big_diff.status is FileStatus.SAME and big_diff.diff is None
    assert other.too_large and other.status is FileStatus.CHANGED and other.diff is None
