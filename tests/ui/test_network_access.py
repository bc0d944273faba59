"""The Network access section of the Configuration tab, and the namespace's network bound
in its settings, in a real browser on SQLite and PostgreSQL: a policy beyond the bound is
refused with the named error shown inline; the platform admin sets and resets the bound;
axe-core clean."""

from __future__ import annotations

import uuid

import httpx
from playwright.sync_api import expect

from tests.conftest import ADMIN_KEY, HELLO, LiveServer, zip_bytes
from tests.ui.conftest import Console


def _client(server: LiveServer) -> httpx.Client:
    return httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=60
    )


def test_a_policy_beyond_the_bound_is_refused_inline(console: Console, server: LiveServer) -> None:
    name = f"net-{uuid.uuid4().hex[:8]}"  # other modules may share the server
    with _client(server) as client:
        made = client.post(
            "/api/v1/functions",
            data={"name": name},
            files={"code": ("code.zip", zip_bytes(HELLO), "application/zip")},
        )
        assert made.status_code == 201, made.text
    console.watch.expect(403, f"/api/v1/functions/{name}")
    console.goto(f"/functions/{name}/configuration")
    console.sign_in()
    section = console.page.get_by_role("region", name="Network access")
    expect(section.get_by_text("may reach: no network access")).to_be_visible()
    expect(section.get_by_text("allows its functions no network access")).to_be_visible()

    section.get_by_label("Only the destinations listed").check()
    section.get_by_role("button", name="Add a destination", exact=True).click()
    section.get_by_label("Destination 1").fill("api.test:443")
    section.get_by_role("button", name="Save network access", exact=True).click()
    expect(section.get_by_role("alert")).to_contain_text("EgressNotAllowed")
    expect(section.get_by_role("alert")).to_contain_text("allows no network access")
    assert console.axe() == []


def test_the_admin_sets_the_namespace_bound(console: Console, server: LiveServer) -> None:
    console.goto("/settings/network")
    console.sign_in()
    page = console.page
    try:
        expect(page.get_by_text("(the server's default)")).to_be_visible()
        page.get_by_label("Bound:").fill("*.test:443 10.0.0.0/8")
        page.get_by_role("button", name="Save network bound", exact=True).click()
        expect(page.get_by_text("Network bound saved.")).to_be_visible()
        expect(page.get_by_text("*.test:443, 10.0.0.0/8", exact=True)).to_be_visible()
        assert console.axe() == []
        page.get_by_role("button", name="Use the server's default", exact=True).click()
        expect(page.get_by_text("Back to the server's default.")).to_be_visible()
    finally:
        with _client(server) as client:  # the server is shared: leave the default
            client.put("/api/v1/namespaces/default/egress", json={"bound": None})
