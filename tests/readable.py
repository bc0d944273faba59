"""A copy of what a process run as another (unprivileged) user needs, where that user can
read it.

The checkout and its venv may live where only their owner can enter (a clone under /root,
mode 0700), so tests that run something as `nobody` never point it into the checkout: they
get this package's sources and the site-packages entries their modules import, copied once
per session into a directory under /tmp that everyone may read.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import sandlot

# Prints the top-level site-packages entries (packages, modules, extension files) that
# importing the given modules loads.
_IMPORTED_ENTRIES = """
import importlib, sys
from pathlib import Path
site = Path(sys.argv[1])
for name in sys.argv[2:]:
    importlib.import_module(name)
entries = set()
for module in list(sys.modules.values()):
    path = Path(getattr(module, "__file__", None) or "/")
    if path.is_relative_to(site):
        entries.add(path.relative_to(site).parts[0])
print("\\n".join(sorted(entries)))
"""


@dataclass(frozen=True)
class ReadableCopy:
    root: Path
    src: Path  # holds the `sandlot` package
    site: Path  # the site-packages entries it needs

    @property
    def python_path(self) -> str:
        return f"{self.src}{os.pathsep}{self.site}"


def site_packages() -> Path:
    return Path(next(p for p in sys.path if p.endswith("site-packages")))


def make_readable_copy(modules: Sequence[str]) -> ReadableCopy:
    """Copy `sandlot` and what importing `modules` loads from site-packages to a new
    world-readable directory; remove it with `shutil.rmtree(copy.root)`."""
    root = Path(tempfile.mkdtemp(prefix="sandlot-readable-", dir="/tmp"))
    copy = ReadableCopy(root, root / "src", root / "site")
    site = site_packages()
    listed = subprocess.run(
        [sys.executable, "-c", _IMPORTED_ENTRIES, str(site), *modules],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    skip = shutil.ignore_patterns("__pycache__")
    shutil.copytree(Path(sandlot.__file__).parent, copy.src / "sandlot", ignore=skip)
    copy.site.mkdir()
    for entry in listed.stdout.split():
        source = site / entry
        if source.is_dir():
            shutil.copytree(source, copy.site / entry, ignore=skip)
        else:
            shutil.copy2(source, copy.site / entry)
    _open_to_all(root)
    return copy


def _open_to_all(root: Path) -> None:
    """Directories 0755 and files 0644 (0755 if executable), whatever the umask made."""
    for path in [root, *root.rglob("*")]:
        mode = stat.S_IMODE(path.lstat().st_mode)
        if path.is_symlink():
            continue
        executable = path.is_dir() or mode & stat.S_IXUSR
        path.chmod(0o755 if executable else 0o644)
