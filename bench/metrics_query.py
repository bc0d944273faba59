"""How long a function's bucketed metrics take on 1 million invocation rows, on SQLite and
PostgreSQL (and, with --without-index, the 1h window once more without the 0009 index).

    .venv/bin/python -m bench.metrics_query [--rows 1000000] [--only sqlite|postgres]

All rows belong to the one measured function and fall in the last 7 days before a fixed
`until` (the worst case of the 7d window: it reads every row; 1h reads ~6,000 of them, 24h
~143,000). Each window is timed 5 times after a warm-up run; the median is printed.
PostgreSQL is the tests' server (SANDLOT_TEST_POSTGRES_URL), in a database of its own.
"""

from __future__ import annotations

import argparse
import asyncio
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

from sandlot.domain.metrics import MetricsWindow, bucket_range
from sandlot.storage.db import make_engine, make_sessionmaker, upgrade
from sandlot.storage.function_metrics import FunctionMetricsRepo
from sandlot.storage.functions import FunctionRepo
from sandlot.storage.namespaces import NamespaceRepo
from sandlot.storage.tables import InvocationRow

UNTIL = datetime(2026, 1, 8, 0, 0, 30, tzinfo=UTC)
SPAN_S = 7 * 24 * 3600
CHUNK = 20_000
RUNS = 5
INDEX = "ix_invocations_function_metrics"
_STATES = ["succeeded"] * 95 + ["failed"] * 3 + ["timed_out", "out_of_memory"]


def _row(ns: str, function_id: str, n: int, rng: random.Random) -> dict[str, Any]:
    at = UNTIL - timedelta(seconds=rng.random() * SPAN_S)
    state = rng.choice(_STATES)
    ms = round(rng.lognormvariate(2.5, 1.0), 3)
    return {
        "id": f"{n:026d}",
        "namespace_id": ns,
        "function_id": function_id,
        "function_name": "measured",
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


async def _seed(engine: AsyncEngine, rows: int) -> tuple[str, str]:
    sessions = make_sessionmaker(engine)
    async with sessions.begin() as session:
        ns = (await NamespaceRepo(session).create("bench")).id
        function_id = (await FunctionRepo(session).create(ns, "measured")).id
    table = cast(Table, InvocationRow.__table__)
    rng = random.Random(11)
    for first in range(0, rows, CHUNK):
        batch = [_row(ns, function_id, n, rng) for n in range(first, min(first + CHUNK, rows))]
        async with engine.begin() as conn:
            await conn.execute(table.insert(), batch)
    # What autovacuum does to a live table (PostgreSQL's index-only scans need its
    # visibility map); SQLite's VACUUM is not needed for that, only its ANALYZE.
    if engine.dialect.name == "postgresql":
        async with engine.connect() as conn:
            await (await conn.execution_options(isolation_level="AUTOCOMMIT")).execute(
                text("VACUUM ANALYZE invocations")
            )
    else:
        async with engine.begin() as conn:
            await conn.execute(text("ANALYZE"))
    return ns, function_id


async def _time(
    engine: AsyncEngine, ns: str, function_id: str, window: MetricsWindow, runs: int = RUNS
) -> float:
    sessions = make_sessionmaker(engine)
    buckets = bucket_range(window, UNTIL)
    samples = []
    for run in range(runs + 1):
        async with sessions() as session:
            started = time.perf_counter()
            await FunctionMetricsRepo(session).buckets(function_id, buckets)
            if run:  # the first run warms the caches
                samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


async def _measure(name: str, url: str, rows: int, without_index: bool) -> None:
    await upgrade(url)
    engine = make_engine(url)
    try:
        started = time.perf_counter()
        ns, function_id = await _seed(engine, rows)
        print(
            f"{name}: {rows:,} rows inserted in {time.perf_counter() - started:.0f} s", flush=True
        )
        for window in MetricsWindow:
            ms = await _time(engine, ns, function_id, window)
            print(f"{name}: window {window.value:>3}: median {ms:8.1f} ms", flush=True)
        if without_index:
            async with engine.begin() as conn:
                await conn.execute(text(f"DROP INDEX {INDEX}"))
            ms = await _time(engine, ns, function_id, MetricsWindow.HOUR, runs=1)
            print(f"{name}: window  1h without {INDEX}: {ms:8.1f} ms", flush=True)
    finally:
        await engine.dispose()


async def _postgres(rows: int, without_index: bool) -> None:
    import os

    url = os.environ.get(
        "SANDLOT_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
    )
    admin = url.replace("postgresql+asyncpg", "postgresql")
    name = f"sandlot_bench_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(admin)
    await conn.execute(f"CREATE DATABASE {name}")
    try:
        await _measure("postgres", f"{url.rpartition('/')[0]}/{name}", rows, without_index)
    finally:
        await conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await conn.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--only", choices=["sqlite", "postgres"])
    parser.add_argument(
        "--without-index", action="store_true", help="then drop the index and time 1h once"
    )
    args = parser.parse_args()
    if args.only != "postgres":
        with tempfile.TemporaryDirectory() as folder:
            url = f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}"
            await _measure("sqlite", url, args.rows, args.without_index)
    if args.only != "sqlite":
        await _postgres(args.rows, args.without_index)


if __name__ == "__main__":
    asyncio.run(main())
