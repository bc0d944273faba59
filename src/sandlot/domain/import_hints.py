"""Imports that would only work on AWS Lambda by accident, found at deploy.

Lambda's Python runtime ships boto3 (and with it botocore, s3transfer, python-dateutil,
jmespath, urllib3), so a function that imports one of those without declaring it works
there and fails here, where a function sees only the standard library, its own files and
what it declares. A build reads the function's modules and says, for each top-level import
that none of those provides, which package to add. A warning, never a refusal: a module
may add to `sys.path` itself, or import something only on a path that never runs.

Only statements that run when the module is imported count: those at module level and
under module-level `if`/`try`/`with`. Skipped by intent: relative imports (the function's
own), `__future__`, imports under `if TYPE_CHECKING:` (never run), and imports inside a
`try` whose `except` catches ImportError (optional: the module copes without them).

Pure: the caller reads the files and the environment and passes their names in.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator, Mapping, Sequence, Set
from dataclasses import dataclass

# Where the import name is not the name to install. No library maps one to the other
# without the package installed (importlib.metadata.packages_distributions needs it), and
# the point here is that it is not, so this is a short hand-kept list of the common ones.
# Dotted keys name a module inside a shared namespace package (google.*); the longest
# match wins. Any other name is suggested as itself, which is right for most packages.
PYPI_NAMES: Mapping[str, str] = {
    "Bio": "biopython",
    "Crypto": "pycryptodome",
    "Cryptodome": "pycryptodomex",
    "MySQLdb": "mysqlclient",
    "OpenSSL": "pyOpenSSL",
    "PIL": "Pillow",
    "attr": "attrs",
    "bs4": "beautifulsoup4",
    "cv2": "opencv-python",
    "dateutil": "python-dateutil",
    "dns": "dnspython",
    "docx": "python-docx",
    "dotenv": "python-dotenv",
    "fitz": "PyMuPDF",
    "git": "GitPython",
    "google.protobuf": "protobuf",
    "google.cloud.storage": "google-cloud-storage",
    "google.cloud.bigquery": "google-cloud-bigquery",
    "google.cloud.pubsub": "google-cloud-pubsub",
    "grpc": "grpcio",
    "jose": "python-jose",
    "jwt": "PyJWT",
    "kafka": "kafka-python",
    "magic": "python-magic",
    "multipart": "python-multipart",
    "nacl": "PyNaCl",
    "opensearchpy": "opensearch-py",
    "pkg_resources": "setuptools",
    "pptx": "python-pptx",
    "psycopg2": "psycopg2-binary",
    "serial": "pyserial",
    "skimage": "scikit-image",
    "sklearn": "scikit-learn",
    "slugify": "python-slugify",
    "socks": "PySocks",
    "websocket": "websocket-client",
    "yaml": "PyYAML",
    "zmq": "pyzmq",
}

# What Lambda's runtime itself provides: these get a sentence that says so.
LAMBDA_RUNTIME = frozenset({"boto3", "botocore", "s3transfer", "awslambdaric"})

# One deploy's warnings stay readable: past this many imports, one line counts the rest.
MAX_HINTS = 20

_OPTIONAL = frozenset({"ImportError", "ModuleNotFoundError", "Exception", "BaseException"})


def pypi_name(module: str) -> str:
    """The package that installs `module` (a dotted import name)."""
    parts = module.split(".")
    for end in range(len(parts), 0, -1):
        known = PYPI_NAMES.get(".".join(parts[:end]))
        if known is not None:
            return known
    return parts[0]


def required_imports(source: str) -> set[str] | None:
    """The dotted names a module imports, unconditionally, when it is imported; None when
    the source does not parse (the build's import check reports that, not this)."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    return set(_imports(tree.body))


def _imports(body: Sequence[ast.stmt]) -> Iterator[str]:
    for statement in body:
        match statement:
            case ast.Import(names=names):
                yield from (alias.name for alias in names)
            case ast.ImportFrom(module=str(module), level=0) if module != "__future__":
                yield module
            case ast.If(test=test, body=then, orelse=orelse):
                if not _is_type_checking(test):
                    yield from _imports(then)
                yield from _imports(orelse)
            case (
                ast.Try(body=tried, handlers=handlers, orelse=orelse, finalbody=final)
                | ast.TryStar(body=tried, handlers=handlers, orelse=orelse, finalbody=final)
            ):
                if not any(_catches_import_error(handler) for handler in handlers):
                    yield from _imports(tried)
                    yield from _imports(orelse)
                for handler in handlers:
                    yield from _imports(handler.body)
                yield from _imports(final)
            case ast.With(body=inner) | ast.AsyncWith(body=inner):
                yield from _imports(inner)


def _is_type_checking(test: ast.expr) -> bool:
    match test:
        case ast.Name(id="TYPE_CHECKING") | ast.Attribute(attr="TYPE_CHECKING"):
            return True
    return False


def _catches_import_error(handler: ast.ExceptHandler) -> bool:
    if handler.type is None:
        return True  # a bare except catches it too
    caught = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    return any(_exception_name(each) in _OPTIONAL for each in caught)


def _exception_name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


@dataclass(frozen=True)
class MissingImport:
    """A top-level import name no part of the function provides, and who imports it."""

    name: str  # the top-level module, `dateutil`
    dotted: str  # the first full name imported, `dateutil.parser` (for namespace packages)
    files: tuple[str, ...]  # the function's files that import it, sorted

    @property
    def package(self) -> str:
        return pypi_name(self.dotted)

    def text(self, declare_in: str) -> str:
        who = _importers(self.files)
        verb = "imports" if len(self.files) == 1 else "import"
        if self.name in LAMBDA_RUNTIME:
            return (
                f"{who} {verb} {self.name}, which AWS Lambda's runtime ships and Sandlot "
                f"does not: add {self.package} to {declare_in}"
            )
        return (
            f"{who} {verb} {self.name}, which no dependency provides: "
            f"add {self.package} to {declare_in}"
        )


def _importers(files: Sequence[str]) -> str:
    if len(files) == 1:
        return files[0]
    if len(files) == 2:
        return f"{files[0]} and {files[1]}"
    return f"{files[0]}, {files[1]} and {len(files) - 2} more file(s)"


def missing_imports(
    sources: Mapping[str, str],
    *,
    own: Set[str],
    provided: Set[str],
    stdlib: Set[str] = sys.stdlib_module_names,
) -> list[MissingImport]:
    """Per top-level name, sorted: what `sources` (path -> text) import that is neither
    in `stdlib`, the function's `own` modules, nor `provided` by its environment.

    `stdlib` defaults to this interpreter's: the Python functions run on is the server's
    (same minor version), so its list is theirs."""
    found: dict[str, tuple[str, set[str]]] = {}
    for path in sorted(sources):
        for dotted in sorted(required_imports(sources[path]) or ()):
            top = dotted.split(".")[0]
            if top in stdlib or top in own or top in provided:
                continue
            found.setdefault(top, (dotted, set()))[1].add(path)
    return [
        MissingImport(name=top, dotted=dotted, files=tuple(sorted(files)))
        for top, (dotted, files) in sorted(found.items())
    ]


def warnings_for(missing: Sequence[MissingImport], *, declare_in: str) -> list[str]:
    """One line per missing import (at most MAX_HINTS, then one that counts the rest)."""
    lines = [each.text(declare_in) for each in missing[:MAX_HINTS]]
    if len(missing) > MAX_HINTS:
        lines.append(f"and {len(missing) - MAX_HINTS} more import(s) that no dependency provides")
    return lines


def declaration_place(source: str | None) -> str:
    """Where to add a package, given the file that declares the requirements (None: none
    does yet, and requirements.txt is the simplest to start)."""
    if source is None or source == "requirements.txt":
        return "requirements.txt"
    if source == "pyproject.toml":
        return "[project] dependencies in pyproject.toml"
    return f"the `# /// script` dependencies of {source}"
