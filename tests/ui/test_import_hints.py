"""The console says what a build warned about: after a deploy from the Code tab, and on the
version's Versions entry; a version without warnings shows none. On SQLite and PostgreSQL."""

from __future__ import annotations

import re

import httpx
from playwright.sync_api import expect

from tests.conftest import ADMIN_KEY, LiveServer
from tests.ui.conftest import Console

HINT = (
    "main.py imports dateutil, which no dependency provides: "
    "add python-dateutil to requirements.txt"
)


def _create(server: LiveServer, name: str) -> None:
    with httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=60
    ) as admin:
        files = {"main.py": "def handler(event, context):\n    return 1\n"}
        made = admin.post("/api/v1/functions", json={"name": name, "files": files})
        assert made.status_code == 201, made.text


def test_a_deploy_from_the_code_tab_shows_its_import_warning(console: Console) -> None:
    _create(console.server, "lambda-habits")
    page = console.page
    console.goto("/functions/lambda-habits/code")
    console.sign_in()
    expect(page.locator("[data-editor=ready] .cm-content")).to_be_visible()
    expect(page.get_by_role("region", name=re.compile("built with"))).to_have_count(0)
    page.locator(".cm-content").click()
    page.keyboard.press("Control+A")
    page.keyboard.press("Delete")
    # A one-line `if`, so the editor indents nothing by itself; the branch runs only on
    # Lambda, so the version imports here and is ready, with the warning.
    lines = [
        "import os",
        "if os.environ.get('AWS_LAMBDA_RUNTIME_API'): import dateutil",
        "def handler(event, context):",
        "return 2",
    ]
    page.keyboard.type("\n".join(lines))
    page.keyboard.press("Control+s")
    build = page.get_by_role("region", name=re.compile("Build of version 2"))
    expect(build.get_by_text("ready", exact=True)).to_be_visible()
    expect(page.get_by_label("Build log of version 2")).to_contain_text(f"warning: {HINT}")
    warned = page.get_by_role("region", name="Version 2 built with a warning")
    expect(warned).to_contain_text(HINT)
    expect(page).to_have_url(re.compile(r"/code\?version=2$"))

    console.goto("/functions/lambda-habits/versions?version=2")
    expect(page.get_by_role("region", name="Version 2 built with a warning")).to_contain_text(HINT)
    console.goto("/functions/lambda-habits/versions?version=1")
    expect(page.get_by_role("heading", name="What changed in version 1")).to_be_visible()
    expect(page.get_by_role("region", name=re.compile("built with"))).to_have_count(0)
