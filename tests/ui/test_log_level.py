"""A function's log level in the Configuration tab of a real browser, on SQLite and
PostgreSQL: INFO until set, chosen from Lambda's levels, saved as a new version whose
instances log at it, and named in the Versions tab's changes."""

from __future__ import annotations

from typing import Any

import httpx
from playwright.sync_api import expect

from tests.conftest import ADMIN_KEY, LiveServer, zip_bytes
from tests.ui.conftest import Console

LOGS = {
    "main.py": "import logging\n"
    "def handler(event, context):\n"
    "    logging.getLogger('app').debug('a debug line')\n"
    "    return 'ok'\n"
}


def _admin(server: LiveServer) -> httpx.Client:
    return httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=60
    )


def _ok(answer: httpx.Response, status: int = 200) -> Any:
    assert answer.status_code == status, answer.text
    return answer.json()


def test_the_log_level_is_chosen_and_saved_as_a_new_version(
    console: Console, server: LiveServer
) -> None:
    with _admin(server) as client:
        _ok(
            client.post(
                "/api/v1/functions",
                data={"name": "leveled"},
                files={"code": ("code.zip", zip_bytes(LOGS), "application/zip")},
            ),
            201,
        )
    console.goto("/functions/leveled/configuration")
    console.sign_in()
    page = console.page
    level = page.get_by_label("Log level")
    expect(level).to_have_value("INFO")  # nothing set: Lambda's default
    expect(level.locator("option")).to_have_text(["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"])
    level.select_option("DEBUG")
    expect(page.get_by_text("Unsaved changes")).to_be_visible()
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_text("Saved as version 2 (ready).")).to_be_visible()
    expect(page.get_by_label("Log level")).to_have_value("DEBUG")

    with _admin(server) as client:
        saved = _ok(client.get("/api/v1/functions/leveled/versions/2"))
        assert saved["log_level"] == "DEBUG"
        invoked = client.post("/api/v1/functions/leveled/invoke", content=b"{}")
        assert invoked.status_code == 200, invoked.text
        invocation_id = invoked.headers["x-sandlot-invocation-id"]
        logs = client.get(f"/api/v1/invocations/{invocation_id}/logs").text
    assert "[DEBUG]" in logs and "a debug line" in logs

    page.get_by_role("link", name="Versions").click()
    expect(page.locator("section.changes tbody th[scope=row]")).to_have_text(["Log level"])
