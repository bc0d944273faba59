"""A build's import hints: the function's imports that nothing it ships or declares provides.

Runs after the environment is installed (what the dependencies provide is then on disk) and
before the import check, so that a version whose handler fails on such an import has the
hint in its build log beside the traceback. See `domain.import_hints` for what counts.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from sandlot.domain import import_hints
from sandlot.envs import modules

log = logging.getLogger(__name__)


async def import_warnings(
    *, code_dir: Path, site_packages: Path | None, declared_in: str | None
) -> list[str]:
    """The warnings to show (empty when every import is accounted for). `declared_in` is
    the file that declares the function's requirements, None if none does. Never raises:
    a hint is advice, and a scan that breaks must not fail a build."""
    try:
        return await asyncio.to_thread(_scan, code_dir, site_packages, declared_in)
    except Exception:
        log.exception("scanning the imports of %s failed; no import hints", code_dir)
        return []


def _scan(code_dir: Path, site_packages: Path | None, declared_in: str | None) -> list[str]:
    vendored = modules.vendored_names(code_dir)
    provided = vendored | (modules.importable_names(site_packages) if site_packages else set())
    missing = import_hints.missing_imports(
        modules.python_sources(code_dir, skip=vendored),
        own=modules.own_module_names(code_dir),
        provided=provided,
    )
    return import_hints.warnings_for(
        missing, declare_in=import_hints.declaration_place(declared_in)
    )
