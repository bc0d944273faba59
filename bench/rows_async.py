"""Asynchronous calls (`Prefer: respond-async`) against the same server's synchronous calls.

Two measurements, each on a SQLite server and on a PostgreSQL one:

- the door: the latency of the 202 (one committed `queued` row, then the answer) at one
  keep-alive connection, against a synchronous call of the same function on a warm
  instance; the two are measured in turns so that a shared machine's drift hits both;
- the pipeline: K asynchronous calls sent by N connections as fast as the door takes them,
  from the first one accepted until the last one succeeded (the rows' own `created_at` and
  `finished_at`, so the polling that waits for the end adds nothing), against the
  synchronous throughput of the same function at N connections.

Without a runner (queued calls never run) the pipeline rows say so and hold null.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import httpx

from bench import loads, sandlot_api, stats
from bench.context import Bench
from bench.loadgen import Spec
from bench.procs import run_load
from bench.results import Row, Target
from bench.sandlot_server import Sandlot, start_sandlot
from bench.workload import WORKLOADS

TRIVIAL = WORKLOADS["trivial"]
ASYNC = {**loads.AUTH, "Prefer": "respond-async"}
PG_URL = os.environ.get(
    "SANDLOT_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
# How long the pipeline may take to drain before the row gives up (a runner that stalls).
DRAIN_S = 300.0
STALL_S = 30.0


def measure(bench: Bench) -> list[Row]:
    rows: list[Row] = []
    for database in ("sqlite", "postgres"):
        rows += _measure_on(bench, database)
    return rows


def _measure_on(bench: Bench, database: str) -> list[Row]:
    label = {"sqlite": "SQLite", "postgres": "PostgreSQL"}[database]
    n = bench.counts.connections
    p50 = Row(f"async: 202 p50, {label} (1 connection)", "ms", Target("<=", 3.0))
    p99 = Row(f"async: 202 p99, {label} (1 connection)", "ms", None)
    rps = Row(
        f"async: accepted to succeeded throughput, {label} ({n} connections)",
        "calls/s",
        Target(">=", 0.5),
    )
    rows = [p50, p99, rps]
    try:
        with _server(bench, database) as server:
            why = bench.runnable(server, TRIVIAL)
            if why is not None:
                for row in rows:
                    row.notes.append(why)
                return rows
            _door(bench, server, p50, p99)
            _pipeline(bench, server, rps)
    except _NoPostgres as exc:
        for row in rows:
            row.notes.append(str(exc))
    return rows


class _NoPostgres(Exception):
    pass


@contextmanager
def _server(bench: Bench, database: str) -> Iterator[Sandlot]:
    """A server of its own (its queue filled by these rows only), on a fresh database."""
    if database == "sqlite":
        yield bench.sandlot("async-sqlite")
        return
    name = f"sandlot_bench_async_{uuid.uuid4().hex[:8]}"
    try:
        asyncio.run(_pg(f"CREATE DATABASE {name}"))
    except Exception as exc:  # unreachable, refused, no such role: the rows say which
        raise _NoPostgres(f"PostgreSQL not reachable at {PG_URL}: {exc}") from exc
    server = None
    try:
        bench.say(f"starting sandlot serve for 'async-postgres' (database {name})")
        server = start_sandlot(
            bench.log_dir,
            {"SANDLOT_DATABASE_URL": f"{PG_URL.rpartition('/')[0]}/{name}"},
            bench.sandbox_mode,
        )
        yield server
    finally:
        if server is not None:
            server.stop()
        asyncio.run(_pg(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


async def _pg(sql: str) -> None:
    import asyncpg  # only this row needs it

    conn = await asyncpg.connect(PG_URL.replace("postgresql+asyncpg", "postgresql"))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def _latencies(samples: dict[str, Any], status: int) -> list[float]:
    return [
        us / 1000.0
        for us, code in zip(samples["latencies_us"], samples["status"], strict=True)
        if code == status
    ]


def _door(bench: Bench, server: Sandlot, p50: Row, p99: Row) -> None:
    counts = bench.counts
    path = loads.invoke_path(TRIVIAL.function_name)
    turns = 4
    accepted: list[float] = []
    warm: list[float] = []
    other: dict[str, int] = {}
    for turn in range(turns):
        sides = [("async", ASYNC, 202, accepted), ("sync", loads.AUTH, 200, warm)]
        for _, headers, status, into in sides if turn % 2 == 0 else sides[::-1]:
            spec = Spec(
                host="127.0.0.1", port=server.port, path=path, body=TRIVIAL.event_json,
                headers=headers, connections=1, requests=counts.warm_requests // turns,
                seconds=counts.warm_seconds / turns, warmup=20,
            )  # fmt: skip
            samples = run_load(spec)
            into += _latencies(samples, status)
            for code, count in samples["statuses"].items():
                if int(code) != status:
                    other[code] = other.get(code, 0) + count
    baseline = "sync call to a warm instance, same server"
    p50.measured, p50.baseline, p50.baseline_name = stats.p50(accepted), stats.p50(warm), baseline
    p99.measured, p99.baseline, p99.baseline_name = stats.p99(accepted), stats.p99(warm), baseline
    p50.notes.append(f"{len(accepted)} accepted vs {len(warm)} sync calls, in {turns} turns")
    if other:
        p50.notes.append(f"other answers: {other}")


def _pipeline(bench: Bench, server: Sandlot, row: Row) -> None:
    counts = bench.counts
    name = f"async-tp-{uuid.uuid4().hex[:6]}"  # its own function: only these calls in its queue
    why = bench.runnable(server, TRIVIAL, name=name)
    if why is not None:
        row.notes.append(why)
        return
    path = loads.invoke_path(name)
    sync = loads.closed(
        server.port, path, TRIVIAL.event_json, connections=counts.connections, auth=True,
        requests=counts.warm_requests, seconds=counts.warm_seconds,
    )  # fmt: skip
    row.baseline, row.baseline_name = sync.rps, "sync throughput, same function and connections"
    spec = Spec(
        host="127.0.0.1", port=server.port, path=path, body=TRIVIAL.event_json, headers=ASYNC,
        connections=counts.connections, requests=counts.warm_requests,
        seconds=counts.warm_seconds,
    )  # fmt: skip
    samples = run_load(spec)
    sent = len(_latencies(samples, 202))
    with sandlot_api.client(server.url) as http:
        ended = _drain(http, name)
    if ended is None:
        row.notes.append(
            f"{sent} calls accepted, not all ended (the oldest queued call did not move for "
            f"{STALL_S:.0f} s, or {DRAIN_S:.0f} s passed): is a runner running?"
        )
        return
    succeeded = [item for item in ended if item["state"] == "succeeded"]
    first = min(_at(item["created_at"]) for item in ended)
    last = max(_at(item["finished_at"]) for item in succeeded) if succeeded else first
    span = (last - first).total_seconds()
    row.measured = len(succeeded) / span if span > 0 else None
    row.notes.append(
        f"{len(succeeded)} of {sent} accepted calls succeeded in {span:.2f} s; door "
        f"{len(samples['latencies_us']) / max(samples['elapsed_s'], 1e-9):.0f} accepts/s"
    )


def _drain(http: httpx.Client, name: str) -> list[dict[str, Any]] | None:
    """Every async call of the function once none is queued or running; None on time-out,
    or when the oldest queued call stays the same for STALL_S (no runner takes calls)."""
    began = time.monotonic()
    oldest, since = None, began
    while time.monotonic() < began + DRAIN_S:
        queued = _first(http, name, "queued")
        if queued is None and _first(http, name, "running") is None:
            return _all(http, name)
        if queued != oldest:
            oldest, since = queued, time.monotonic()
        elif time.monotonic() - since > STALL_S:
            return None
        time.sleep(0.2)  # the API has no "wait for many": polling is a client's way
    return None


def _first(http: httpx.Client, name: str, state: str) -> str | None:
    """The id of the function's oldest call in `state`, if any."""
    page = http.get(
        f"{sandlot_api.API}/invocations",
        params={"function": name, "state": state, "after": "", "limit": 1},
    ).json()
    items: list[dict[str, Any]] = page["items"]
    return str(items[0]["id"]) if items else None


def _all(http: httpx.Client, name: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    after = ""
    while True:
        page = http.get(
            f"{sandlot_api.API}/invocations",
            params={"function": name, "after": after, "limit": 200},
        ).json()
        items += [item for item in page["items"] if item["trigger"] == "async"]
        if not page["items"] or not page.get("next_cursor"):
            return items
        after = page["next_cursor"]


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)
