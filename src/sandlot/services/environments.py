"""Listing and garbage-collecting dependency environments (an operator's job)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from sandlot.domain.actions import Action
from sandlot.domain.models import Principal
from sandlot.envs import Environment
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


async def prune(*, principal: Principal, builder: Builder, grace_s: float | None) -> list[str]:
    """Remove environments that no live version uses and that were unused for `grace_s`."""
    authorize(principal, Action.ENVIRONMENT_MANAGE)
    return await builder.collect_garbage(grace_s)
