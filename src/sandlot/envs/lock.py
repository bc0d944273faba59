"""Resolving requirements to a lock: exact versions and hashes, for one target interpreter.

A `Lock` is what a version stores. Its text is canonical (entries sorted by name, hashes
sorted) so that the same resolution always has the same `hash`, whatever order uv wrote
it in, and a lock read back from storage hashes exactly as it did when it was made.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from sandlot.domain.errors import InvalidRequirements
from sandlot.envs.declare import Requirements
from sandlot.envs.target import BuildOptions, Target
from sandlot.envs.uvrun import LogFn, index_args, run_uv, uv_env

_HASH_SPLIT = re.compile(r"\s+(?=--hash)")
_HASH = re.compile(r"^--hash=(sha256|sha384|sha512):[0-9a-f]+$")


@dataclass(frozen=True)
class LockedPackage:
    name: str
    version: str


@dataclass(frozen=True)
class Lock:
    """A pinned, hashed requirements file and the sha256 of its canonical text."""

    text: str
    hash: str
    packages: tuple[LockedPackage, ...]

    @classmethod
    def from_text(cls, text: str) -> Lock:
        """Parse and canonicalize a lock (uv's output, or one read back from storage).

        Every entry must be `name==version` with at least one hash: anything looser would
        let an install resolve again or fetch something the lock did not name.
        """
        entries = sorted(_parse_entry(line, n) for n, line in _entries(text))
        canonical = "".join(_render(spec, hashes) for _, spec, hashes, _ in entries)
        return cls(
            text=canonical,
            hash=hashlib.sha256(canonical.encode()).hexdigest(),
            packages=tuple(package for _, _, _, package in entries),
        )


def _entries(text: str) -> list[tuple[int, str]]:
    """(line number, entry) with comments dropped and backslash continuations joined."""
    out: list[tuple[int, str]] = []
    pending, start = "", 0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0] if raw.lstrip().startswith("#") else raw
        if not pending:
            start = number
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        entry = (pending + line).strip()
        pending = ""
        if entry:
            out.append((start, entry))
    if pending.strip():
        out.append((start, pending.strip()))
    return out


def _parse_entry(entry: str, number: int) -> tuple[str, str, tuple[str, ...], LockedPackage]:
    spec, *hashes = _HASH_SPLIT.split(entry)
    if not hashes or not all(_HASH.match(h) for h in hashes):
        _bad(number, entry, "every entry needs --hash=<algorithm>:<hex>")
    try:
        req = Requirement(spec)
    except InvalidRequirement as exc:
        _bad(number, entry, str(exc))
    pins = list(req.specifier)
    if req.url or len(pins) != 1 or pins[0].operator != "==" or "*" in pins[0].version:
        _bad(number, entry, "every entry must be pinned as name==version")
    name = canonicalize_name(req.name)
    package = LockedPackage(name=name, version=pins[0].version)
    marker = f"; {req.marker}" if req.marker else ""
    extras = f"[{','.join(sorted(req.extras))}]" if req.extras else ""
    return name, f"{name}{extras}=={package.version}{marker}", tuple(sorted(hashes)), package


def _render(spec: str, hashes: tuple[str, ...]) -> str:
    return spec + "".join(f" \\\n    {h}" for h in hashes) + "\n"


def _bad(number: int, entry: str, why: str) -> NoReturn:
    raise InvalidRequirements(f"lock, line {number}: {why}: {entry!r}", file="lock", line=number)


async def resolve(
    requirements: Requirements,
    *,
    options: BuildOptions,
    target: Target,
    cache_dir: Path,
    work_dir: Path,
    log: LogFn | None = None,
) -> Lock:
    """Resolve with `uv pip compile` against the operator's indexes, for `target`.

    `cache_dir` is uv's cache. `work_dir` is an empty directory of Sandlot's, used as
    uv's working directory and HOME so that it finds no project or user configuration.
    """
    args = [
        "pip",
        "compile",
        *index_args(options, target),
        "--generate-hashes",
        "--no-header",
        "--no-annotate",
        "--quiet",  # the resolution goes to stdout; errors still reach stderr
        "-",
    ]
    env = uv_env(options, cache_dir=cache_dir, home=work_dir)
    result = await run_uv(
        args,
        env=env,
        cwd=work_dir,
        timeout_s=options.build_timeout_s,
        log=log,
        stdin=requirements.text.encode(),
        what=f"resolving the requirements in {requirements.source}",
    )
    return Lock.from_text(result.stdout)
