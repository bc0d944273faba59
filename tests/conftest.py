"""Shared fixtures: real databases (a SQLite file and PostgreSQL), the real app, a real server."""

from __future__ import annotations

import asyncio
import atexit
import fcntl
import io
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
import zipfile
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import httpx
import pytest
from fastapi import FastAPI

from sandlot.config import SandboxMode, Settings
from sandlot.sandbox.probe import sandbox_support
from sandlot.services.runtime import Runtime
from sandlot.storage.db import upgrade
from tests.readable import ReadableCopy, make_readable_copy

ADMIN_KEY = "sl_testadmin_" + "k" * 40
DEFAULT_POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
POSTGRES_URL = os.environ.get("SANDLOT_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

# Sandbox uids: each test run claims a range of its own, so that two runs on one host (a
# developer's and a CI rehearsal) never hand one uid to two functions, and a test that looks
# for processes under its uids never sees the other run's. The claim is an flock held for the
# whole run; the range reaches every Settings() and every server through the environment.
_UID_SLOTS_DIR = Path("/tmp/sandlot-test-uid-slots")
_UID_RANGE = 65_536
_UID_FIRST_BASE = 1_000_000


def claim_uid_slot() -> tuple[int, int | None]:
    """A sandbox uid range of its own (this run's, or one more for a worker of
    tests/cluster), held (flock) until the fd is closed."""
    if os.geteuid() != 0:
        return _UID_FIRST_BASE, None  # unprivileged: only the server's own uid is mapped
    _UID_SLOTS_DIR.mkdir(mode=0o700, exist_ok=True)
    for slot in range(1000):
        fd = os.open(_UID_SLOTS_DIR / f"{slot}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        return _UID_FIRST_BASE + slot * _UID_RANGE, fd
    raise RuntimeError(f"every sandbox uid slot under {_UID_SLOTS_DIR} is taken")


SANDBOX_UID_BASE, _UID_SLOT_FD = claim_uid_slot()
os.environ["SANDLOT_SANDBOX_UID_BASE"] = str(SANDBOX_UID_BASE)

# A server writes where it runs into the user's config dir, for the CLI to find it
# (cli/serving.py): this run's servers write into a folder of the run's own, never into the
# developer's ~/.config, and the CLIs the tests start look there.
_CONFIG_HOME = tempfile.mkdtemp(prefix="sandlot-test-config-")
os.environ["XDG_CONFIG_HOME"] = _CONFIG_HOME
atexit.register(shutil.rmtree, _CONFIG_HOME, ignore_errors=True)


def skip_outside_ci(reason: str) -> NoReturn:
    """Skip on a developer's machine that lacks a part; in CI nothing may be skipped."""
    if IN_CI:
        pytest.fail(f"CI must run every test, but: {reason}")
    pytest.skip(reason)


def _postgres_reachable() -> str | None:
    """None if PostgreSQL answers, else why not."""
    import asyncpg

    async def probe() -> None:
        conn = await asyncpg.connect(POSTGRES_URL.replace("postgresql+asyncpg", "postgresql"))
        await conn.close()

    try:
        asyncio.run(asyncio.wait_for(probe(), 5))
    except Exception as exc:
        return f"{exc.__class__.__name__}: {exc}"
    return None


_PG_PROBLEM = _postgres_reachable()
# Tests run functions in the real sandbox wherever this host provides it (CI does).
_SANDBOX_OK, _SANDBOX_WHY = sandbox_support()
SANDBOX_MODE = SandboxMode.STRICT if _SANDBOX_OK else SandboxMode.INSECURE_DEV


def pytest_report_header() -> list[str]:
    lines = [
        f"postgres: {POSTGRES_URL}"
        if _PG_PROBLEM is None
        else f"postgres: NOT REACHABLE at {POSTGRES_URL} ({_PG_PROBLEM}); PostgreSQL tests skip",
        f"sandbox uids: {SANDBOX_UID_BASE} to {SANDBOX_UID_BASE + _UID_RANGE - 1} (this run's own)",
    ]
    if _SANDBOX_OK:
        lines.append("sandbox: strict (every layer available)")
    else:
        lines.append(f"sandbox: NOT AVAILABLE ({_SANDBOX_WHY}); API tests run insecure-dev")
    return lines


async def _admin(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(POSTGRES_URL.replace("postgresql+asyncpg", "postgresql"))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def _url_for_database(name: str) -> str:
    base, _, _ = POSTGRES_URL.rpartition("/")
    return f"{base}/{name}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """Every test that takes this runs once on a SQLite file and once on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'sandlot.db'}"
        return
    async with _fresh_postgres() as url:
        yield url


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    """A PostgreSQL database of the test's own, whatever `database_url` runs: for what runs
    on nothing else (role api, workers)."""
    async with _fresh_postgres() as url:
        yield url


@asynccontextmanager
async def _fresh_postgres() -> AsyncIterator[str]:
    if _PG_PROBLEM is not None:
        skip_outside_ci(f"PostgreSQL not reachable at {POSTGRES_URL}: {_PG_PROBLEM}")
    # A database of its own per test, so tests never see each other's rows.
    name = f"sandlot_t_{uuid.uuid4().hex[:12]}"
    await _admin(f"CREATE DATABASE {name}")
    try:
        yield _url_for_database(name)
    finally:
        await _admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
async def migrated_url(database_url: str) -> str:
    await upgrade(database_url)
    return database_url


def make_settings(data_dir: Path, database_url: str | None = None, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "data_dir": data_dir,
        "database_url": database_url,
        "bootstrap_api_key": ADMIN_KEY,
        "sandbox": SANDBOX_MODE,
        "record_flush_interval_s": 0.05,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@dataclass
class Api:
    """The real app over ASGI, with the admin key."""

    client: httpx.AsyncClient
    settings: Settings
    app: FastAPI

    @property
    def runtime(self) -> Runtime:
        runtime: Runtime = self.app.state.runtime
        return runtime

    async def deploy(self, name: str, files: dict[str, str], **fields: str) -> httpx.Response:
        data = {"name": name, **fields}
        return await self.client.post(
            "/api/v1/functions",
            data=data,
            files={"code": ("code.zip", zip_bytes(files), "application/zip")},
        )

    async def invoke(self, name: str, event: object = None, **params: int) -> httpx.Response:
        content = b"" if event is None else httpx.Request("POST", "/", json=event).content
        return await self.client.post(
            f"/api/v1/functions/{name}/invoke",
            content=content,
            params=params,
            headers={"Content-Type": "application/json"},
        )


@asynccontextmanager
async def open_api(data_dir: Path, database_url: str, **overrides: object) -> AsyncIterator[Api]:
    """The real app, started and stopped through its lifespan, behind an httpx client."""
    from sandlot.app import create_app, served

    settings = make_settings(data_dir, database_url, **overrides)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=served(app))
        async with httpx.AsyncClient(
            transport=transport,
            base_url="http://sandlot.test",
            headers={"Authorization": f"Bearer {ADMIN_KEY}"},
            timeout=60,
        ) as client:
            yield Api(client=client, settings=settings, app=app)


@pytest.fixture
async def api(tmp_path: Path, database_url: str) -> AsyncIterator[Api]:
    async with open_api(tmp_path / "data", database_url) as opened:
        yield opened


def zip_bytes(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


HELLO = {
    "main.py": "def handler(event, context):\n"
    '    return {"hello": (event or {}).get("name", "world")}\n'
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class LiveServer:
    url: str
    api_key: str
    data_dir: Path
    process: subprocess.Popen[bytes]
    log_path: Path

    def env(self) -> dict[str, str]:
        return {**os.environ, "SANDLOT_URL": self.url, "SANDLOT_API_KEY": self.api_key}


def start_server(data_dir: Path, extra_env: dict[str, str] | None = None) -> LiveServer:
    port = free_port()
    log_path = data_dir.parent / f"server-{port}.log"
    data_dir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "SANDLOT_BOOTSTRAP_API_KEY": ADMIN_KEY, **(extra_env or {})}
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "sandlot.cli.main",
                "serve",
                "--port",
                str(port),
                "--data-dir",
                str(data_dir),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
    server = LiveServer(f"http://127.0.0.1:{port}", ADMIN_KEY, data_dir, process, log_path)
    _wait_ready(server)
    return server


def _wait_ready(server: LiveServer, timeout_s: float = 90) -> None:
    # 90 s, not 60: with six checkouts' tests on two cores a start was measured at 84 s.
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"server exited early:\n{server.log_path.read_text()}")
        try:
            if httpx.get(f"{server.url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)  # polling a starting server; there is nothing to wait on instead
    server.process.kill()
    server.process.wait()  # reaped here, or a later test fails on its ResourceWarning
    raise RuntimeError(f"server not ready after {timeout_s}s:\n{server.log_path.read_text()}")


def stop_server(server: LiveServer) -> bool:
    """SIGTERM the server; True if it shut down cleanly within 30 s.

    Uvicorn re-raises SIGTERM once its graceful shutdown is over, so a clean stop exits
    "killed by SIGTERM"; the log line tells a clean stop from a crash.
    """
    server.process.terminate()
    try:
        code = server.process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()
        return False
    clean = "Finished server process" in server.log_path.read_text(errors="replace")
    return clean and code in (0, -signal.SIGTERM)


@pytest.fixture(scope="session")
def readable_copy() -> Iterator[ReadableCopy]:
    """This package and what the CLI and the server import, where `nobody` can read them."""
    # pyseccomp: the sandbox imports it when it compiles its filters, not at import time.
    copy = make_readable_copy(["sandlot.cli.main", "sandlot.app", "pyseccomp"])
    try:
        yield copy
    finally:
        shutil.rmtree(copy.root, ignore_errors=True)


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[LiveServer]:
    server = start_server(tmp_path / "data")
    try:
        yield server
    finally:
        stop_server(server)
