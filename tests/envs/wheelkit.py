"""Tiny wheels and sdists built by hand, so dependency tests run offline and exactly.

`write_wheel` uses only the standard library because its source is also copied into the
in-tree build backend of the sdists below, which uv runs in an isolated build environment.
"""

from __future__ import annotations

import inspect
import io
import tarfile
import textwrap
from collections.abc import Sequence
from pathlib import Path


def write_wheel(
    directory: str,
    name: str,
    version: str,
    requires: Sequence[str] = (),
    payload_bytes: int = 0,
    module: str | None = None,
) -> str:
    """Write `<name>-<version>-py3-none-any.whl` holding module `module` (default: `name`,
    which must then be an identifier); its file name."""
    import base64
    import hashlib
    import os
    import zipfile

    module = module or name
    # A wheel's file and dist-info names spell a distribution's dashes as underscores.
    stem = name.replace("-", "_")
    dist = f"{stem}-{version}.dist-info"
    metadata = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    metadata += "".join(f"Requires-Dist: {r}\n" for r in requires)
    files = {
        f"{module}/__init__.py": f"VERSION = {version!r}\n".encode(),
        f"{dist}/METADATA": metadata.encode(),
        f"{dist}/WHEEL": b"Wheel-Version: 1.0\nGenerator: wheelkit\nRoot-Is-Purelib: true\n"
        b"Tag: py3-none-any\n",
    }
    if payload_bytes:
        files[f"{module}/payload.bin"] = b"\0" * payload_bytes
    record = []
    filename = f"{stem}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(os.path.join(directory, filename), "w", zipfile.ZIP_DEFLATED) as whl:
        for path, data in files.items():
            whl.writestr(path, data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
            record.append(f"{path},sha256={digest.decode()},{len(data)}")
        record.append(f"{dist}/RECORD,,")
        whl.writestr(f"{dist}/RECORD", "\n".join(record) + "\n")
    return filename


_BACKEND = """from __future__ import annotations
import os, time

NAME, VERSION, MODE, SLEEP_S, PIDFILE = {name!r}, {version!r}, {mode!r}, {sleep_s!r}, {pidfile!r}

{write_wheel}

def get_requires_for_build_wheel(config_settings=None):
    return []

def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    dist = f"{{NAME}}-{{VERSION}}.dist-info"
    os.makedirs(os.path.join(metadata_directory, dist))
    with open(os.path.join(metadata_directory, dist, "METADATA"), "w") as f:
        f.write(f"Metadata-Version: 2.1\\nName: {{NAME}}\\nVersion: {{VERSION}}\\n")
    return dist

def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    if PIDFILE:
        with open(PIDFILE, "w") as f:
            f.write(str(os.getpid()))
    if MODE == "fail":
        raise RuntimeError("gcc: fatal error: Python.h: No such file or directory")
    time.sleep(SLEEP_S)
    return write_wheel(wheel_directory, NAME, VERSION)
"""


def write_sdist(
    directory: Path,
    name: str,
    version: str,
    *,
    mode: str = "ok",
    sleep_s: float = 0.0,
    pidfile: Path | None = None,
) -> Path:
    """An sdist whose build backend ships inside it, so building it needs no network.

    `mode="fail"` makes `build_wheel` raise as a failed C compile would; `sleep_s` makes
    the build slow; `pidfile` receives the backend's process id.
    """
    backend = _BACKEND.format(
        name=name,
        version=version,
        mode=mode,
        sleep_s=sleep_s,
        pidfile=str(pidfile) if pidfile else "",
        write_wheel=textwrap.dedent(inspect.getsource(write_wheel)),
    )
    pyproject = (
        '[build-system]\nrequires = []\nbuild-backend = "backend"\nbackend-path = ["."]\n'
        f'\n[project]\nname = "{name}"\nversion = "{version}"\n'
    )
    return _tar(directory, name, version, {"pyproject.toml": pyproject, "backend.py": backend})


def write_setup_py_sdist(directory: Path, name: str, version: str) -> Path:
    """A legacy sdist: building it needs setuptools, which an offline index cannot supply."""
    return _tar(directory, name, version, {"setup.py": "raise SystemExit('never runs')\n"})


def _tar(directory: Path, name: str, version: str, files: dict[str, str]) -> Path:
    base = f"{name}-{version}"
    files = {**files, "PKG-INFO": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"}
    path = directory / f"{base}.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for member, text in sorted(files.items()):
            data = text.encode()
            info = tarfile.TarInfo(f"{base}/{member}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path
