"""zip_folder: what goes into a deploy's zip, and that it is the same bytes every time."""

from __future__ import annotations

import io
import os
import stat
import zipfile
from pathlib import Path

import pytest

from sandlot.client import zip_folder


def make_tree(root: Path, files: dict[str, str]) -> Path:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    return root


def names(data: bytes) -> list[str]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return zf.namelist()


def test_same_files_zip_to_the_same_bytes_whatever_the_mtimes(tmp_path: Path) -> None:
    files = {"main.py": "x = 1\n", "pkg/util.py": "y = 2\n", "pkg/data/z.json": "{}"}
    first = make_tree(tmp_path / "a", files)
    second = make_tree(tmp_path / "b", dict(reversed(files.items())))
    os.utime(second / "main.py", (1_000_000_000, 1_000_000_000))

    assert zip_folder(first) == zip_folder(second)
    assert zip_folder(first) == zip_folder(first)


def test_entries_are_sorted_with_a_fixed_timestamp(tmp_path: Path) -> None:
    make_tree(tmp_path, {"b.py": "", "a/z.py": "", "a.py": "", "a/b/c.py": ""})

    data = zip_folder(tmp_path)

    assert names(data) == ["a.py", "a/b/c.py", "a/z.py", "b.py"]
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert {info.date_time for info in zf.infolist()} == {(1980, 1, 1, 0, 0, 0)}


def test_caches_vcs_and_virtualenvs_are_always_left_out(tmp_path: Path) -> None:
    make_tree(
        tmp_path,
        {
            "main.py": "",
            "main.pyc": "",
            "__pycache__/main.cpython-311.pyc": "",
            ".git/config": "",
            ".venv/lib/site.py": "",
            "pkg/mod.py": "",
            "pkg/__pycache__/mod.cpython-311.pyc": "",
            "pkg/.git/HEAD": "",
            "pkg/other.pyc": "",
        },
    )

    assert names(zip_folder(tmp_path)) == ["main.py", "pkg/mod.py"]


def test_sandlotignore_patterns(tmp_path: Path) -> None:
    ignore = "\n".join(
        [
            "# a comment, then a blank line",
            "",
            "*.log",
            "!keep.log",
            "data/",
            "/build",
            "docs/*.md",
            "**/secret.txt",
        ]
    )
    make_tree(
        tmp_path,
        {
            ".sandlotignore": ignore,
            "main.py": "",
            "a.log": "",
            "keep.log": "",
            "sub/b.log": "",
            "data/x.csv": "",
            "sub/data/y.csv": "",
            "notes/data": "a file, and 'data/' only names folders",
            "build/out.txt": "",
            "sub/build/out.txt": "",
            "docs/a.md": "",
            "docs/a.txt": "",
            "sub/docs/a.md": "",
            "secret.txt": "",
            "deep/er/secret.txt": "",
        },
    )

    assert names(zip_folder(tmp_path)) == [
        "docs/a.txt",
        "keep.log",
        "main.py",
        "notes/data",
        "sub/build/out.txt",
        "sub/docs/a.md",
    ]


def test_file_modes_are_normalised_but_the_executable_bit_is_kept(tmp_path: Path) -> None:
    make_tree(tmp_path, {"main.py": "", "run.sh": "#!/bin/sh\n"})
    (tmp_path / "run.sh").chmod(0o700)
    (tmp_path / "main.py").chmod(0o600)

    with zipfile.ZipFile(io.BytesIO(zip_folder(tmp_path))) as zf:
        modes = {info.filename: stat.S_IMODE(info.external_attr >> 16) for info in zf.infolist()}

    assert modes == {"main.py": 0o644, "run.sh": 0o755}


def test_symlinked_folders_are_not_followed(tmp_path: Path) -> None:
    outside = make_tree(tmp_path / "outside", {"private.txt": "no"})
    folder = make_tree(tmp_path / "fn", {"main.py": ""})
    (folder / "linked").symlink_to(outside, target_is_directory=True)

    assert names(zip_folder(folder)) == ["main.py"]


def test_a_missing_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(NotADirectoryError):
        zip_folder(tmp_path / "nope")
