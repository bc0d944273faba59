"""Checking and unpacking uploaded zips, and finding the handler in them statically.

Every check happens before anything touches the disk: a zip is hostile input.
"""

from __future__ import annotations

import ast
import hashlib
import io
import secrets
import shutil
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from sandlot.domain.errors import HandlerNotFound, HandlerSyntaxError, InvalidArchive, InvalidInput
from sandlot.domain.limits import split_handler

_CHUNK = 1 << 16


@dataclass(frozen=True)
class ArchiveLimits:
    max_unpacked_bytes: int
    max_files: int


@dataclass(frozen=True)
class CheckedArchive:
    data: bytes
    sha256: str
    files: frozenset[str]
    unpacked_bytes: int


def _safe_name(info: zipfile.ZipInfo) -> str:
    name = info.filename
    # Unix zips keep the file type in the high bits; zero means "unknown": a plain file.
    kind = stat.S_IFMT(info.external_attr >> 16)
    if kind == stat.S_IFLNK:
        raise InvalidArchive(f"archive entry {name!r} is a symbolic link; links are not allowed")
    if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
        raise InvalidArchive(f"archive entry {name!r} is not a regular file or folder")
    if "\0" in name or "\\" in name:
        raise InvalidArchive(f"archive entry {name!r} has a NUL byte or backslash in its name")
    path = PurePosixPath(name)
    if path.is_absolute() or (path.parts and ":" in path.parts[0]):
        raise InvalidArchive(f"archive entry {name!r} is an absolute path")
    if ".." in path.parts:
        raise InvalidArchive(f"archive entry {name!r} escapes the folder ('..')")
    return str(path)


def check_archive(data: bytes, limits: ArchiveLimits) -> CheckedArchive:
    """Reject corrupt zips, entries that escape the folder, links and zip bombs."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError) as exc:
        raise InvalidArchive(f"the code is not a valid zip archive: {exc}") from exc
    with archive:
        infos = archive.infolist()
        if len(infos) > limits.max_files:
            raise InvalidArchive(
                f"archive has {len(infos)} entries; at most {limits.max_files} are allowed",
                max_files=limits.max_files,
            )
        files = set()
        declared = 0
        for info in infos:
            name = _safe_name(info)
            declared += info.file_size
            if not info.is_dir():
                files.add(name)
        _check_size(declared, limits)
        # Headers can lie about sizes, so also count the bytes that really come out.
        unpacked = sum(_entry_size(archive, info, limits) for info in infos if not info.is_dir())
    return CheckedArchive(
        data=data,
        sha256=hashlib.sha256(data).hexdigest(),
        files=frozenset(files),
        unpacked_bytes=unpacked,
    )


def _check_size(size: int, limits: ArchiveLimits) -> None:
    if size > limits.max_unpacked_bytes:
        raise InvalidArchive(
            f"archive unpacks to more than {limits.max_unpacked_bytes} bytes",
            max_unpacked_bytes=limits.max_unpacked_bytes,
        )


def _entry_size(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limits: ArchiveLimits) -> int:
    total = 0
    try:
        with archive.open(info) as entry:
            while chunk := entry.read(_CHUNK):
                total += len(chunk)
                _check_size(total, limits)
    except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, ValueError) as exc:
        raise InvalidArchive(f"archive entry {info.filename!r} is corrupt: {exc}") from exc
    return total


def unpack(archive: CheckedArchive, dest: Path) -> None:
    """Unpack a checked archive into `dest` atomically (a temporary folder, then rename)."""
    if dest.exists():
        return
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.tmp-{secrets.token_hex(4)}")
    tmp.mkdir()
    try:
        _extract(archive, tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)  # a full disk must not keep half an upload
        raise
    try:
        tmp.rename(dest)
    except OSError:
        # Another request unpacked the same code first; theirs is identical.
        shutil.rmtree(tmp, ignore_errors=True)


def _extract(archive: CheckedArchive, tmp: Path) -> None:
    with zipfile.ZipFile(io.BytesIO(archive.data)) as zipped:
        for info in zipped.infolist():
            target = tmp / _safe_name(info)
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            with zipped.open(info) as source, target.open("wb") as sink:
                shutil.copyfileobj(source, sink, _CHUNK)
            target.chmod(0o644)
    for folder in [tmp, *(p for p in tmp.rglob("*") if p.is_dir())]:
        folder.chmod(0o755)


def module_path(files: frozenset[str], module: str) -> str | None:
    base = module.replace(".", "/")
    for candidate in (f"{base}.py", f"{base}/__init__.py"):
        if candidate in files:
            return candidate
    return None


def check_handler(archive: CheckedArchive, handler: str) -> None:
    """Fail a deploy whose handler cannot exist; dynamic definitions are left to invoke time."""
    module, function = split_handler(handler)
    path = module_path(archive.files, module)
    if path is None:
        python_files = sorted(f for f in archive.files if f.endswith(".py"))[:10]
        raise HandlerNotFound(
            f"handler module {module!r} is not in the archive: expected "
            f"{module.replace('.', '/')}.py at the top of the zip",
            handler=handler,
            python_files=python_files,
        )
    with zipfile.ZipFile(io.BytesIO(archive.data)) as zipped:
        source = zipped.read(path)
    try:
        tree = ast.parse(source, filename=path)
    except (SyntaxError, ValueError) as exc:
        line = getattr(exc, "lineno", None)
        raise HandlerSyntaxError(
            f"{path} does not compile: {exc}", handler=handler, file=path, line=line
        ) from exc
    if not _may_define(tree, function):
        raise HandlerNotFound(
            f"module {module!r} ({path}) defines no top-level {function!r}",
            handler=handler,
        )


def _may_define(tree: ast.Module, name: str) -> bool:
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            if node.name in (name, "__getattr__"):
                return True
        elif isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(_binds(target, name) for target in targets):
                return True
        elif isinstance(node, ast.Import | ast.ImportFrom):
            for alias in node.names:
                bound = alias.asname or alias.name.split(".")[0]
                if alias.name == "*" or bound == name:
                    return True
        elif not isinstance(node, ast.Expr):
            # try/if/with blocks may define it conditionally: give the benefit of the doubt.
            return True
    return False


def _binds(target: ast.expr, name: str) -> bool:
    if isinstance(target, ast.Name):
        return target.id == name
    if isinstance(target, ast.Tuple | ast.List):
        return any(_binds(element, name) for element in target.elts)
    return False


# Fixed metadata, so that the same files always make the same bytes (and the same sha256:
# a deploy of unchanged files from the browser shares its code blob with the last one).
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)
_ZIP_FILE_MODE = (stat.S_IFREG | 0o644) << 16


def zip_texts(files: dict[str, str], *, max_files: int) -> bytes:
    """A zip of text files by path, for deploys that send files rather than a zip.

    Paths are checked here only for what a zip cannot say (empty names, folders, the same
    file twice); everything else (`..`, absolute paths, sizes) is `check_archive`'s, as for
    any uploaded zip."""
    if len(files) > max_files:
        raise InvalidInput(
            f"{len(files)} files were sent; at most {max_files} are allowed", max_files=max_files
        )
    seen: set[str] = set()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(files):
            path = _text_file_path(name)
            if path in seen:
                raise InvalidInput(f"the file {path!r} was sent twice", path=path)
            seen.add(path)
            entry = zipfile.ZipInfo(path, date_time=_ZIP_DATE)
            entry.external_attr = _ZIP_FILE_MODE
            entry.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(entry, files[name].encode("utf-8"))
    return buffer.getvalue()


def _text_file_path(name: str) -> str:
    if name.strip() == "" or name.endswith("/"):
        raise InvalidInput(f"{name!r} is not a file's path", path=name)
    return str(PurePosixPath(name))
