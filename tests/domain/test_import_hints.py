"""Which imports a build warns about, and what it tells the author to add."""

from __future__ import annotations

from sandlot.domain.import_hints import (
    MAX_HINTS,
    declaration_place,
    missing_imports,
    pypi_name,
    required_imports,
    warnings_for,
)


def _warnings(
    sources: dict[str, str],
    *,
    own: set[str] | None = None,
    provided: set[str] | None = None,
    declare_in: str = "requirements.txt",
) -> list[str]:
    missing = missing_imports(sources, own=own or set(), provided=provided or set())
    return warnings_for(missing, declare_in=declare_in)


def test_an_import_no_dependency_provides_names_the_package_to_add() -> None:
    assert _warnings({"main.py": "import dateutil\n"}) == [
        "main.py imports dateutil, which no dependency provides: "
        "add python-dateutil to requirements.txt"
    ]


def test_a_provided_import_is_no_warning() -> None:
    source = "import dateutil.parser\nfrom yaml import safe_load\n"
    assert _warnings({"main.py": source}, provided={"dateutil", "yaml"}) == []


def test_standard_library_own_modules_and_relative_imports_are_no_warning() -> None:
    source = (
        "from __future__ import annotations\n"
        "import json, os.path\n"
        "from collections import abc\n"
        "import helpers\n"
        "from lib.util import thing\n"
        "from . import sibling\n"
        "from .models import Model\n"
    )
    assert _warnings({"main.py": source}, own={"helpers", "lib"}) == []


def test_optional_imports_are_no_warning_but_their_fallback_is() -> None:
    source = (
        "try:\n    import ujson as json\nexcept ImportError:\n    import json\n"
        "try:\n    import orjson\nexcept (ModuleNotFoundError, ValueError):\n    orjson = None\n"
        "try:\n    import simdjson\nexcept ValueError:\n    pass\n"
    )
    assert required_imports(source) == {"json", "simdjson"}


def test_module_level_branches_count_and_type_checking_and_functions_do_not() -> None:
    source = (
        "import sys\n"
        "from typing import TYPE_CHECKING\n"
        "if sys.version_info >= (3, 12):\n    import tomllib\nelse:\n    import tomli\n"
        "if TYPE_CHECKING:\n    import mypy_boto3_s3\n"
        "with open(__file__):\n    import requests\n"
        "def handler(event, context):\n    import pandas\n"
        "class Thing:\n    import numpy\n"
    )
    assert required_imports(source) == {"sys", "typing", "tomllib", "tomli", "requests"}


def test_a_file_that_does_not_parse_is_skipped() -> None:
    assert required_imports("def broken(:\n") is None
    assert _warnings({"main.py": "import dateutil\n", "bad.py": "import yaml\nif\n"}) == [
        "main.py imports dateutil, which no dependency provides: "
        "add python-dateutil to requirements.txt"
    ]


def test_lambdas_runtime_packages_get_their_own_sentence() -> None:
    source = "import boto3\nfrom botocore.exceptions import ClientError\n"
    assert _warnings({"main.py": source}) == [
        "main.py imports boto3, which AWS Lambda's runtime ships and Sandlot does not: "
        "add boto3 to requirements.txt",
        "main.py imports botocore, which AWS Lambda's runtime ships and Sandlot does not: "
        "add botocore to requirements.txt",
    ]


def test_import_names_that_differ_from_the_package_name() -> None:
    assert pypi_name("yaml") == "PyYAML"
    assert pypi_name("PIL.Image") == "Pillow"
    assert pypi_name("sklearn.linear_model") == "scikit-learn"
    assert pypi_name("google.protobuf.json_format") == "protobuf"
    assert pypi_name("requests") == "requests"  # the import name itself otherwise


def test_one_line_per_import_names_every_file_that_uses_it() -> None:
    sources = {"b.py": "import yaml\n", "a.py": "import yaml\n", "c.py": "import yaml\n"}
    assert _warnings(sources) == [
        "a.py, b.py and 1 more file(s) import yaml, which no dependency provides: "
        "add PyYAML to requirements.txt"
    ]


def test_the_warnings_are_bounded() -> None:
    source = "".join(f"import missing{n:03}\n" for n in range(MAX_HINTS + 5))
    lines = _warnings({"main.py": source})
    assert len(lines) == MAX_HINTS + 1
    assert lines[-1] == "and 5 more import(s) that no dependency provides"


def test_the_place_to_add_follows_where_requirements_are_declared() -> None:
    assert declaration_place(None) == "requirements.txt"
    assert declaration_place("pyproject.toml") == "[project] dependencies in pyproject.toml"
    warning = _warnings({"main.py": "import jwt\n"}, declare_in=declaration_place("main.py"))
    assert warning == [
        "main.py imports jwt, which no dependency provides: "
        "add PyJWT to the `# /// script` dependencies of main.py"
    ]
