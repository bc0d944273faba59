"""A namespace's quota limits, and the stored use they are checked against."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from sandlot.domain.quotas import QuotaLimits, QuotaName, env_bytes
from sandlot.storage.tables import FunctionRow, NamespaceRow, QuotaRow, VersionRow


@dataclass(frozen=True)
class FunctionSize:
    """What a live function's newest version holds of the namespace's code and
    configuration quotas."""

    function_id: str
    code_bytes: int
    env_bytes: int


class QuotaRepo:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def overrides(self, namespace_id: str) -> dict[QuotaName, int]:
        """The namespace's own limits; a quota not in it takes the default."""
        row = await self.session.get(QuotaRow, namespace_id)
        if row is None:
            return {}
        found = {name: getattr(row, name.value) for name in QuotaLimits.names()}
        return {name: value for name, value in found.items() if value is not None}

    async def put(self, namespace_id: str, changes: dict[QuotaName, int | None]) -> None:
        """Set (an int) or clear (None: back to the default) some of the namespace's limits."""
        row = await self.session.get(QuotaRow, namespace_id)
        if row is None:
            row = QuotaRow(namespace_id=namespace_id, updated_at=datetime.now(UTC))
            self.session.add(row)
        for name, value in changes.items():
            setattr(row, name.value, value)
        row.updated_at = datetime.now(UTC)
        await self.session.flush()

    async def lock_namespace(self, namespace_id: str) -> None:
        """Hold the namespace's row until the transaction ends (PostgreSQL), so that checks
        of its use and the change they allow are one step; SQLite serialises writers.

        FOR NO KEY UPDATE: it does not conflict with the key-share lock that inserting a
        function (whose foreign key names the namespace) takes, so two creates that each
        inserted first wait for each other here instead of deadlocking."""
        await self.session.execute(
            select(NamespaceRow.id)
            .where(NamespaceRow.id == namespace_id)
            .with_for_update(key_share=True)
        )

    async def live_functions(self, namespace_id: str) -> int:
        count = await self.session.scalar(
            select(func.count())
            .select_from(FunctionRow)
            .where(FunctionRow.namespace_id == namespace_id, FunctionRow.deleted_at.is_(None))
        )
        return int(count or 0)

    async def newest_versions(self, namespace_id: str) -> list[FunctionSize]:
        """Each live function's newest version (ready or not: its code is kept either way)."""
        newest = (
            select(VersionRow.function_id, func.max(VersionRow.number).label("number"))
            .join(FunctionRow, FunctionRow.id == VersionRow.function_id)
            .where(FunctionRow.namespace_id == namespace_id, FunctionRow.deleted_at.is_(None))
            .group_by(VersionRow.function_id)
            .subquery()
        )
        rows = await self.session.execute(
            select(VersionRow.function_id, VersionRow.code_size, VersionRow.env).join(
                newest,
                (newest.c.function_id == VersionRow.function_id)
                & (newest.c.number == VersionRow.number),
            )
        )
        return [
            FunctionSize(function_id=function_id, code_bytes=size, env_bytes=env_bytes(env))
            for function_id, size, env in rows
        ]
