"""`sandlot worker` as a real process against PostgreSQL: it registers, SIGTERM drains it,
it exits 0 and leaves the registry; its refusals exit 2."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from sandlot.domain.cluster import WorkerInfo
from sandlot.storage.db import Database, upgrade
from sandlot.storage.workers import WorkerRepo
from tests.conftest import (
    SANDBOX_MODE,
    free_port,
)
from tests.worker_node.helpers import SECRET


def _worker_env(data_dir: Path, database_url: str | None, port: int) -> dict[str, str]:
    env = {
        **os.environ,
        "SANDLOT_DATA_DIR": str(data_dir),
        "SANDLOT_CLUSTER_SECRET": SECRET,
        "SANDLOT_WORKER_HOST": "127.0.0.1",
        "SANDLOT_WORKER_PORT": str(port),
        "SANDLOT_SANDBOX": SANDBOX_MODE.value,
        "SANDLOT_HEARTBEAT_INTERVAL_S": "0.2",
        "SANDLOT_MONITOR_TOKEN": MONITOR_TOKEN,
    }
    if database_url is not None:
        env["SANDLOT_DATABASE_URL"] = database_url
    return env


MONITOR_TOKEN = "m" * 32


async def _rows(database_url: str) -> list[WorkerInfo]:
    database = Database(database_url)
    try:
        async with database.sessions() as session:
            return await WorkerRepo(session).all()
    finally:
        await database.dispose()


def _start(tmp_path: Path, postgres_url: str, port: int) -> tuple[subprocess.Popen[bytes], Path]:
    log_path = tmp_path / "worker.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "sandlot.cli.main", "worker"],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=_worker_env(tmp_path / "worker", postgres_url, port),
        )
    return process, log_path


async def _registered(
    process: subprocess.Popen[bytes], log_path: Path, postgres_url: str
) -> WorkerInfo:
    deadline = time.monotonic() + 90
    rows: list[WorkerInfo] = []
    while not rows:
        assert process.poll() is None, log_path.read_text()
        assert time.monotonic() < deadline, log_path.read_text()
        rows = await _rows(postgres_url)
        await asyncio.sleep(0.1)  # polling another process's first heartbeat
    (row,) = rows
    return row


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.kill()
        process.wait()


@pytest.mark.postgres
async def test_a_worker_registers_and_a_sigterm_drains_it(
    tmp_path: Path, postgres_url: str
) -> None:
    await upgrade(postgres_url)
    port = free_port()
    process, log_path = _start(tmp_path, postgres_url, port)
    try:
        row = await _registered(process, log_path, postgres_url)
        assert row.url == f"http://127.0.0.1:{port}"
        assert not row.draining
        async with httpx.AsyncClient() as client:
            health = await client.get(f"{row.url}/internal/v1/health")
            assert health.json() == {"status": "ok", "worker": row.id}
            anonymous = await client.get(f"{row.url}/metrics")
            assert anonymous.status_code == 401
            assert anonymous.json()["error"] == "Unauthenticated"
            scraped = await client.get(
                f"{row.url}/metrics", headers={"Authorization": f"Bearer {MONITOR_TOKEN}"}
            )
            assert scraped.status_code == 200
            assert "sandlot_" in scraped.text

        process.terminate()
        assert process.wait(timeout=60) == 0, log_path.read_text()
        assert await _rows(postgres_url) == []
        assert "draining" in log_path.read_text()
    finally:
        _stop(process)


@pytest.mark.postgres
async def test_sandlot_worker_drain_drains_it(tmp_path: Path, postgres_url: str) -> None:
    await upgrade(postgres_url)
    port = free_port()
    process, log_path = _start(tmp_path, postgres_url, port)
    try:
        row = await _registered(process, log_path, postgres_url)
        env = _worker_env(tmp_path / "cli", postgres_url, port)
        done = subprocess.run(
            [sys.executable, "-m", "sandlot.cli.main", "worker", "drain", "--url", row.url],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        assert f"worker {row.id}" in done.stdout and "is draining" in done.stdout
        assert process.wait(timeout=60) == 0, log_path.read_text()
        assert await _rows(postgres_url) == []

        again = subprocess.run(
            [sys.executable, "-m", "sandlot.cli.main", "worker", "drain", "--url", row.url],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert again.returncode == 1
        assert "could not reach the worker" in again.stderr
    finally:
        _stop(process)


@pytest.mark.parametrize("missing", ["database", "secret"])
def test_a_worker_refuses_sqlite_and_a_missing_secret(tmp_path: Path, missing: str) -> None:
    env = _worker_env(tmp_path / "worker", None, free_port())
    env.pop("SANDLOT_DATABASE_URL", None)
    if missing == "secret":
        env["SANDLOT_DATABASE_URL"] = "postgresql+asyncpg://postgres@127.0.0.1:1/none"
        env.pop("SANDLOT_CLUSTER_SECRET")
    done = subprocess.run(
        [sys.executable, "-m", "sandlot.cli.main", "worker"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1
    assert ("PostgreSQL" if missing == "database" else "SANDLOT_CLUSTER_SECRET") in lines[0]
