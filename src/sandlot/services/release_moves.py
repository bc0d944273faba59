"""How releases read and move their alias: the one seam to `services.aliases`, whose
`move` every alias move goes through (so each one is in the deploy history)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from sandlot.domain.aliases import Route, Routes, single
from sandlot.domain.models import Function
from sandlot.domain.releases import Release
from sandlot.services import aliases


def split(release: Release, weight: int) -> Routes:
    """The alias's routes with `weight` percent on the new version, newest first."""
    if weight >= 100:
        return single(release.to_version)
    return (
        Route(version=release.to_version, weight=weight),
        Route(version=release.from_version, weight=100 - weight),
    )


async def current_routes(session: AsyncSession, function: Function, alias: str) -> Routes:
    """Raises AliasNotFound."""
    found = await aliases.get_alias(session, function, alias)
    return found.routes


async def move(
    session: AsyncSession,
    *,
    function: Function,
    release: Release,
    routes: Routes,
    reason: str,
    actor: str,
    note: str | None = None,
) -> None:
    await aliases.move(
        session,
        function=function,
        alias=release.alias,
        routes=routes,
        actor=actor,
        reason=reason,
        release_id=release.id,
        note=note,
    )
