"""The Destinations section of a function's Configuration tab in a real browser, on SQLite
and PostgreSQL: a webhook and a function destination set (the secret never shown again),
the API's message for a bad URL, and the deliveries list with redeliver."""

from __future__ import annotations

import asyncio
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
from playwright.sync_api import expect

from sandlot.storage.db import make_engine, make_sessionmaker
from tests.api.destination_world import failed_delivery
from tests.conftest import ADMIN_KEY, LiveServer
from tests.ui.conftest import Console, deploy

SECRET = "ui-webhook-secret-never-shown-" + "q" * 8


def _admin(server: LiveServer) -> httpx.Client:
    return httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=60
    )


def _destinations(server: LiveServer, name: str) -> dict[str, Any]:
    with _admin(server) as client:
        answer = client.get(f"/api/v1/functions/{name}/destinations")
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


async def _delivery(url: str, name: str) -> str:
    engine = make_engine(url)
    try:
        return await failed_delivery(make_sessionmaker(engine), name, "0" * 26)
    finally:
        await engine.dispose()


def _seed_delivery(server: LiveServer, name: str) -> str | None:
    """A failed delivery written to the server's SQLite file (None on PostgreSQL, whose
    database the fixture does not name: the list is then checked empty)."""
    path = server.data_dir / "sandlot.db"
    if not path.exists():
        return None
    # In a thread of its own: Playwright's sync API keeps an event loop running in this one.
    with ThreadPoolExecutor(1) as thread:
        url = f"sqlite+aiosqlite:///{path}"
        return thread.submit(asyncio.run, _delivery(url, name)).result()


def test_destinations_are_set_and_deliveries_redelivered(
    console: Console, server: LiveServer
) -> None:
    name, other = f"dest-{uuid.uuid4().hex[:8]}", f"next-{uuid.uuid4().hex[:8]}"
    deploy(server, [name, other])
    delivery = _seed_delivery(server, name)
    console.watch.expect(400, f"/api/v1/functions/{name}/destinations")
    console.goto(f"/functions/{name}/configuration")
    console.sign_in()
    page = console.page
    expect(page.get_by_role("heading", name="Destinations")).to_be_visible()

    page.get_by_label("On success: kind").select_option("webhook")
    page.get_by_label("On success: URL").fill("ftp://example.com/hook")
    page.get_by_label("Webhook secret").fill(SECRET)
    page.get_by_role("button", name="Save destinations").click()
    expect(page.get_by_role("alert")).to_contain_text("http or https")

    page.get_by_label("On success: URL").fill("https://example.com/hook")
    page.get_by_label("On failure: kind").select_option("function")
    page.get_by_label("On failure: function").fill(other)
    page.get_by_role("button", name="Save destinations").click()
    expect(page.get_by_text("Destinations saved.")).to_be_visible()
    expect(page.get_by_text("Set; leave empty to keep it.")).to_be_visible()
    assert SECRET not in page.content()
    saved = _destinations(server, name)
    assert saved["on_success"]["url"] == "https://example.com/hook"
    assert saved["on_failure"]["function"] == other and saved["secret_set"] is True

    if delivery is None:
        expect(page.get_by_text("No deliveries yet.")).to_be_visible()
        return
    rows = page.locator("table.deliveries tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("failed")
    page.get_by_role("button", name=f"Redeliver {delivery}").click()
    expect(page.get_by_text(f"Redelivering {delivery} as")).to_be_visible()
    expect(rows).to_have_count(2)
