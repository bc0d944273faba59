"""The last step of every build: the version's handler imports inside its own sandbox.

A version becomes `ready` only after this check; otherwise it is `failed`, with the
traceback in its error and its build log, and `latest` stays on the last good version. The
pool keeps what the check started (the version's zygote), so the first call after a deploy
is a fast cold start rather than a second import.
"""

from __future__ import annotations

from collections.abc import Callable

from sandlot.domain.errors import SandlotError
from sandlot.worker.interface import FunctionErrorInfo, Pool, VersionSpec


async def check_import(*, pool: Pool, spec: VersionSpec, log: Callable[[str], None]) -> str | None:
    """None when the handler imported; else the text of the version's error. Each step is
    written to `log` (the build log)."""
    log(f"importing {spec.handler} in the function's sandbox")
    try:
        prepared = await pool.prepare(spec)
    except SandlotError as exc:
        # The platform, not the function, could not run the check (the worker is full or
        # lacks the memory). Nothing was verified, so the version cannot become ready.
        log(f"the import check could not run: {exc.message}")
        return f"could not check that {spec.handler} imports ({exc.message}); deploy again"
    if prepared.error is None:
        log(f"{spec.handler} imported in {prepared.init_ms:.0f} ms")
        return None
    if prepared.logs.strip():
        log("output while importing:")
        log(prepared.logs.rstrip("\n"))
    text = failure_text(spec.handler, prepared.error)
    log(text)
    return text


def failure_text(handler: str, error: FunctionErrorInfo) -> str:
    """`the handler ... failed to import: <Type>: <message>`, then the traceback if any."""
    name = error.exception_type or error.kind
    text = f"the handler {handler!r} failed to import: {name}: {error.message}"
    if error.traceback:
        text += "\n" + error.traceback.rstrip("\n")
    return text
