"""How long the functions table's numbers (GET /function-stats) take for 200 functions and
1 million invocation rows, on SQLite and PostgreSQL.

    .venv/bin/python -m bench.function_stats_query [--rows 1000000] [--functions 200]
                                                   [--only sqlite|postgres]

The rows are spread evenly over the functions and over the 24 hours before a fixed `until`:
the 1h window then reads ~1/24 of them (~42,000). A day's window (twelve 2-hour buckets, not
served: this row is why) reads every one.
Each window is timed 5 times after a warm-up run (the three queries of the endpoint, as the
service runs them); the median is printed. PostgreSQL is the tests' server
(SANDLOT_TEST_POSTGRES_URL), in a database of its own.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import asyncpg
from sqlalchemy import Table, text
from sqlalchemy.ext.asyncio import AsyncEngine

from sandlot.domain.function_stats import STATS_BUCKETS, StatsWindow, stats_range
from sandlot.domain.metrics import BucketRange
from sandlot.storage.db import make_engine, make_sessionmaker, upgrade
from sandlot.storage.function_stats import FunctionStatsRepo
from sandlot.storage.functions import FunctionRepo
from sandlot.storage.namespaces import NamespaceRepo
from sandlot.storage.tables import InvocationRow

UNTIL = datetime(2026, 1, 8, 0, 0, 30, tzinfo=UTC)
SPAN_S = 24 * 3600
CHUNK = 20_000
RUNS = 5
_STATES = ["succeeded"] * 95 + ["failed"] * 3 + ["timed_out", "out_of_memory"]


def _row(ns: str, function: tuple[str, str], n: int, rng: random.Random) -> dict[str, Any]:
    at = UNTIL - timedelta(seconds=rng.random() * SPAN_S)
    state = rng.choice(_STATES)
    ms = round(rng.lognormvariate(2.5, 1.0), 3)
    return {
        "id": f"{n:026d}",
        "namespace_id": ns,
        "function_id": function[0],
        "function_name": function[1],
        "version": 1,
        "trigger": "api",
        "state": state,
        "cold_start": rng.random() < 0.05,
        "created_at": at,
        "finished_at": at + timedelta(milliseconds=ms),
        "duration_ms": ms,
        "timings": {},
        "result_json": None,
        "error": None if state == "succeeded" else {"kind": "FunctionError", "message": "x"},
        "log_excerpt": "",
        "logs_truncated": False,
    }


async def _seed(engine: AsyncEngine, rows: int, count: int) -> list[str]:
    sessions = make_sessionmaker(engine)
    async with sessions.begin() as session:
        ns = (await NamespaceRepo(session).create("bench")).id
        repo = FunctionRepo(session)
        functions = [
            ((await repo.create(ns, f"fn-{i:03d}")).id, f"fn-{i:03d}") for i in range(count)
        ]
    table = cast(Table, InvocationRow.__table__)
    rng = random.Random(11)
    for first in range(0, rows, CHUNK):
        batch = [
            _row(ns, functions[n % count], n, rng) for n in range(first, min(first + CHUNK, rows))
        ]
        async with engine.begin() as conn:
            await conn.execute(table.insert(), batch)
    if engine.dialect.name == "postgresql":
        async with engine.connect() as conn:
            await (await conn.execution_options(isolation_level="AUTOCOMMIT")).execute(
                text("VACUUM ANALYZE invocations")
            )
    else:
        async with engine.begin() as conn:
            await conn.execute(text("ANALYZE"))
    return [function_id for function_id, _ in functions]


def _day(until: datetime) -> BucketRange:
    hour = stats_range(StatsWindow.HOUR, until)
    size = timedelta(hours=2)
    return BucketRange(start=hour.end - size * STATS_BUCKETS, size=size, count=STATS_BUCKETS)


async def _time(engine: AsyncEngine, ids: list[str], buckets: BucketRange) -> float:
    sessions = make_sessionmaker(engine)
    samples = []
    for run in range(RUNS + 1):
        async with sessions() as session:
            repo = FunctionStatsRepo(session)
            started = time.perf_counter()
            await repo.bucket_counts(ids, buckets)
            await repo.medians(ids, buckets)
            await repo.last_calls(ids)
            if run:  # the first run warms the caches
                samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


async def _measure(name: str, url: str, rows: int, count: int) -> None:
    await upgrade(url)
    engine = make_engine(url)
    try:
        started = time.perf_counter()
        ids = await _seed(engine, rows, count)
        took = time.perf_counter() - started
        print(f"{name}: {rows:,} rows of {count} functions inserted in {took:.0f} s", flush=True)
        windows = {"1h": stats_range(StatsWindow.HOUR, UNTIL), "24h": _day(UNTIL)}
        for label, buckets in windows.items():
            ms = await _time(engine, ids, buckets)
            print(f"{name}: window {label:>3}: median {ms:8.1f} ms", flush=True)
    finally:
        await engine.dispose()


async def _postgres(rows: int, count: int) -> None:
    url = os.environ.get(
        "SANDLOT_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
    )
    admin = url.replace("postgresql+asyncpg", "postgresql")
    name = f"sandlot_bench_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(admin)
    await conn.execute(f"CREATE DATABASE {name}")
    try:
        await _measure("postgres", f"{url.rpartition('/')[0]}/{name}", rows, count)
    finally:
        await conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await conn.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--functions", type=int, default=200)
    parser.add_argument("--only", choices=["sqlite", "postgres"])
    args = parser.parse_args()
    if args.only != "postgres":
        with tempfile.TemporaryDirectory() as folder:
            url = f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}"
            await _measure("sqlite", url, args.rows, args.functions)
    if args.only != "sqlite":
        await _postgres(args.rows, args.functions)


if __name__ == "__main__":
    asyncio.run(main())
