"""The versions of a function that something points at: its aliases' routes and its active
releases' two ends (read straight from their tables; the repos of aliases and releases
own every write)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from sandlot.domain.releases import ACTIVE_RELEASE_STATES
from sandlot.domain.states import VersionState
from sandlot.storage.release_tables import AliasRow, ReleaseRow
from sandlot.storage.tables import FunctionRow, VersionRow

# A version in these states is being checked or built: the pool holds its import check.
_UNDER_WAY = (VersionState.PENDING.value, VersionState.BUILDING.value)


async def latest_version(session: AsyncSession, function_id: str) -> int | None:
    """By id: a function deleted and made again under its name is another one."""
    query = select(FunctionRow.latest_version).where(FunctionRow.id == function_id)
    return (await session.execute(query)).scalar_one_or_none()


async def versions_under_way(session: AsyncSession, function_id: str) -> set[int]:
    query = select(VersionRow.number).where(
        VersionRow.function_id == function_id, VersionRow.state.in_(_UNDER_WAY)
    )
    return set(await session.scalars(query))


async def alias_versions(session: AsyncSession, function_id: str) -> set[int]:
    """Every version some alias of the function routes a share of its calls to."""
    query = select(AliasRow.routes).where(AliasRow.function_id == function_id)
    return {
        int(route["version"])
        for routes in await session.scalars(query)
        for route in routes or ()
        if "version" in route
    }


async def release_versions(session: AsyncSession, function_id: str) -> set[int]:
    """Both ends of each running or paused release: a paused one may still go either way."""
    query = select(ReleaseRow.from_version, ReleaseRow.to_version).where(
        ReleaseRow.function_id == function_id,
        ReleaseRow.state.in_([state.value for state in ACTIVE_RELEASE_STATES]),
    )
    return {number for row in (await session.execute(query)).all() for number in row}
