"""Pinned versions: those a caller may still reach, so the pool never retires them on a move.

A version is pinned while `latest` is it, an alias routes any share of its calls to it, or
a running or paused release moves an alias from or to it. Schedules, function URLs and
destinations name aliases, never version numbers, so the aliases cover them. Environments
are kept for every version of a live function (`VersionRepo.env_keys_in_use`), a superset
of these.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from sandlot.domain.models import Function
from sandlot.storage import pins


async def pinned_versions(session: AsyncSession, function: Function) -> set[int]:
    """Read in the caller's transaction: after a move committed, what it points at now."""
    latest = await pins.latest_version(session, function.id)
    pinned = {latest} if latest is not None else set()
    pinned |= await pins.alias_versions(session, function.id)
    pinned |= await pins.release_versions(session, function.id)
    return pinned


async def kept_versions(session: AsyncSession, function: Function) -> set[int]:
    """What a move may not retire: the pinned versions, and those whose build or import
    check runs now (the check holds the version's zygote in the pool)."""
    return await pinned_versions(session, function) | await pins.versions_under_way(
        session, function.id
    )
