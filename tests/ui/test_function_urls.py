"""The Function URL section of the Configuration tab in a real browser, on SQLite and
PostgreSQL: enable a public URL with CORS, copy it, call it, see the API's message for a bad
origin, take it down; axe-core clean."""

from __future__ import annotations

import uuid

import httpx
from playwright.sync_api import expect

from tests.conftest import ADMIN_KEY, LiveServer, zip_bytes
from tests.ui.conftest import Console

SOURCE = {
    "main.py": "def handler(event, context):\n"
    '    return {"statusCode": 200, "body": "at " + event["rawPath"],\n'
    '            "headers": {"content-type": "text/plain"}}\n'
}


def _create(server: LiveServer) -> str:
    name = f"site-{uuid.uuid4().hex[:8]}"  # other modules may share the server
    with httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=60
    ) as client:
        answer = client.post(
            "/api/v1/functions",
            data={"name": name},
            files={"code": ("code.zip", zip_bytes(SOURCE), "application/zip")},
        )
        assert answer.status_code == 201, answer.text
    return name


def test_enable_call_and_delete_a_function_url(console: Console, server: LiveServer) -> None:
    name = _create(server)
    console.context.grant_permissions(["clipboard-read", "clipboard-write"])
    console.watch.expect(400, f"/api/v1/functions/{name}/url")
    console.goto(f"/functions/{name}/configuration")
    console.sign_in()
    page = console.page
    section = page.get_by_role("region", name="Function URL")
    expect(section.get_by_text("has no public URL")).to_be_visible()

    # A bad origin: the API's own message, and nothing enabled.
    section.get_by_label("Allowed origins").fill("not an origin")
    section.get_by_role("button", name="Enable URL").click()
    expect(section.get_by_role("alert")).to_contain_text("not valid")

    section.get_by_label("None: public").check()
    section.get_by_label("Allowed origins").fill("https://app.example")
    section.get_by_label("Max age (s)").fill("120")
    section.get_by_role("button", name="Enable URL").click()
    expect(section.get_by_text("Saved: the URL serves these settings now.")).to_be_visible()
    url = f"{server.url}/fn/default/{name}/"
    expect(section.locator("code[data-url]")).to_have_text(url)
    section.get_by_role("button", name="Copy URL").click()
    expect(section.get_by_text("Copied")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == url
    assert console.axe() == []

    called = httpx.get(url + "hello", headers={"origin": "https://app.example"})
    assert called.text == "at /hello"
    assert called.headers["access-control-allow-origin"] == "https://app.example"

    # The settings are read back on a fresh visit.
    page.reload()
    expect(section.get_by_label("Allowed origins")).to_have_value("https://app.example")
    expect(section.get_by_label("None: public")).to_be_checked()

    section.get_by_role("button", name="Delete URL").click()
    expect(section.get_by_text("The URL is down: it answers 404.")).to_be_visible()
    assert httpx.get(url).status_code == 404
