"""The operator's Workers page in a real browser against a real server (on SQLite and
PostgreSQL): alone, it lists the server's own pool as `local` with nothing to drain; with
workers in the registry (rows written into the server's database, as their heartbeats would)
it lists each with its state, load, free memory and warm versions, and Drain asks first, then
sends the drain request for that worker."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from sandlot.domain.cluster import WarmVersion, WorkerInfo
from sandlot.storage.db import make_engine, make_sessionmaker
from sandlot.storage.workers import WorkerRepo
from tests.conftest import (
    _PG_PROBLEM,
    ADMIN_KEY,
    POSTGRES_URL,
    LiveServer,
    _admin,
    _url_for_database,
    skip_outside_ci,
)
from tests.ui.conftest import Console, open_console, serve_console

T = TypeVar("T")
READY, DRAINING, STALE = "aa00aa00aa00aa00:0a0a0a0a0a0a", "bb11bb11:1b1b", "cc22cc22:2c2c"


@dataclass(frozen=True)
class Served:
    live: LiveServer
    database_url: str


def _run(coroutine: Coroutine[Any, Any, T]) -> T:
    # In a thread of its own: Playwright's sync API keeps an event loop running in this one.
    with ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, coroutine).result()


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    """A server of this module's own: its registry is changed here. Stale after 10 minutes,
    so that a row written at the start of a test still reads `ready` at its end."""
    extra = {"SANDLOT_WORKER_STALE_S": "600"}
    if request.param == "sqlite":
        with serve_console(tmp_path_factory, "sqlite", extra) as live:
            yield Served(live, f"sqlite+aiosqlite:///{live.data_dir / 'sandlot.db'}")
        return
    if _PG_PROBLEM is not None:
        skip_outside_ci(f"PostgreSQL not reachable at {POSTGRES_URL}: {_PG_PROBLEM}")
    # A database made here, not by serve_console, so that this test knows its URL.
    name = f"sandlot_ui_w_{uuid.uuid4().hex[:12]}"
    _run(_admin(f"CREATE DATABASE {name}"))
    url = _url_for_database(name)
    try:
        with serve_console(
            tmp_path_factory, "sqlite", {**extra, "SANDLOT_DATABASE_URL": url}
        ) as live:
            yield Served(live, url)
    finally:
        _run(_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


@pytest.fixture
def server(served: Served) -> LiveServer:
    return served.live


@pytest.fixture
def console(browser: Browser, server: LiveServer) -> Iterator[Console]:
    with open_console(browser, server) as opened:
        yield opened


async def _write(database_url: str, infos: list[WorkerInfo], remove: bool = False) -> None:
    engine = make_engine(database_url)
    try:
        async with make_sessionmaker(engine)() as session:
            repo = WorkerRepo(session)
            for info in infos:
                await (repo.remove(info.id) if remove else repo.heartbeat(info))
            await session.commit()
    finally:
        await engine.dispose()


def _worker(worker_id: str, *, age_s: float = 0, **fields: Any) -> WorkerInfo:
    now = datetime.now(UTC)
    return WorkerInfo(
        id=worker_id,
        url=f"http://127.0.0.1{len(worker_id) % 3 + 1}:8070",
        hostname=f"box-{worker_id[:2]}",
        started_at=now - timedelta(minutes=3),
        heartbeat_at=now - timedelta(seconds=age_s),
        free_mb=1536,
        max_memory_mb=2048,
        instances=3,
        busy=1,
        max_instances=16,
        **fields,
    )


def _function_id(server: LiveServer, name: str) -> str:
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}) as c:
        found: str = c.get(f"/api/v1/functions/{name}").json()["id"]
    return found


@pytest.fixture
def registered(served: Served) -> Iterator[list[WorkerInfo]]:
    """Three workers in the registry, one of each state; gone again after the test."""
    hello = _function_id(served.live, "hello")
    workers = [
        _worker(READY, warm=(WarmVersion(hello, 1, idle=2, instances=3, busy=1),)),
        _worker(DRAINING, draining=True),
        _worker(STALE, age_s=3600),
    ]
    _run(_write(served.database_url, workers))
    try:
        yield workers
    finally:
        _run(_write(served.database_url, workers, remove=True))


def _workers_page(console: Console) -> Page:
    console.goto("/operator/workers")
    console.sign_in()
    page = console.page
    expect(page).to_have_url(console.url("/operator/workers"))
    expect(page.get_by_role("link", name="Workers")).to_have_attribute("aria-current", "page")
    return page


def _row(page: Page, worker_id: str) -> Any:
    table = page.get_by_role("table", name=re.compile("worker"))
    return table.get_by_role("row").filter(
        has=page.get_by_role("rowheader", name=re.compile(worker_id))
    )


def test_alone_it_lists_its_own_pool_and_offers_no_drain(console: Console) -> None:
    page = _workers_page(console)
    expect(page.get_by_text("One process runs everything")).to_be_visible()
    row = _row(page, "local")
    expect(row).to_have_count(1)
    expect(row.get_by_role("cell").nth(0)).to_have_text("ready")
    expect(page.get_by_role("button", name=re.compile("^Drain"))).to_have_count(0)
    assert console.axe() == []


def test_registered_workers_are_listed_and_one_is_drained(
    console: Console, served: Served, registered: list[WorkerInfo]
) -> None:
    page = _workers_page(console)
    expect(page.get_by_role("table").locator("caption")).to_contain_text("3 workers")
    states = {
        worker_id: _row(page, worker_id).get_by_role("cell").nth(0)
        for worker_id in (READY, DRAINING, STALE)
    }
    expect(states[READY]).to_have_text("ready")
    expect(states[DRAINING]).to_have_text("draining")
    expect(states[STALE]).to_have_text("stale")
    ready = _row(page, READY)
    cells = ready.get_by_role("cell")
    expect(cells.nth(1)).to_contain_text("1/3 busy")
    expect(cells.nth(2)).to_contain_text("1536 MB")
    expect(cells.nth(3)).to_contain_text("default/hello:1 (2 idle)")
    expect(cells.nth(4)).to_contain_text("s ago")
    expect(_row(page, STALE).get_by_role("cell").nth(4)).to_contain_text("min ago")
    # A worker already draining has no Drain button; the others do.
    expect(_row(page, DRAINING).get_by_role("button")).to_have_count(0)
    assert console.axe() == []

    button = ready.get_by_role("button", name=f"Drain {READY}")
    button.click()
    dialog = page.get_by_role("dialog", name="Drain worker")
    expect(dialog).to_contain_text(READY)
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    with httpx.Client(
        base_url=served.live.url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}
    ) as c:
        listed = {w["id"]: w for w in c.get("/api/v1/workers").json()["workers"]}
    assert not listed[READY]["drain_requested"]  # a cancel sends nothing

    button.click()
    with page.expect_response(lambda r: r.request.method == "POST" and "/drain" in r.url) as sent:
        dialog.get_by_role("button", name="Drain", exact=True).click()
    answer = sent.value
    assert answer.status == 202
    assert httpx.URL(answer.url).path == f"/api/v1/workers/{READY}/drain"
    expect(dialog).to_be_hidden()
    expect(page.get_by_role("status")).to_contain_text(f"worker {READY} drains")
    expect(states[READY]).to_have_text("draining")
    expect(ready.get_by_role("button")).to_have_count(0)
