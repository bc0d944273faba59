"""The web console in a real browser: Debian's Chromium, driven by Playwright for Python,
against a real `sandlot serve` on 127.0.0.1 with its own SQLite database.

Playwright's own browser download cannot be had here (it comes from a host that is not a
package registry), so the tests launch the system's Chromium by path and never run
`playwright install`. Without Chromium or without a built console (`make ui`) a local run
skips, saying which; in CI it fails.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import httpx
import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Playwright,
    Request,
    Response,
    sync_playwright,
)

from sandlot.api.ui import BUILT_UI
from tests.conftest import (
    _PG_PROBLEM,
    ADMIN_KEY,
    POSTGRES_URL,
    LiveServer,
    _admin,
    _url_for_database,
    skip_outside_ci,
    start_server,
    stop_server,
    zip_bytes,
)

ADMIN_LOGIN = "admin"
ADMIN_PASSWORD = "console-test-passphrase-1"
CHROMIUM = os.environ.get("SANDLOT_TEST_CHROMIUM", "/usr/bin/chromium")
AXE = Path(__file__).resolve().parents[2] / "ui" / "node_modules" / "axe-core" / "axe.min.js"
SEEDED = ("hello", "orders-api", "resize-images")
Scheme = Literal["light", "dark"]
SCHEMES: tuple[Scheme, ...] = ("light", "dark")


def _chromium() -> str:
    found = shutil.which(CHROMIUM)
    if found is None:
        skip_outside_ci(
            f"no Chromium at {CHROMIUM}: `apt-get install -y chromium` (or set "
            "SANDLOT_TEST_CHROMIUM); never `playwright install`"
        )
    return found


def require_built_console() -> None:
    if not (BUILT_UI / "index.html").is_file():
        skip_outside_ci(f"the console is not built in {BUILT_UI}: run `make ui`")
    if not AXE.is_file():
        skip_outside_ci(f"axe-core is not installed at {AXE}: run `make ui`")


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    require_built_console()
    _chromium()
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    launched = playwright.chromium.launch(executable_path=_chromium(), headless=True)
    try:
        yield launched
    finally:
        launched.close()


def deploy(server: LiveServer, names: Iterable[str]) -> None:
    """Deploy a tiny function under each name, through the API with the admin key, four at
    a time (each deploy waits for its import check)."""
    with httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=60
    ) as client:

        def one(name: str) -> None:
            code = {"main.py": f"def handler(event, context):\n    return {name!r}\n"}
            answer = client.post(
                "/api/v1/functions",
                data={"name": name},
                files={"code": ("code.zip", zip_bytes(code), "application/zip")},
            )
            assert answer.status_code == 201, answer.text

        with ThreadPoolExecutor(4) as pool:
            list(pool.map(one, names))


def _postgres_admin(sql: str) -> None:
    # In a thread of its own: Playwright's sync API keeps an event loop running in this one.
    with ThreadPoolExecutor(1) as thread:
        thread.submit(asyncio.run, _admin(sql)).result()


@contextmanager
def serve_console(
    tmp_path_factory: pytest.TempPathFactory,
    database: str = "sqlite",
    extra_env: dict[str, str] | None = None,
) -> Iterator[LiveServer]:
    """A server with the admin's password set and a few functions to list, on a SQLite
    file or on a PostgreSQL database of its own; `extra_env`: more settings."""
    require_built_console()
    data_dir = tmp_path_factory.mktemp("console") / "data"
    env = {
        "SANDLOT_BOOTSTRAP_ADMIN_PASSWORD": ADMIN_PASSWORD,
        # The budget test lists 200 functions, over the default quota of a namespace.
        "SANDLOT_QUOTA_FUNCTIONS": "none",
        **(extra_env or {}),
    }
    name = f"sandlot_ui_{uuid.uuid4().hex[:12]}"
    if database == "postgres":
        if _PG_PROBLEM is not None:
            skip_outside_ci(f"PostgreSQL not reachable at {POSTGRES_URL}: {_PG_PROBLEM}")
        _postgres_admin(f"CREATE DATABASE {name}")
        env["SANDLOT_DATABASE_URL"] = _url_for_database(name)
    try:
        live = start_server(data_dir, env)
        try:
            deploy(live, SEEDED)
            yield live
        finally:
            stop_server(live)
    finally:
        if database == "postgres":
            _postgres_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


SharedServer = Callable[[str], LiveServer]


# Package scope: the servers stop when the last console test ends, before the tests of the
# pool (tests/worker) count this process's children.
@pytest.fixture(scope="package")
def shared_console_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SharedServer]:
    """One console server per database for the whole run, started when a module first asks
    for it: a start (and, on PostgreSQL, a database and its migrations) costs seconds, and
    most modules need nothing of a server but that it serves. What a module leaves on it
    stays for the next: modules name their data uniquely, or take a server of their own."""
    with ExitStack() as stack:
        started: dict[str, LiveServer] = {}

        def get(database: str) -> LiveServer:
            if database not in started:
                started[database] = stack.enter_context(serve_console(tmp_path_factory, database))
            return started[database]

        yield get


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def server(request: pytest.FixtureRequest, shared_console_server: SharedServer) -> LiveServer:
    """The console server for a module's tests, on each database: shared with the other
    modules that use this fixture (a module that needs a server to itself, or settings of
    its own, overrides `server` with `serve_console(...)`)."""
    return shared_console_server(request.param)


@dataclass
class Watch:
    """What went wrong on a page: console errors, failed requests and error answers. A
    test names the answers it provokes (`expect`); any other is a failure."""

    console_errors: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    error_answers: list[tuple[int, str]] = field(default_factory=list)
    expected: set[tuple[int, str]] = field(default_factory=set)

    def expect(self, status: int, path: str) -> None:
        self.expected.add((status, path))

    def on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.console_errors.append(message.text)

    def on_failed(self, request: Request) -> None:
        if request.failure == "net::ERR_ABORTED":
            return  # cancelled because the page went away (a reload, a navigation)
        self.failed.append(f"{request.method} {request.url}: {request.failure}")

    def on_response(self, response: Response) -> None:
        if response.status >= 400:
            self.error_answers.append((response.status, httpx.URL(response.url).path))

    def check(self) -> None:
        unexpected = [answer for answer in self.error_answers if answer not in self.expected]
        # Chromium also logs each error answer as a console error; the answers themselves
        # are checked just above, so those lines are not counted twice.
        errors = [
            text
            for text in self.console_errors
            if not text.startswith("Failed to load resource: the server responded with")
        ]
        assert not unexpected, f"unexpected error answers: {unexpected}"
        assert not self.failed, f"failed requests: {self.failed}"
        assert not errors, f"console errors: {errors}"


@dataclass
class Console:
    """A browser tab on the console of `server`."""

    page: Page
    context: BrowserContext
    server: LiveServer
    watch: Watch

    def url(self, path: str) -> str:
        return f"{self.server.url}/ui{path}"

    def goto(self, path: str) -> None:
        self.page.goto(self.url(path))

    def sign_in(self, login: str = ADMIN_LOGIN, password: str = ADMIN_PASSWORD) -> None:
        self.page.get_by_label("User name").fill(login)
        self.page.get_by_label("Password").fill(password)
        self.page.get_by_role("button", name="Sign in").click()

    def axe(self) -> list[dict[str, Any]]:
        """axe-core's serious and critical violations on the page as it is now."""
        if not self.page.evaluate("typeof window.axe !== 'undefined'"):
            # Evaluated through the DevTools protocol, which the page's CSP does not govern;
            # a <script> tag with axe's source would be refused, as any inline script is.
            self.page.evaluate(AXE.read_text())
        result: dict[str, Any] = self.page.evaluate(
            "async () => await window.axe.run(document, {resultTypes: ['violations']})"
        )
        return [
            {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]]}
            for v in result["violations"]
            if v["impact"] in ("serious", "critical")
        ]


@contextmanager
def open_console(
    browser: Browser, server: LiveServer, *, color_scheme: Scheme = "light"
) -> Iterator[Console]:
    """A fresh browser context (no cookies, no storage) on the console; on leaving, what
    went wrong on its pages fails the test."""
    context = browser.new_context(
        color_scheme=color_scheme,
        viewport={"width": 1280, "height": 800},
        reduced_motion="reduce",
    )
    page = context.new_page()
    watch = Watch()
    page.on("console", watch.on_console)
    page.on("requestfailed", watch.on_failed)
    page.on("response", watch.on_response)
    console = Console(page=page, context=context, server=server, watch=watch)
    try:
        yield console
    finally:
        context.close()
    watch.check()


@pytest.fixture
def console(browser: Browser, server: LiveServer) -> Iterator[Console]:
    with open_console(browser, server) as opened:
        yield opened
