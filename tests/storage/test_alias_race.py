"""Two requests making the same new alias at once, on a real SQLite file and a real
PostgreSQL server: the later one gets a named 409, never a database error."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sandlot.domain.aliases import single
from sandlot.domain.errors import AliasChangedMeanwhile
from sandlot.storage.aliases import AliasRepo
from sandlot.storage.db import make_engine, make_sessionmaker
from sandlot.storage.functions import FunctionRepo
from sandlot.storage.keys import NamespaceRepo

AT = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


@pytest.fixture
async def sessions(migrated_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = make_engine(migrated_url)
    yield make_sessionmaker(engine)
    await engine.dispose()


async def test_the_same_new_alias_made_twice_at_once_is_a_named_conflict(
    sessions: async_sessionmaker[AsyncSession], migrated_url: str
) -> None:
    async with sessions() as session:
        namespace = await NamespaceRepo(session).create("team")
        function = await FunctionRepo(session).create(namespace.id, "shop")
        await session.commit()
    if not migrated_url.startswith("postgresql"):
        return  # SQLite has one writer at a time: two inserts are never in flight at once
    async with sessions() as first, sessions() as second:
        await AliasRepo(first).put(function.id, "prod", single(1), actor="a", at=AT)
        # The second insert waits on the first's uncommitted row, then clashes with it.
        racing = asyncio.create_task(
            AliasRepo(second).put(function.id, "prod", single(2), actor="b", at=AT)
        )
        await _until_one_waits_on_a_lock(sessions)
        await first.commit()
        with pytest.raises(AliasChangedMeanwhile):
            await racing
    async with sessions() as session:
        made = await AliasRepo(session).get(function.id, "prod")
    assert made is not None and made.routes == single(1)


async def _until_one_waits_on_a_lock(sessions: async_sessionmaker[AsyncSession]) -> None:
    """Until the second insert is blocked behind the first's row (bounded: 30 s)."""
    waiting = text(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    async with sessions() as watcher:
        while not await watcher.scalar(waiting):
            assert loop.time() < deadline, "the second insert never reached the database"
            await watcher.rollback()  # a fresh snapshot of pg_stat_activity each round
            await asyncio.sleep(0.01)
