"""Aliases and the deploy history (every move of an alias or of `latest`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from sandlot.domain.aliases import Alias, AliasChange, Route, Routes
from sandlot.domain.errors import AliasChangedMeanwhile
from sandlot.domain.releases import ACTIVE_RELEASE_STATES
from sandlot.storage.db import can_match
from sandlot.storage.release_tables import AliasChangeRow, AliasRow, ReleaseRow


def routes_of(stored: Sequence[dict[str, int]] | None) -> Routes:
    return tuple(Route(version=int(r["version"]), weight=int(r["weight"])) for r in stored or ())


def stored_routes(routes: Routes) -> list[dict[str, int]]:
    return [route.as_dict() for route in routes]


def _alias(row: AliasRow) -> Alias:
    return Alias(
        function_id=row.function_id,
        name=row.name,
        routes=routes_of(row.routes),
        created_at=row.created_at,
        updated_at=row.updated_at,
        updated_by=row.updated_by,
    )


def _change(row: AliasChangeRow) -> AliasChange:
    return AliasChange(
        id=row.id,
        function_id=row.function_id,
        alias=row.alias,
        before=routes_of(row.before),
        after=routes_of(row.after),
        actor=row.actor,
        at=row.at,
        reason=row.reason,
        release_id=row.release_id,
        note=row.note,
    )


class AliasRepo:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, function_id: str, name: str) -> Alias | None:
        if not can_match(name):
            return None
        row = await self.session.get(AliasRow, (function_id, name), populate_existing=True)
        return _alias(row) if row is not None else None

    async def of_function(self, function_id: str) -> list[Alias]:
        rows = await self.session.scalars(
            select(AliasRow).where(AliasRow.function_id == function_id).order_by(AliasRow.name)
        )
        return [_alias(row) for row in rows]

    async def put(
        self, function_id: str, name: str, routes: Routes, *, actor: str, at: datetime
    ) -> Alias:
        """Make the alias or point it elsewhere."""
        # Locked (PostgreSQL) so two moves of one alias write their history in turn.
        row = await self.session.scalar(
            select(AliasRow)
            .where(AliasRow.function_id == function_id, AliasRow.name == name)
            .with_for_update()
        )
        if row is None:
            row = AliasRow(function_id=function_id, name=name, created_at=at)
            self.session.add(row)
        row.routes = stored_routes(routes)
        row.updated_at = at
        row.updated_by = actor
        try:
            await self.session.flush()
        except IntegrityError as exc:  # made at the same moment by another request
            raise AliasChangedMeanwhile(
                f"alias {name!r} was made by another request at the same moment; try again",
                alias=name,
            ) from exc
        return _alias(row)

    async def remove(self, function_id: str, name: str) -> None:
        await self.session.execute(
            delete(AliasRow).where(AliasRow.function_id == function_id, AliasRow.name == name)
        )
        await self.session.flush()

    async def remove_all(self, function_id: str) -> None:
        await self.session.execute(delete(AliasRow).where(AliasRow.function_id == function_id))
        await self.session.flush()

    async def active_releases(self, function_id: str) -> dict[str, str]:
        """Alias name -> the id of the running or paused release that moves it."""
        rows = await self.session.execute(
            select(ReleaseRow.alias, ReleaseRow.id).where(
                ReleaseRow.function_id == function_id,
                ReleaseRow.state.in_([state.value for state in ACTIVE_RELEASE_STATES]),
            )
        )
        return {alias: release_id for alias, release_id in rows.all()}


class AliasChangeRepo:
    """The deploy history, newest first (ids are time-ordered)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, change: AliasChange) -> None:
        self.session.add(
            AliasChangeRow(
                id=change.id,
                function_id=change.function_id,
                alias=change.alias,
                before=stored_routes(change.before),
                after=stored_routes(change.after),
                actor=change.actor,
                at=change.at,
                reason=change.reason,
                release_id=change.release_id,
                note=change.note,
            )
        )
        await self.session.flush()

    async def page(
        self, function_id: str, *, alias: str | None, limit: int, cursor: str | None
    ) -> tuple[list[AliasChange], str | None]:
        """Newest first, older than `cursor` (the previous page's last id)."""
        if not all(can_match(text) for text in (alias, cursor) if text is not None):
            return [], None
        query = select(AliasChangeRow).where(AliasChangeRow.function_id == function_id)
        if alias is not None:
            query = query.where(AliasChangeRow.alias == alias)
        if cursor is not None:
            query = query.where(AliasChangeRow.id < cursor)
        rows = list(
            await self.session.scalars(query.order_by(AliasChangeRow.id.desc()).limit(limit + 1))
        )
        items = [_change(row) for row in rows[:limit]]
        more = len(rows) > limit
        return items, (items[-1].id if more and items else None)

    async def of_alias(self, function_id: str, alias: str, *, limit: int) -> list[AliasChange]:
        items, _ = await self.page(function_id, alias=alias, limit=limit, cursor=None)
        return items

    async def newest(self, function_id: str, alias: str) -> AliasChange | None:
        items = await self.of_alias(function_id, alias, limit=1)
        return items[0] if items else None
