"""The README's settings table names every field of `sandlot.config.Settings`, with a
default, and nothing that is not one: a setting added without its row fails here. Defaults
written as literals (`600`, `strict`, `6291456`) must be the real ones."""

from __future__ import annotations

import re
from enum import Enum
from pathlib import Path
from typing import Any

from sandlot.config import Settings

README = Path(__file__).resolve().parents[1] / "README.md"
HEADER = "| variable | default | meaning |"
VARIABLE = re.compile(r"`SANDLOT_([A-Z0-9_]+)`")
LITERAL = re.compile(r"`([^`]+)`")


def _settings_rows() -> list[list[str]]:
    """The cells of each row of the README's one table with the settings header."""
    lines = README.read_text(encoding="utf-8").splitlines()
    assert lines.count(HEADER) == 1, f"README.md needs exactly one table headed {HEADER!r}"
    start = lines.index(HEADER) + 2  # past the header and its |---| line
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    return rows


def _documented() -> dict[str, str]:
    """Field name -> the default cell of its row."""
    documented: dict[str, str] = {}
    for variable_cell, default_cell, *_ in _settings_rows():
        names = VARIABLE.findall(variable_cell)
        assert names, f"a settings row without a SANDLOT_ variable: {variable_cell!r}"
        for name in names:
            assert name.lower() not in documented, f"SANDLOT_{name} has two rows"
            documented[name.lower()] = default_cell
    return documented


def test_every_setting_has_a_row_with_its_default() -> None:
    documented = _documented()

    missing = sorted(set(Settings.model_fields) - set(documented))
    assert not missing, "README.md's settings table lacks " + ", ".join(
        f"SANDLOT_{name.upper()}" for name in missing
    )
    assert not [name for name, default in documented.items() if not default]


def test_every_row_is_a_setting() -> None:
    unknown = sorted(set(_documented()) - set(Settings.model_fields))

    assert not unknown, f"README.md documents settings that do not exist: {unknown}"


def _as_written(value: Any) -> str:
    """A default as an environment variable would spell it."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list):
        return "[]" if not value else str(value)
    return str(value)


# The settings whose default the README says in words ("generated", "SQLite in the data
# dir"): every other row's default is a literal, checked against the real one.
IN_WORDS = {
    "database_url",
    "bootstrap_api_key",
    "bootstrap_admin_password",
    "secret_key",
    "monitor_token",
    "package_index_url",
    "public_url",
    "egress_route_table",
    "egress_hosts_file",
    "cluster_secret",
    "worker_url",
}


def test_defaults_written_as_literals_are_the_real_ones() -> None:
    checked = set()
    for variable_cell, default_cell, *_ in _settings_rows():
        names = [name.lower() for name in VARIABLE.findall(variable_cell)]
        literals = LITERAL.findall(default_cell)
        if len(literals) != len(names):
            continue
        for name, literal in zip(names, literals, strict=True):
            default = Settings.model_fields[name].get_default(call_default_factory=True)
            assert literal == _as_written(default), f"SANDLOT_{name.upper()}: {literal}"
            checked.add(name)
    in_words = set(Settings.model_fields) - checked
    assert in_words <= IN_WORDS, f"defaults said only in words: {sorted(in_words - IN_WORDS)}"
