"""Whether this host can enforce network egress policies.

A stub until the enforcement lands (egress-kernel replaces this module, keeping its
name and `egress_support()`): it says no, so a strict server refuses every policy but
`none` rather than run one open.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EgressSupport:
    ok: bool
    reason: str


def egress_support() -> EgressSupport:
    return EgressSupport(ok=False, reason="egress enforcement is not built into this server yet")
