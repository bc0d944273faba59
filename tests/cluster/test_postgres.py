"""The private PostgreSQL the cluster tests restart: it starts, answers, stops and restarts."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from tests.cluster.postgres import PrivatePostgres

pytestmark = pytest.mark.slow


async def _answer(server: PrivatePostgres) -> int:
    conn = await asyncpg.connect(server.dsn)
    try:
        value: int = await conn.fetchval("SELECT 41 + 1")
        return value
    finally:
        await conn.close()


def test_it_answers_and_survives_fast_and_immediate_restarts(
    private_postgres: PrivatePostgres,
) -> None:
    assert private_postgres.url.startswith("postgresql+asyncpg://postgres@127.0.0.1:")
    assert asyncio.run(_answer(private_postgres)) == 42
    private_postgres.restart("fast")
    assert asyncio.run(_answer(private_postgres)) == 42
    private_postgres.stop("immediate")
    assert not private_postgres.running()
    with pytest.raises(OSError):
        asyncio.run(_answer(private_postgres))
    private_postgres.start()
    assert private_postgres.running()
    assert asyncio.run(_answer(private_postgres)) == 42
