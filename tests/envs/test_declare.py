"""Finding a function's requirements and refusing lines that would escape the build."""

from __future__ import annotations

from pathlib import Path

import pytest

from sandlot.domain.errors import InvalidRequirements
from sandlot.envs import find_requirements
from sandlot.envs.declare import parse_inline_script, parse_requirements_txt

PYPROJECT = """\
[project]
name = "fn"
version = "0"
dependencies = [
    "Requests[Socks] >= 2.31",
    "numpy; python_version >= '3.10'",
]
"""

SCRIPT = """\
# /// script
# requires-python = ">=3.11"
# dependencies = [
#   "rich",
#   "httpx<1",
# ]
# ///
def handler(event, context):
    return event
"""


def write(folder: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return folder


def test_requirements_txt_is_normalized(tmp_path: Path) -> None:
    text = "# deps\nRequests==2.31.0  # pinned\n\nzope.interface>=5 \\\n  ,<7\nrequests==2.31.0\n"
    found = find_requirements(write(tmp_path, {"requirements.txt": text}), "main")
    assert found is not None
    assert found.source == "requirements.txt"
    assert found.lines == ("requests==2.31.0", "zope-interface<7,>=5")


def test_pyproject_dependencies(tmp_path: Path) -> None:
    found = find_requirements(write(tmp_path, {"pyproject.toml": PYPROJECT}), "main")
    assert found is not None
    assert found.source == "pyproject.toml"
    assert found.lines == ('numpy; python_version >= "3.10"', "requests[socks]>=2.31")


def test_inline_script_metadata_in_the_handler_module(tmp_path: Path) -> None:
    found = find_requirements(write(tmp_path, {"pkg/app.py": SCRIPT}), "pkg.app")
    assert found is not None
    assert found.source == "pkg/app.py"
    assert found.lines == ("httpx<1", "rich")


def test_inline_script_in_a_package_init(tmp_path: Path) -> None:
    found = find_requirements(write(tmp_path, {"pkg/__init__.py": SCRIPT}), "pkg")
    assert found is not None
    assert found.source == "pkg/__init__.py"


def test_nothing_declared(tmp_path: Path) -> None:
    folder = write(
        tmp_path,
        {
            "main.py": "def handler(e, c): return e\n",
            "pyproject.toml": "[tool.ruff]\nline-length = 100\n",
            "requirements.txt": "# nothing yet\n",
        },
    )
    assert find_requirements(folder, "main") is None


def test_precedence_requirements_txt_then_pyproject_then_script(tmp_path: Path) -> None:
    folder = write(
        tmp_path,
        {"requirements.txt": "delta\n", "pyproject.toml": PYPROJECT, "main.py": SCRIPT},
    )
    found = find_requirements(folder, "main")
    assert found is not None
    assert (found.source, found.lines) == ("requirements.txt", ("delta",))
    assert found.ignored == ("pyproject.toml", "main.py")
    (folder / "requirements.txt").unlink()
    found = find_requirements(folder, "main")
    assert found is not None
    assert (found.source, found.ignored) == ("pyproject.toml", ("main.py",))


def test_a_broken_ignored_source_does_not_fail_the_winner(tmp_path: Path) -> None:
    folder = write(tmp_path, {"requirements.txt": "delta\n", "pyproject.toml": "[project\n"})
    found = find_requirements(folder, "main")
    assert found is not None
    assert found.ignored == ("pyproject.toml",)


def test_hashes_of_a_pinned_file_are_accepted_and_dropped() -> None:
    text = "alpha==1.0 \\\n    --hash=sha256:00ff \\\n    --hash=sha256:11ee\n"
    found = parse_requirements_txt(text)
    assert found is not None
    assert found.lines == ("alpha==1.0",)


@pytest.mark.parametrize(
    ("line", "why"),
    [
        ("-e .", "editable installs are not allowed"),
        ("--editable git+https://x/y.git", "editable installs are not allowed"),
        ("-r other.txt", "including other files is not supported"),
        ("--constraint c.txt", "including other files is not supported"),
        ("-c c.txt", "including other files is not supported"),
        ("--index-url https://evil.example/simple", "configured by the operator"),
        ("-i https://evil.example/simple", "configured by the operator"),
        ("--extra-index-url=https://evil.example/simple", "configured by the operator"),
        ("-f /tmp/wheels", "configured by the operator"),
        ("--find-links /tmp/wheels", "configured by the operator"),
        ("--trusted-host evil.example", "configured by the operator"),
        ("--pre", "options are not supported"),
        ("alpha --config-settings x=y", "options are not supported"),
        ("./vendor/pkg", "local paths and URLs are not allowed"),
        ("/abs/pkg-1.0-py3-none-any.whl", "local paths and URLs are not allowed"),
        ("pkg-1.0.tar.gz", "local paths and URLs are not allowed"),
        ("file:///tmp/pkg", "local paths and URLs are not allowed"),
        ("https://example.com/pkg.whl", "local paths and URLs are not allowed"),
        ("git+https://github.com/x/y.git", "local paths and URLs are not allowed"),
        ("pkg @ file:///tmp/pkg", "direct references (name @ url) are not allowed"),
        ("pkg @ https://example.com/pkg.whl", "direct references (name @ url) are not allowed"),
        ("pkg==${VERSION}", "environment variables are not expanded"),
        ("al pha", "malformed requirement"),
        ("alpha==", "malformed requirement"),
        ("alpha>=1,<", "malformed requirement"),
    ],
)
def test_rejected_lines_name_the_file_and_line(tmp_path: Path, line: str, why: str) -> None:
    folder = write(tmp_path, {"requirements.txt": f"delta\n# a comment\n{line}\n"})
    with pytest.raises(InvalidRequirements) as caught:
        find_requirements(folder, "main")
    assert caught.value.message.startswith("requirements.txt, line 3: ")
    assert why in caught.value.message
    assert caught.value.detail()["line"] == 3
    assert caught.value.detail()["file"] == "requirements.txt"


def test_bad_pyproject_line_is_located(tmp_path: Path) -> None:
    text = '[project]\nname = "fn"\ndependencies = [\n  "delta",\n  "-e ./here",\n]\n'
    with pytest.raises(InvalidRequirements, match=r"^pyproject.toml, line 5: "):
        find_requirements(write(tmp_path, {"pyproject.toml": text}), "main")


def test_invalid_toml_is_reported(tmp_path: Path) -> None:
    text = "[project]\ndependencies = [\n  delta\n]\n"
    with pytest.raises(InvalidRequirements, match=r"pyproject.toml: invalid TOML.*line 3"):
        find_requirements(write(tmp_path, {"pyproject.toml": text}), "main")


def test_dependencies_must_be_a_list_of_strings(tmp_path: Path) -> None:
    text = '[project]\ndependencies = "delta"\n'
    with pytest.raises(InvalidRequirements, match="must be a list of strings"):
        find_requirements(write(tmp_path, {"pyproject.toml": text}), "main")


def test_bad_inline_script_line_is_located() -> None:
    text = (
        "import os\n# /// script\n# dependencies = [\n#   'ok',\n#   'https://x/y.whl',\n"
        "# ]\n# ///\n"
    )
    with pytest.raises(InvalidRequirements, match=r"^main.py, line 5: .*URLs are not allowed"):
        parse_inline_script(text, source="main.py")


def test_two_script_blocks_are_rejected() -> None:
    block = "# /// script\n# dependencies = []\n# ///\n"
    with pytest.raises(InvalidRequirements, match="more than one"):
        parse_inline_script(block + "x = 1\n" + block, source="main.py")


def test_other_inline_blocks_are_ignored() -> None:
    assert parse_inline_script("# /// other\n# x = 1\n# ///\n", source="main.py") is None


def test_non_utf8_file(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_bytes(b"caf\xe9\n")
    with pytest.raises(InvalidRequirements, match="not valid UTF-8"):
        find_requirements(tmp_path, "main")
