"""The Schedules tab and the Function URL section choosing an alias, in a real browser on
SQLite and PostgreSQL: a schedule made for `prod` lists as `name:prod`, and the URL of
`prod` is enabled at `/fn/default/name:prod/` while the function's own stays off."""

from __future__ import annotations

import uuid

import httpx
from playwright.sync_api import expect

from tests.conftest import ADMIN_KEY, LiveServer, zip_bytes
from tests.ui.conftest import Console


def _with_alias(server: LiveServer) -> str:
    name = f"aliased-{uuid.uuid4().hex[:8]}"  # other modules share the server
    code = {"main.py": "def handler(event, context):\n    return {'ok': True}\n"}
    with httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=60
    ) as client:
        made = client.post(
            "/api/v1/functions",
            data={"name": name},
            files={"code": ("code.zip", zip_bytes(code), "application/zip")},
        )
        assert made.status_code == 201, made.text
        alias = client.put(f"/api/v1/functions/{name}/aliases/prod", json={"version": 1})
        assert alias.status_code == 201, alias.text
    return name


def test_a_schedule_and_a_url_of_an_alias(console: Console, server: LiveServer) -> None:
    name = _with_alias(server)
    console.goto(f"/functions/{name}/schedules")
    console.sign_in()
    page = console.page
    form = page.get_by_role("form", name="New schedule")
    expect(form.get_by_label("Alias it calls").locator("option")).to_have_count(2)
    form.get_by_label("Alias it calls").select_option("prod")
    form.get_by_label("Cron expression").fill("0 3 1 1 *")
    expect(form.locator("#cron-preview li")).to_have_count(3)
    form.get_by_role("button", name="Create schedule").click()
    row = page.locator("tr[data-schedule]")
    expect(row).to_have_count(1)
    expect(row.locator(".alias")).to_have_text(f"{name}:prod")
    assert console.axe() == []

    console.goto(f"/functions/{name}/configuration")
    section = page.get_by_role("region", name="Function URL")
    expect(section.get_by_text(f"{name} has no public URL")).to_be_visible()
    section.get_by_label("URL of alias").select_option("prod")
    expect(section.get_by_text(f"{name}:prod has no public URL")).to_be_visible()
    section.get_by_label("None: public").check()
    section.get_by_role("button", name="Enable URL").click()
    expect(section.locator("code[data-url]")).to_have_text(f"{server.url}/fn/default/{name}:prod/")
    assert console.axe() == []
    section.get_by_label("URL of alias").select_option("latest")
    expect(section.get_by_text(f"{name} has no public URL")).to_be_visible()
    answer = httpx.get(f"{server.url}/fn/default/{name}:prod/", timeout=30)
    assert answer.status_code == 200 and answer.headers["x-sandlot-alias"] == "prod"
