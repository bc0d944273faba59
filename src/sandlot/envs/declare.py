"""Finding and checking what a function declares it needs.

Three places can declare requirements, and when more than one does, the first of these
wins (the others are listed in `Requirements.ignored` so a deploy log can say so):

1. `requirements.txt` at the top of the function folder,
2. `[project] dependencies` in `pyproject.toml` at the top of the folder,
3. a PEP 723 `# /// script` block with `dependencies = [...]` in the handler's module.

`requirements.txt` comes first because, when a project has both it and a pyproject, the
text file is usually the pinned one generated from the other.

A declaration may only name packages: anything that would let a deploy step outside the
build (editable or local installs, URLs, includes of other files, index options) is
rejected, because operators choose where packages come from, not functions.

A function may also say which Python it needs (`requires-python` in `[project]` of its
pyproject.toml or in its PEP 723 block). Every such declaration must hold for the Python
that functions run on here, whichever file declares the packages: a function that says it
needs another Python is refused at deploy rather than left to fail at import.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

from sandlot.domain.errors import InvalidRequirements, PythonVersionUnsupported

REQUIREMENTS_TXT = "requirements.txt"
PYPROJECT_TOML = "pyproject.toml"

_INDEX_OPTIONS = frozenset(
    {"-i", "--index-url", "--extra-index-url", "-f", "--find-links", "--trusted-host"}
    | {"--no-index", "--index", "--default-index"}
)
_INCLUDE_OPTIONS = frozenset({"-r", "--requirement", "-c", "--constraint"})
_EDITABLE_OPTIONS = frozenset({"-e", "--editable"})
_ARCHIVE_SUFFIXES = (".whl", ".tar.gz", ".tgz", ".zip", ".tar.bz2", ".tar.xz")
# Splits "name>=1 --hash=sha256:..." into the requirement and its per-line options.
_OPTION_SPLIT = re.compile(r"\s+(?=--?[A-Za-z])")
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*:")
_COMMENT = re.compile(r"(^|\s+)#.*$")
# The reference regex from PEP 723.
_PEP723_BLOCK = re.compile(
    r"(?m)^# /// (?P<type>[a-zA-Z0-9-]+)$\s(?P<content>(^#(| .*)$\s)+)^# ///$"
)


@dataclass(frozen=True)
class Requirements:
    """A function's normalized requirement lines and the file they came from.

    `lines` are sorted and deduplicated, with names canonicalized, so two functions that
    declare the same packages in a different order or spelling get the same lock.
    """

    lines: tuple[str, ...]
    source: str
    ignored: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        return "".join(f"{line}\n" for line in self.lines)


def find_requirements(code_dir: Path, handler_module: str) -> Requirements | None:
    """The requirements declared in `code_dir`, or None when it declares none.

    `handler_module` is the dotted module name of the handler (`main`, `pkg.mod`), not
    the `module.function` handler string. Only the winning source is checked strictly: a
    broken lower-precedence file is listed in `ignored` rather than failing the deploy.
    """
    winner: Requirements | None = None
    ignored: list[str] = []
    for source, parse in _sources(code_dir, handler_module):
        if winner is None:
            winner = parse()
            continue
        try:
            declares = parse() is not None
        except InvalidRequirements:
            declares = True
        if declares:
            ignored.append(source)
    if winner is None:
        return None
    return Requirements(lines=winner.lines, source=winner.source, ignored=tuple(ignored))


_Parse = Callable[[], "Requirements | None"]


def _sources(code_dir: Path, handler_module: str) -> Iterator[tuple[str, _Parse]]:
    """Each declaration file present, in precedence order, with a parser for it."""
    txt = code_dir / REQUIREMENTS_TXT
    if txt.is_file():
        yield REQUIREMENTS_TXT, lambda: parse_requirements_txt(_read(txt, REQUIREMENTS_TXT))
    pyproject = code_dir / PYPROJECT_TOML
    if pyproject.is_file():
        yield PYPROJECT_TOML, lambda: parse_pyproject(_read(pyproject, PYPROJECT_TOML))
    module_file = handler_module_file(code_dir, handler_module)
    if module_file is not None:
        source = module_file.relative_to(code_dir).as_posix()
        yield source, lambda: parse_inline_script(_read(module_file, source), source=source)


def handler_module_file(code_dir: Path, handler_module: str) -> Path | None:
    """The file that defines `handler_module`, if the folder has it."""
    parts = handler_module.split(".")
    as_module = code_dir.joinpath(*parts[:-1], f"{parts[-1]}.py")
    if as_module.is_file():
        return as_module
    as_package = code_dir.joinpath(*parts, "__init__.py")
    return as_package if as_package.is_file() else None


def _read(path: Path, source: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidRequirements(f"{source}: not valid UTF-8 ({exc})", file=source) from exc


def parse_requirements_txt(text: str, *, source: str = REQUIREMENTS_TXT) -> Requirements | None:
    """Requirements from pip's requirements-file syntax, restricted to plain packages."""
    lines = [_check_txt_line(line, source, number) for number, line in _logical_lines(text)]
    return _make(lines, source)


def parse_pyproject(text: str, *, source: str = PYPROJECT_TOML) -> Requirements | None:
    """Requirements from `[project] dependencies`; None if the table has no such key."""
    data = _load_toml(text, source, first_line=1)
    project = data.get("project")
    if not isinstance(project, dict) or "dependencies" not in project:
        return None
    return _from_toml_list(project["dependencies"], text, source, first_line=1)


def parse_inline_script(text: str, *, source: str) -> Requirements | None:
    """Requirements from a PEP 723 `# /// script` block; None without one."""
    block = _inline_script_block(text, source)
    if block is None:
        return None
    first_line, content = block
    data = _load_toml(content, source, first_line=first_line)
    if "dependencies" not in data:
        return None
    return _from_toml_list(data["dependencies"], text, source, first_line=first_line)


def check_python_version(code_dir: Path, handler_module: str, version: str) -> None:
    """Refuse (`PythonVersionUnsupported`) a function whose `requires-python` excludes
    `version`, the Python it would run on. Files that do not parse are left to
    `find_requirements`, which decides whether they matter."""
    for source, text, table in _python_declarations(code_dir, handler_module):
        value = table.get("requires-python")
        if value is None:
            continue
        line = _line_of("requires-python", text)
        if not isinstance(value, str):
            _fail(source, line, "'requires-python' must be a string, e.g. '>=3.11'")
        try:
            specifier = SpecifierSet(value)
        except InvalidSpecifier:
            _fail(source, line, f"requires-python {value!r} is not a version specifier")
        if not specifier.contains(Version(version), prereleases=True):
            raise PythonVersionUnsupported(
                f"{source} requires Python {value}, but this server runs functions on "
                f"Python {version}",
                file=source,
                line=line,
                requires_python=value,
                python_version=version,
            )


def _python_declarations(
    code_dir: Path, handler_module: str
) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(source, its text, the table that may hold `requires-python`): the pyproject's
    `[project]` and the handler module's PEP 723 block, those that parse."""
    pyproject = code_dir / PYPROJECT_TOML
    if pyproject.is_file():
        try:
            text = _read(pyproject, PYPROJECT_TOML)
            project = _load_toml(text, PYPROJECT_TOML, first_line=1).get("project")
        except InvalidRequirements:
            project = None
        if isinstance(project, dict):
            yield PYPROJECT_TOML, text, project
    module_file = handler_module_file(code_dir, handler_module)
    if module_file is None:
        return
    source = module_file.relative_to(code_dir).as_posix()
    try:
        text = _read(module_file, source)
        block = _inline_script_block(text, source)
        script = None if block is None else _load_toml(block[1], source, first_line=block[0])
    except InvalidRequirements:
        script = None
    if script is not None:
        yield source, text, script


def _inline_script_block(text: str, source: str) -> tuple[int, str] | None:
    """The first line and TOML content of the PEP 723 `# /// script` block, if one."""
    blocks = [m for m in _PEP723_BLOCK.finditer(text) if m.group("type") == "script"]
    if not blocks:
        return None
    first_line = text.count("\n", 0, blocks[0].start()) + 2  # the line after "# /// script"
    if len(blocks) > 1:
        raise InvalidRequirements(
            f"{source}, line {first_line - 1}: more than one '# /// script' block",
            file=source,
            line=first_line - 1,
        )
    content = "".join(
        line[2:] if line.startswith("# ") else line[1:]
        for line in blocks[0].group("content").splitlines(keepends=True)
    )
    return first_line, content


def _load_toml(text: str, source: str, *, first_line: int) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # tomllib counts lines from the start of what it was given, which for PEP 723 is
        # the block's content; say so rather than guess at an offset inside its message.
        where = "" if first_line == 1 else f" (in the script block starting at line {first_line})"
        raise InvalidRequirements(
            f"{source}: invalid TOML{where}: {exc}", file=source, line=first_line
        ) from exc


def _from_toml_list(
    value: object, text: str, source: str, *, first_line: int
) -> Requirements | None:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidRequirements(
            f"{source}: 'dependencies' must be a list of strings", file=source, line=first_line
        )
    lines = [_check_requirement(v.strip(), source, _line_of(v, text)) for v in value]
    return _make(lines, source)


def _line_of(needle: str, text: str) -> int:
    """The first line of `text` that holds `needle`; TOML parsers do not report positions."""
    for number, line in enumerate(text.splitlines(), start=1):
        if needle in line:
            return number
    return 1


def _make(lines: Iterable[str], source: str) -> Requirements | None:
    unique = tuple(sorted(set(lines)))
    return Requirements(lines=unique, source=source) if unique else None


def _logical_lines(text: str) -> Iterator[tuple[int, str]]:
    """(first line number, line) with comments removed and backslash continuations joined."""
    pending, start = "", 0
    for number, raw in enumerate(text.splitlines(), start=1):
        if not pending:
            start = number
        if raw.endswith("\\"):
            pending += raw[:-1] + " "
            continue
        line = _COMMENT.sub("", pending + raw).strip()
        pending = ""
        if line:
            yield start, line
    tail = _COMMENT.sub("", pending).strip()
    if tail:
        yield start, tail


def _check_txt_line(line: str, source: str, number: int) -> str:
    if line.startswith("-"):
        _reject_option(line.split("=", 1)[0].split()[0], source, number)
    requirement, *options = _OPTION_SPLIT.split(line)
    for option in options:
        # Hashes from a pinned file are dropped, not trusted: the lock gets its own hashes
        # from the operator's index, and install always runs with --require-hashes.
        if not option.startswith("--hash"):
            _reject_option(option.split("=", 1)[0].split()[0], source, number)
    return _check_requirement(requirement, source, number)


def _reject_option(option: str, source: str, number: int) -> None:
    if option in _EDITABLE_OPTIONS:
        why = "editable installs are not allowed"
    elif option in _INCLUDE_OPTIONS:
        why = "including other files is not supported; list every requirement in this file"
    elif option in _INDEX_OPTIONS:
        why = "package indexes are configured by the operator, not by a function"
    else:
        why = "options are not supported in a function's requirements"
    _fail(source, number, f"{option}: {why}")


def _check_requirement(text: str, source: str, number: int) -> str:
    if "${" in text:
        _fail(source, number, f"{text!r}: environment variables are not expanded here")
    try:
        req = Requirement(text)
    except InvalidRequirement as exc:
        if _looks_like_path_or_url(text):
            _fail(source, number, f"{text!r}: local paths and URLs are not allowed; name a package")
        _fail(source, number, f"malformed requirement {text!r}: {exc}")
    if req.url:
        _fail(source, number, f"{text!r}: direct references (name @ url) are not allowed")
    if _looks_like_path_or_url(text):  # "pkg-1.0.tar.gz" is also a valid package name
        _fail(source, number, f"{text!r}: local paths and URLs are not allowed; name a package")
    return _normalized(req)


def _looks_like_path_or_url(text: str) -> bool:
    # A package name never holds ':', so a leading "scheme:" is a URL (https:, git+ssh:,
    # file:) or a drive letter; "name @ url" is caught later as a direct reference.
    spec = text.split(";", 1)[0].strip().lower()
    return (
        spec.startswith((".", "/", "~", "\\"))
        or _SCHEME.match(spec) is not None
        or spec.endswith(_ARCHIVE_SUFFIXES)
    )


def _normalized(req: Requirement) -> str:
    extras = f"[{','.join(sorted(canonicalize_name(e) for e in req.extras))}]" if req.extras else ""
    marker = f"; {req.marker}" if req.marker else ""
    return f"{canonicalize_name(req.name)}{extras}{req.specifier}{marker}"


def _fail(source: str, number: int, why: str) -> NoReturn:
    raise InvalidRequirements(f"{source}, line {number}: {why}", file=source, line=number)
