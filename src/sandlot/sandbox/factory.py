"""Pick the starter the settings ask for: the sandbox (strict) or plain processes (insecure-dev)."""

from __future__ import annotations

from sandlot.config import SandboxMode, Settings
from sandlot.domain.errors import ServiceUnavailable
from sandlot.sandbox.probe import probe_host, required_missing
from sandlot.sandbox.spec import Starter


def make_starter(settings: Settings) -> Starter:
    """Strict mode refuses to start without every required layer, and says which are missing."""
    if settings.sandbox is SandboxMode.INSECURE_DEV:
        from sandlot.sandbox.plain import PlainStarter

        return PlainStarter()
    missing = required_missing(probe_host())
    if missing:
        names = ", ".join(r.name for r in missing)
        raise ServiceUnavailable(
            f"this host lacks sandbox layers that strict mode requires: {names}. "
            "Run `sandlot doctor` for details, or start with SANDLOT_SANDBOX=insecure-dev "
            "for development only.",
            missing={r.name: r.detail for r in missing},
        )
    from sandlot.sandbox.starter import SandboxStarter

    return SandboxStarter(settings.run_dir / "sandbox", uid_base=settings.sandbox_uid_base)
