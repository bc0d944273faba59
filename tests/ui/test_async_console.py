"""Asynchronous calls in the browser: "Invoke async" on the Test tab queues a call and links
to it; its page follows it live until it ends, shows attempt n of max and each earlier
attempt's error, and offers Redrive and Discard on a dead letter (by role); the Invocations
tab's `dead` filter offers Redrive all."""

from __future__ import annotations

import re
import uuid

import httpx
from playwright.sync_api import Browser, expect

from tests.conftest import ADMIN_KEY, LiveServer, zip_bytes
from tests.ui.conftest import Console, open_console

ECHO = "def handler(event, context):\n    return {'echo': event}\n"
CRASHES = "import os\ndef handler(event, context):\n    os._exit(3)\n"
VIEWER, VIEWER_PASSWORD = "async-viewer", "a viewer's long passphrase"


def _name(prefix: str) -> str:
    # The server may be shared with other modules: names of this module's own.
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _client(server: LiveServer) -> httpx.Client:
    return httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=60
    )


def _deploy(server: LiveServer, name: str, code: str) -> None:
    files = {"code": ("code.zip", zip_bytes({"main.py": code}), "application/zip")}
    with _client(server) as client:
        answer = client.post("/api/v1/functions", data={"name": name}, files=files)
    assert answer.status_code == 201, answer.text


def _dead_letter(server: LiveServer, name: str) -> str:
    """Queue a call of a crashing function and wait (long polls) until it is dead."""
    with _client(server) as client:
        queued = client.post(
            f"/api/v1/functions/{name}/invoke",
            content=b"null",
            headers={"Prefer": "respond-async", "Content-Type": "application/json"},
        )
        assert queued.status_code == 202, queued.text
        invocation_id: str = queued.json()["id"]
        for _ in range(10):
            found = client.get(f"/api/v1/invocations/{invocation_id}", params={"wait": 30})
            if found.json()["state"] not in ("queued", "running"):
                break
        assert found.json()["state"] == "dead", found.text
    return invocation_id


def _signed_in(console: Console, path: str, login: str | None = None) -> None:
    console.goto(path)
    if login is None:
        console.sign_in()
    else:
        console.sign_in(login, VIEWER_PASSWORD)
    expect(console.page).to_have_url(console.url(path))


def test_invoke_async_queues_and_its_page_follows_it(browser: Browser, server: LiveServer) -> None:
    name = _name("async-echo")
    _deploy(server, name, ECHO)
    with open_console(browser, server) as console:
        page = console.page
        _signed_in(console, f"/functions/{name}/test")
        page.get_by_label("Event (JSON)").fill('{"n": 5}')
        page.get_by_role("button", name="Invoke async").click()
        queued = page.get_by_test_id("queued")
        expect(queued).to_contain_text("Queued")
        queued.get_by_role("link").click()
        expect(page).to_have_url(re.compile(r"/ui/invocations/[0-9a-z]{26}$"))
        expect(page.get_by_test_id("state")).to_have_text("succeeded", timeout=60_000)
        expect(page.get_by_test_id("result")).to_contain_text('"n": 5')
        expect(page.get_by_test_id("attempt")).to_have_text("1 of 3")


def test_a_dead_letter_shows_its_attempts_and_is_redriven_then_discarded(
    browser: Browser, server: LiveServer
) -> None:
    name = _name("async-crash")
    _deploy(server, name, CRASHES)
    invocation_id = _dead_letter(server, name)
    with open_console(browser, server) as console:
        page = console.page
        _signed_in(console, f"/invocations/{invocation_id}")
        expect(page.get_by_test_id("state")).to_have_text("dead")
        expect(page.get_by_test_id("attempt")).to_have_text("3 of 3")
        attempts = page.get_by_test_id("attempts").get_by_role("listitem")
        expect(attempts).to_have_count(3)
        expect(attempts.first).to_contain_text("FunctionCrashed")

        page.get_by_role("button", name="Redrive").click()
        # Followed live: it runs its three attempts again and ends dead once more.
        expect(attempts).to_have_count(6, timeout=60_000)
        expect(page.get_by_test_id("state")).to_have_text("dead")
        expect(attempts.nth(2)).to_contain_text("redriven")

        page.get_by_role("button", name="Discard").click()
        expect(page).to_have_url(re.compile(rf"/ui/functions/{name}/invocations\?state=dead$"))
        expect(page.get_by_text("No invocation matches these filters.")).to_be_visible()
    with _client(server) as client:
        assert client.get(f"/api/v1/invocations/{invocation_id}").status_code == 404


def test_the_dead_filter_offers_redrive_all(browser: Browser, server: LiveServer) -> None:
    name = _name("async-dead")
    _deploy(server, name, CRASHES)
    for _ in range(2):
        _dead_letter(server, name)
    with open_console(browser, server) as console:
        page = console.page
        _signed_in(console, f"/functions/{name}/invocations?state=dead")
        expect(page.get_by_test_id("invocation-row")).to_have_count(2)
        page.get_by_role("button", name="Redrive all").click()
        expect(page.get_by_role("status")).to_have_text("Queued again 2 dead letters.")


def test_a_viewer_is_offered_no_action_on_a_dead_letter(
    browser: Browser, server: LiveServer
) -> None:
    name = _name("async-seen")
    _deploy(server, name, CRASHES)
    invocation_id = _dead_letter(server, name)
    with _client(server) as client:
        made = client.post("/api/v1/users", json={"login": VIEWER, "password": VIEWER_PASSWORD})
        assert made.status_code in (201, 409), made.text  # another test of the module made it
        added = client.post(
            "/api/v1/namespaces/default/members", json={"login": VIEWER, "role": "viewer"}
        )
        assert added.status_code in (201, 409), added.text
    with open_console(browser, server) as console:
        page = console.page
        _signed_in(console, f"/invocations/{invocation_id}", login=VIEWER)
        expect(page.get_by_test_id("state")).to_have_text("dead")
        expect(page.get_by_text("may read this call but not act on it")).to_be_visible()
        expect(page.get_by_role("button", name="Redrive")).to_have_count(0)
        expect(page.get_by_role("button", name="Discard")).to_have_count(0)
