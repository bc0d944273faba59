"""Listing and garbage-collecting dependency environments (an operator's job)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from sandlot.domain.actions import Action
from sandlot.domain.models import Principal
from sandlot.envs import Environment
from sandlot.services import audit
from sandlot.services.authz import authorize
from sandlot.services.builds import Builder
from sandlot.storage.functions import VersionRepo


async def list_environments(
    *, session: AsyncSession, principal: Principal, builder: Builder
) -> tuple[list[Environment], set[str]]:
    """Every environment on this machine and the keys some live version uses."""
    authorize(principal, Action.ENVIRONMENT_MANAGE)
    in_use = await VersionRepo(session).env_keys_in_use()
    return await builder.store.list_environments(), in_use


# How many removed environments an audit event names; the count says how many in all.
_AUDITED_KEYS = 20


async def prune(
    *, session: AsyncSession, principal: Principal, builder: Builder, grace_s: float | None
) -> list[str]:
    """Remove environments that no live version uses and that were unused for `grace_s`.

    Removing is on disk, not in the transaction: the audit event says what went, and the
    caller commits it right after."""
    authorize(principal, Action.ENVIRONMENT_MANAGE)
    removed = await builder.collect_garbage(grace_s)
    await audit.record(
        session,
        principal=principal,
        action="environment.prune",
        target="environments",
        detail={
            "grace_s": grace_s,
            "removed_count": len(removed),
            "removed": removed[:_AUDITED_KEYS],
        },
    )
    return removed
