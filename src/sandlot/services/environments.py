"""Listing and garbage-collecting dependency environments (an operator's job)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from sandlot.domain.models import ROLE_CAN_MANAGE_KEYS, Principal
from sandlot.envs import Environment
from sandlot.services.auth import require_role
from sandlot.services.builds import Builder
from sandlot.storage.functions import VersionRepo


async def list_environments(
    *, session: AsyncSession, principal: Principal, builder: Builder
) -> tuple[list[Environment], set[str]]:
    """Every environment on this machine and the keys some live version uses."""
    require_role(principal, ROLE_CAN_MANAGE_KEYS, "manage environments")
    in_use = await VersionRepo(session).env_keys_in_use()
    return await builder.store.list_environments(), in_use


async def prune(*, principal: Principal, builder: Builder, grace_s: float | None) -> list[str]:
    """Remove environments that no live version uses and that were unused for `grace_s`."""
    require_role(principal, ROLE_CAN_MANAGE_KEYS, "manage environments")
    return await builder.collect_garbage(grace_s)
