"""What a site-packages directory or a function's folder makes importable, read from disk;
and the function's own sources, without what it vendors."""

from __future__ import annotations

from pathlib import Path

from sandlot.envs.modules import (
    importable_names,
    own_module_names,
    python_sources,
    vendored_names,
)
from tests.envs.wheelkit import write_wheel


def _write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_site_packages_provides_packages_modules_and_extensions(tmp_path: Path) -> None:
    site = _write(
        tmp_path / "site-packages",
        {
            "dateutil/__init__.py": "",
            "google/protobuf/__init__.py": "",  # a namespace package: no __init__ at top
            "six.py": "",
            "_cffi_backend.cpython-311-x86_64-linux-gnu.so": "",
            "odd_dist-1.0.dist-info/top_level.txt": "odd\n",
            "python_dateutil-2.9.0.dist-info/METADATA": "",
            "README.txt": "",
            ".hidden/x.py": "",
        },
    )
    assert importable_names(site) == {
        "dateutil",
        "google",
        "six",
        "_cffi_backend",
        "odd",
    }
    assert importable_names(tmp_path / "absent") == frozenset()


def test_a_real_installed_wheel_is_read(tmp_path: Path) -> None:
    import zipfile

    wheel = write_wheel(str(tmp_path), "python-dateutil", "2.9.0", module="dateutil")
    site = tmp_path / "site-packages"
    with zipfile.ZipFile(tmp_path / wheel) as archive:
        archive.extractall(site)
    assert "dateutil" in importable_names(site)


def test_own_modules_are_found_anywhere_in_the_folder(tmp_path: Path) -> None:
    code = _write(
        tmp_path / "code",
        {"main.py": "", "lib/helpers.py": "", "pkg/__init__.py": "", "notes.txt": ""},
    )
    assert own_module_names(code) == {"main", "lib", "helpers", "pkg", "__init__"}


def test_vendored_packages_are_provided_and_not_scanned(tmp_path: Path) -> None:
    code = _write(
        tmp_path / "code",
        {
            "main.py": "import requests\n",
            "requests/__init__.py": "import chardet\n",
            "requests-2.32.0.dist-info/RECORD": "requests/__init__.py,,\n",
            "six.py": "import missing_thing\n",
            "six-1.16.0.dist-info/top_level.txt": "six\n",
            "__pycache__/main.cpython-311.py": "import nothing\n",
            "lib/util.py": "import yaml\n",
        },
    )
    vendored = vendored_names(code)
    assert vendored == {"requests", "six"}
    assert python_sources(code, skip=vendored) == {
        "lib/util.py": "import yaml\n",
        "main.py": "import requests\n",
    }


def test_a_file_that_is_not_utf8_is_left_out(tmp_path: Path) -> None:
    code = tmp_path / "code"
    code.mkdir()
    (code / "main.py").write_text("import json\n")
    (code / "latin.py").write_bytes(b"# \xe9\n")
    assert python_sources(code) == {"main.py": "import json\n"}
