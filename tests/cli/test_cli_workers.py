"""`sandlot workers list|drain` against a real server: on its own it lists itself as
`local` and refuses a drain; with a worker in its registry it lists that worker's row and
flags it to drain."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sandlot.domain.cluster import WarmVersion, WorkerInfo
from sandlot.storage.db import make_engine, make_sessionmaker
from sandlot.storage.workers import WorkerRepo
from tests.cli.test_cli_e2e import Cli
from tests.conftest import LiveServer, start_server, stop_server

pytestmark = pytest.mark.slow


@pytest.fixture
def server(tmp_path: Path, database_url: str) -> Iterator[LiveServer]:
    live = start_server(tmp_path / "data", {"SANDLOT_DATABASE_URL": database_url})
    try:
        yield live
    finally:
        stop_server(live)


async def _register(database_url: str, info: WorkerInfo) -> bool:
    engine = make_engine(database_url)
    try:
        async with make_sessionmaker(engine)() as session:
            asked = await WorkerRepo(session).heartbeat(info)
            await session.commit()
    finally:
        await engine.dispose()
    return asked


def _worker(worker_id: str) -> WorkerInfo:
    now = datetime.now(UTC)
    return WorkerInfo(
        id=worker_id,
        url="http://127.0.0.12:8070",
        hostname="box-b",
        started_at=now - timedelta(minutes=1),
        heartbeat_at=now,
        free_mb=900,
        max_memory_mb=2048,
        instances=2,
        busy=1,
        max_instances=8,
        warm=(WarmVersion("not-a-known-function", 3, idle=1, instances=2, busy=1),),
    )


async def test_alone_it_lists_itself_and_refuses_a_drain(
    server: LiveServer, tmp_path: Path
) -> None:
    cli = Cli(server, tmp_path)
    found = cli.json("workers", "list", "--json")
    assert found["mode"] == "single"
    assert [w["id"] for w in found["workers"]] == ["local"]
    table = cli.run("workers", "list")
    assert table.returncode == 0, table.stderr
    assert table.stdout.split()[:7] == ["ID", "STATE", "URL", "LOAD", "FREE", "MB", "WARM"]
    assert "local" in table.stdout and "ready" in table.stdout
    assert "one process runs everything" in table.stderr

    refused = cli.run("workers", "drain", "local")
    assert refused.returncode != 0
    assert "WorkerNotDrainable: " in refused.stderr and "no worker to drain" in refused.stderr


async def test_it_lists_a_registered_worker_and_drains_it(
    server: LiveServer, tmp_path: Path, database_url: str
) -> None:
    cli = Cli(server, tmp_path)
    await _register(database_url, _worker("node-b:run-1"))
    found = cli.json("workers", "list", "--json")
    assert found["mode"] == "cluster"
    (row,) = found["workers"]
    assert (row["id"], row["state"], row["busy"], row["free_mb"]) == (
        "node-b:run-1",
        "ready",
        1,
        900,
    )
    line = next(line for line in cli.ok("workers", "list").splitlines() if "node-b" in line)
    assert "1/2" in line and "900 of 2048" in line
    assert "not-a-known-function:3 (1 idle)" in line

    missing = cli.run("workers", "drain", "node-z:run-9")
    assert missing.returncode != 0 and "WorkerNotFound" in missing.stderr
    said = cli.ok("workers", "drain", "node-b:run-1")
    assert "node-b:run-1" in said
    assert cli.json("workers", "list", "--json")["workers"][0]["state"] == "draining"
    assert await _register(database_url, _worker("node-b:run-1"))  # its next beat hears it
