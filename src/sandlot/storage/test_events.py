"""Saved test events of a function."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from sandlot.domain.errors import Conflict, TestEventNotFound
from sandlot.domain.test_events import SavedEvent
from sandlot.storage.tables import FunctionRow, TestEventRow


def _saved(row: TestEventRow) -> SavedEvent:
    return SavedEvent(
        name=row.name,
        event=row.event.encode(),
        updated_at=row.updated_at,
        updated_by=row.updated_by,
    )


class TestEventRepo:
    __test__ = False  # a repository, not a pytest class

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def of_function(self, function_id: str) -> list[SavedEvent]:
        rows = await self.session.scalars(
            select(TestEventRow)
            .where(TestEventRow.function_id == function_id)
            .order_by(TestEventRow.name)
        )
        return [_saved(row) for row in rows]

    async def lock_function(self, function_id: str) -> None:
        """Saves to one function take turns until commit (PostgreSQL: a row lock; SQLite has
        one writer anyway), so two new names cannot both pass the count at 19."""
        await self.session.execute(
            select(FunctionRow.id).where(FunctionRow.id == function_id).with_for_update()
        )

    async def count(self, function_id: str) -> int:
        query = select(func.count()).where(TestEventRow.function_id == function_id)
        return int(await self.session.scalar(query) or 0)

    async def put(
        self, *, function_id: str, name: str, event: bytes, actor: str
    ) -> tuple[SavedEvent, bool]:
        """Create or replace; says whether it was created. Two racing creates of one name
        meet the unique constraint at the flush: the loser is a named 409, never a 500."""
        now = datetime.now(UTC)
        row = await self.session.scalar(
            select(TestEventRow).where(
                TestEventRow.function_id == function_id, TestEventRow.name == name
            )
        )
        created = row is None
        if row is None:
            row = TestEventRow(
                id=str(uuid.uuid4()), function_id=function_id, name=name, created_at=now
            )
            self.session.add(row)
        row.event = event.decode()
        row.updated_at = now
        row.updated_by = actor
        try:
            await self.session.flush()
        except IntegrityError:
            raise Conflict(
                f"test event {name!r} was saved by another request at the same time; retry",
                name=name,
            ) from None
        return _saved(row), created

    async def delete(self, function_id: str, name: str) -> None:
        result = await self.session.execute(
            delete(TestEventRow).where(
                TestEventRow.function_id == function_id, TestEventRow.name == name
            )
        )
        if not result.rowcount:  # type: ignore[attr-defined]
            raise TestEventNotFound(f"no saved test event named {name!r}", name=name)
