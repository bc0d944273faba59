"""What refers to an alias by name: schedules, function URLs and function destinations. An
alias these name cannot be deleted (services.alias_users), so none of them breaks quietly."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from sandlot.storage.destination_tables import FunctionDestinationRow
from sandlot.storage.release_tables import AliasRow
from sandlot.storage.schedule_tables import ScheduleRow
from sandlot.storage.tables import FunctionRow, FunctionUrlRow


class AliasUserRepo:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def exists(self, function_id: str, alias: str) -> bool:
        found = await self.session.get(AliasRow, (function_id, alias))
        return found is not None

    async def schedules(self, function_id: str, alias: str) -> list[str]:
        query = select(ScheduleRow.id).where(
            ScheduleRow.function_id == function_id, ScheduleRow.alias == alias
        )
        return list((await self.session.scalars(query.order_by(ScheduleRow.id))).all())

    async def has_url(self, function_id: str, alias: str) -> bool:
        found = await self.session.get(FunctionUrlRow, (function_id, alias))
        return found is not None

    async def destinations(self, namespace_id: str, qualified: str) -> list[str]:
        """Names of the live functions of the namespace whose destination names `qualified`
        (`hello:prod`). Destinations are few per namespace: filtered here, not in SQL, as
        JSON paths differ between the two databases."""
        query = (
            select(FunctionRow.name, FunctionDestinationRow)
            .join(FunctionRow, FunctionRow.id == FunctionDestinationRow.function_id)
            .where(
                FunctionDestinationRow.namespace_id == namespace_id,
                FunctionRow.deleted_at.is_(None),
            )
            .order_by(FunctionRow.name)
        )
        names = []
        for name, row in (await self.session.execute(query)).all():
            targets = {(raw or {}).get("function") for raw in (row.on_success, row.on_failure)}
            if qualified in targets:
                names.append(name)
        return names
