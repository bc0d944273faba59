"""`requires-python`, in a pyproject.toml or PEP 723 metadata, checked against the Python
that functions run on: a function that needs another Python is refused at deploy."""

from __future__ import annotations

from pathlib import Path

import pytest

from sandlot.domain.errors import InvalidRequirements, PythonVersionUnsupported
from sandlot.envs import check_python_version
from tests.envs.test_declare import write

HERE = "3.11.7"


def pyproject(requires: str) -> str:
    return f'[project]\nname = "fn"\nversion = "0"\nrequires-python = "{requires}"\n'


def script(requires: str) -> str:
    return (
        f'# /// script\n# requires-python = "{requires}"\n# dependencies = []\n# ///\n'
        "def handler(event, context):\n    return 1\n"
    )


@pytest.mark.parametrize(
    ("files", "source"),
    [
        ({"pyproject.toml": pyproject(">=3.12"), "main.py": ""}, "pyproject.toml"),
        ({"main.py": script(">=3.13")}, "main.py"),
        # Declared even where the packages are not: requirements.txt wins for those.
        ({"requirements.txt": "alpha\n", "pyproject.toml": pyproject("<3.11")}, "pyproject.toml"),
        ({"main.py": script("==3.10.*")}, "main.py"),
    ],
    ids=["pyproject", "pep723", "pyproject-beside-requirements", "pinned-minor"],
)
def test_a_python_this_server_does_not_have_is_refused(
    tmp_path: Path, files: dict[str, str], source: str
) -> None:
    write(tmp_path, files)
    with pytest.raises(PythonVersionUnsupported) as refused:
        check_python_version(tmp_path, "main", HERE)
    assert "Python 3.11.7" in refused.value.message
    assert refused.value.extra["file"] == source
    assert refused.value.extra["python_version"] == HERE


@pytest.mark.parametrize(
    "files",
    [
        {"main.py": "def handler(event, context):\n    return 1\n"},
        {"pyproject.toml": pyproject(">=3.10,<4"), "main.py": script("~=3.11")},
        {"pyproject.toml": '[project]\nname = "fn"\n'},  # says nothing about Python
        {"pyproject.toml": "[project\nbroken = "},  # not TOML: find_requirements decides
    ],
    ids=["none", "both-met", "unsaid", "unparsable"],
)
def test_a_python_this_server_has_or_no_claim_passes(tmp_path: Path, files: dict[str, str]) -> None:
    write(tmp_path, files)
    check_python_version(tmp_path, "main", HERE)


def test_a_malformed_requires_python_names_its_file_and_line(tmp_path: Path) -> None:
    write(tmp_path, {"pyproject.toml": pyproject("three-eleven")})
    with pytest.raises(InvalidRequirements) as refused:
        check_python_version(tmp_path, "main", HERE)
    assert refused.value.extra == {"file": "pyproject.toml", "line": 4}
    assert "'three-eleven' is not a version specifier" in refused.value.message
