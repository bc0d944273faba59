"""Which interpreter environments are built for, and the build options an operator sets."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from sandlot.config import Settings

# Host facts that a build needs to reach an index through a proxy or a private CA. They are
# not Sandlot settings, and nothing else from the server's environment reaches uv.
NETWORK_ENV = (
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "all_proxy",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
)

_PROBE = """
import json, platform, sys, sysconfig
libc, libc_version = platform.libc_ver()
print(json.dumps({
    "version": "%d.%d.%d" % sys.version_info[:3],
    "cache_tag": sys.implementation.cache_tag,
    "platform": sysconfig.get_platform(),
    "libc": (libc + libc_version) or "none",
}))
"""


@dataclass(frozen=True)
class Target:
    """The interpreter that functions run on; environments are built for exactly it.

    `tag` is what makes two interpreters interchangeable for an environment: the same
    implementation and minor version (compiled extensions and .pyc files), platform and
    C library (manylinux wheels). The interpreter's path and patch version are not in it.
    """

    python: Path
    version: str
    cache_tag: str
    platform: str
    libc: str

    @property
    def tag(self) -> str:
        return f"{self.cache_tag}-{self.platform}-{self.libc}"


def base_python() -> Path:
    """The base interpreter under the server's venv: the one functions run `-I -S` on."""
    name = f"python{sys.version_info.major}.{sys.version_info.minor}"
    for candidate in (Path(sys.base_prefix) / "bin" / name, Path(sys.base_prefix) / "bin/python3"):
        if candidate.exists():
            return candidate
    return Path(sys.executable)


async def detect_target(python: Path | None = None) -> Target:
    """Ask `python` (default: `base_python()`) what it is, without site hooks."""
    python = python or base_python()
    proc = await asyncio.create_subprocess_exec(
        str(python),
        "-I",
        "-S",
        "-c",
        _PROBE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={"LANG": "C.UTF-8"},
    )
    out, err = await proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"cannot run {python}: {err.decode(errors='replace').strip()}")
    info = json.loads(out)
    return Target(python=python, **info)


@dataclass(frozen=True)
class BuildOptions:
    """Where packages come from and the limits on a build; see `Settings` for each."""

    index_url: str | None = None
    extra_index_urls: tuple[str, ...] = ()
    find_links: tuple[str, ...] = ()
    build_timeout_s: float = 600.0
    max_env_bytes: int = 1024 * 1024 * 1024
    env_gc_grace_s: float = 24 * 3600.0
    network_env: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: Settings) -> BuildOptions:
        """Options from settings; called where the process is assembled, as settings are."""
        return cls(
            index_url=settings.package_index_url,
            extra_index_urls=tuple(settings.extra_index_urls),
            find_links=tuple(settings.find_links),
            build_timeout_s=settings.build_timeout_s,
            max_env_bytes=settings.max_env_bytes,
            env_gc_grace_s=settings.env_gc_grace_s,
            network_env={k: os.environ[k] for k in NETWORK_ENV if k in os.environ},
        )

    @property
    def no_index(self) -> bool:
        """Find-links alone means "only these", not "these and PyPI"."""
        return bool(self.find_links) and not self.index_url and not self.extra_index_urls
