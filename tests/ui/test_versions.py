"""The Versions and Configuration tabs in a real browser, on SQLite and PostgreSQL: who
deployed each version and what changed in it; the configuration changed and saved as a new
version; the API's own message next to a bad value; a viewer who may only read; axe-core
clean on both tabs in both themes."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests.conftest import ADMIN_KEY, LiveServer, zip_bytes
from tests.ui.conftest import ADMIN_LOGIN, SCHEMES, Console, Scheme, open_console

BY_KEY = "key:bootstrap admin"
V1 = {"main.py": "def handler(event, context):\n    return 'v1'\n"}
V2 = {"main.py": "def handler(event, context):\n    return 'v2'\n", "helper.py": "X = 1\n"}
SECRET_VALUE = "never-in-the-page-7f3a"
VIEWER, VIEWER_PASSWORD = "vera", "viewer-passphrase-for-tests"


def _admin(server: LiveServer) -> httpx.Client:
    return httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=60
    )


def _ok(answer: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    body: dict[str, Any] = answer.json()
    return body


def _create(server: LiveServer, name: str, env: dict[str, str]) -> None:
    with _admin(server) as client:
        _ok(
            client.post(
                "/api/v1/functions",
                data={"name": name, "env": json.dumps(env)},
                files={"code": ("code.zip", zip_bytes(V1), "application/zip")},
            ),
            201,
        )


def _version(server: LiveServer, name: str, number: int) -> dict[str, Any]:
    with _admin(server) as client:
        return _ok(client.get(f"/api/v1/functions/{name}/versions/{number}"))


@pytest.fixture(scope="module")
def greeter(server: LiveServer) -> str:
    """A function with two versions, both deployed with the admin key: v2 changes a line
    of main.py, adds a file, changes one env value and adds a variable."""
    _create(server, "greeter", {"GREETING": "hello"})
    with _admin(server) as client:
        _ok(
            client.put(
                "/api/v1/functions/greeter",
                data={"env": json.dumps({"GREETING": "hi", "NEW_VAR": "1"})},
                files={"code": ("code.zip", zip_bytes(V2), "application/zip")},
            )
        )
    return "greeter"


@pytest.fixture(scope="module")
def viewer(server: LiveServer) -> Iterator[str]:
    with _admin(server) as client:
        _ok(client.post("/api/v1/users", json={"login": VIEWER, "password": VIEWER_PASSWORD}), 201)
        _ok(
            client.post(
                "/api/v1/namespaces/default/members", json={"login": VIEWER, "role": "viewer"}
            ),
            201,
        )
    yield VIEWER


def test_versions_say_who_deployed_them_and_what_changed(console: Console, greeter: str) -> None:
    console.goto(f"/functions/{greeter}/versions")
    console.sign_in()
    page = console.page
    rows = page.locator("table.versions tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.locator("th")).to_have_text([re.compile(r"^Version 2\s+latest$"), "Version 1"])
    expect(rows.locator("td.who")).to_have_text([BY_KEY, BY_KEY])
    expect(rows.locator("td.state")).to_have_text([re.compile("ready")] * 2)

    # Without ?version, the newest against the one before it.
    expect(
        page.get_by_role("heading", name="What changed in version 2 against version 1")
    ).to_be_visible()
    added = page.locator("table.diff tr.added", has_text="return 'v2'")
    expect(added).to_have_count(1)
    expect(added.locator(".sign")).to_have_text(re.compile(r"\+\s*added"))  # not colour alone
    removed = page.locator("table.diff tr.removed", has_text="return 'v1'")
    expect(removed.locator(".sign")).to_have_text(re.compile("\u2212\\s*removed"))
    expect(page.locator("h4.file")).to_have_text(
        [re.compile(r"helper\.py\s+added"), re.compile(r"main\.py\s+changed")]
    )
    env = page.locator("section.changes dl.names").first
    expect(env.locator("dt")).to_have_text(["Added", "Changed value"])
    expect(env.locator("dd")).to_have_text(["NEW_VAR", "GREETING"])
    # By name only: neither value of GREETING reaches the page.
    assert "hello" not in env.inner_text() and "hi" not in env.locator("dd").all_inner_texts()

    # Version 1 is the first; its link puts it in the URL, which a reload keeps.
    page.get_by_role("link", name="Version 1", exact=True).click()
    expect(page).to_have_url(re.compile(r"/versions\?version=1$"))
    expect(page.get_by_text("Version 1 is the first version")).to_be_visible()
    page.reload()
    expect(page.get_by_text("Version 1 is the first version")).to_be_visible()
    expect(page.get_by_role("link", name="Version 1", exact=True)).to_have_attribute(
        "aria-current", "true"
    )

    # Against another version, chosen in the page and kept in the URL.
    page.get_by_label("Compare with").select_option("2")
    expect(page).to_have_url(re.compile(r"version=1&against=2$"))
    expect(
        page.get_by_role("heading", name="What changed in version 1 against version 2")
    ).to_be_visible()
    expect(page.locator("h4.file")).to_have_text(
        [re.compile(r"helper\.py\s+removed"), re.compile(r"main\.py\s+changed")]
    )
    expect(page.locator("table.diff tr.added", has_text="return 'v1'")).to_have_count(1)


def test_a_saved_configuration_is_a_new_version(console: Console, server: LiveServer) -> None:
    _create(server, "configured", {"MODE": "a", "GONE": "x"})
    with _admin(server) as client:
        _ok(client.put("/api/v1/secrets/API_TOKEN", json={"value": SECRET_VALUE}))
    console.goto("/functions/configured/configuration")
    console.sign_in()
    page = console.page
    memory = page.get_by_label("Memory (MB)")
    expect(memory).to_have_value("256")
    expect(page.get_by_text("Unsaved changes")).to_have_count(0)
    memory.fill("512")
    page.get_by_label("Value of MODE").fill("b")
    page.get_by_role("button", name="Remove GONE").click()
    page.get_by_role("button", name="Add a variable").click()
    page.get_by_label("Name of variable 2").fill("ADDED")
    page.get_by_label("Value of ADDED").fill("yes")  # the label follows the name
    page.get_by_role("checkbox", name="API_TOKEN").check()
    expect(page.get_by_text("Unsaved changes")).to_be_visible()

    # The edits outlive a visit to another tab.
    page.get_by_role("link", name="Versions").click()
    expect(page.locator("table.versions tbody tr")).to_have_count(1)
    page.get_by_role("link", name="Configuration").click()
    expect(page.get_by_label("Memory (MB)")).to_have_value("512")
    expect(page.get_by_text("Unsaved changes")).to_be_visible()

    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_text("Saved as version 2 (ready).")).to_be_visible()
    expect(page.get_by_role("heading", name="Configuration of version 2")).to_be_visible()
    expect(page.get_by_text("Unsaved changes")).to_have_count(0)
    saved = _version(server, "configured", 2)
    assert saved["memory_mb"] == 512
    assert saved["env"] == {"MODE": "b", "ADDED": "yes"}
    assert saved["secrets"] == [{"name": "API_TOKEN", "as": "env"}]
    assert saved["deployed_by"] == ADMIN_LOGIN  # a session deploys as the person
    assert saved["code_sha256"] == _version(server, "configured", 1)["code_sha256"]
    assert SECRET_VALUE not in page.content()

    # The Versions tab names the person and the changes.
    page.get_by_role("link", name="Versions").click()
    expect(page.locator("table.versions td.who")).to_have_text([ADMIN_LOGIN, BY_KEY])
    expect(page.locator("section.changes tbody th[scope=row]")).to_have_text(["Memory (MB)"])


def test_a_bad_value_shows_the_apis_message_at_its_field(
    console: Console, server: LiveServer
) -> None:
    _create(server, "limited", {})
    console.watch.expect(400, "/api/v1/functions/limited")
    console.goto("/functions/limited/configuration")
    console.sign_in()
    page = console.page
    memory = page.get_by_label("Memory (MB)")
    memory.fill("1")
    page.get_by_role("button", name="Save", exact=True).click()
    error = page.locator("#cfg-memory_mb-error")
    expect(error).to_have_text(re.compile(r"^memory_mb must be between \d+ and \d+, got 1$"))
    expect(memory).to_have_attribute("aria-invalid", "true")
    expect(memory).to_have_attribute("aria-describedby", "cfg-memory_mb-error")
    expect(memory).to_be_focused()
    # What is not a whole number never leaves the page.
    page.get_by_label("Timeout (seconds)").fill("2.5")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator("#cfg-timeout_s-error")).to_have_text("Give a whole number.")
    with _admin(server) as client:
        assert _ok(client.get("/api/v1/functions/limited"))["versions"] == 1


def test_a_viewer_reads_the_configuration_and_cannot_save(
    console: Console, greeter: str, viewer: str
) -> None:
    console.goto(f"/functions/{greeter}/configuration")
    console.sign_in(viewer, VIEWER_PASSWORD)
    page = console.page
    table = page.get_by_role("table", name="Configuration of version 2, the latest")
    expect(table).to_be_visible()
    expect(table.get_by_role("row", name=re.compile("Memory"))).to_contain_text("256")
    expect(table).to_contain_text("NEW_VAR")
    expect(page.get_by_role("button", name="Save", exact=True)).to_have_count(0)
    expect(page.get_by_role("textbox")).to_have_count(0)
    # The server refuses the viewer's own session anyway.
    me = console.context.request.get(f"{console.server.url}/api/v1/auth/me")
    assert me.ok, me.text()
    refused = console.context.request.put(
        f"{console.server.url}/api/v1/functions/{greeter}",
        data=json.dumps({"memory_mb": 512}),
        headers={"Content-Type": "application/json", "X-CSRF-Token": me.json()["csrf_token"]},
    )
    assert refused.status == 403, refused.text()
    assert refused.json()["error"] == "PermissionDenied"
    assert _version(console.server, greeter, 2)["memory_mb"] == 256


@pytest.mark.parametrize("scheme", SCHEMES)
def test_both_tabs_are_accessible_in_either_theme(
    browser: Browser, server: LiveServer, greeter: str, scheme: Scheme
) -> None:
    with open_console(browser, server, color_scheme=scheme) as console:
        console.goto(f"/functions/{greeter}/versions")
        console.sign_in()
        page = console.page
        expect(page.locator("table.diff").first).to_be_visible()
        assert console.axe() == []
        page.get_by_role("link", name="Version 1", exact=True).click()
        expect(page.get_by_text("Version 1 is the first version")).to_be_visible()
        assert console.axe() == []
        page.get_by_role("link", name="Configuration").click()
        expect(page.get_by_label("Memory (MB)")).to_be_visible()
        expect(
            page.get_by_role("checkbox", name="API_TOKEN").or_(
                page.get_by_text("The namespace has no secrets.")
            )
        ).to_be_visible()
        page.get_by_label("Memory (MB)").fill("300")
        expect(page.get_by_text("Unsaved changes")).to_be_visible()
        assert console.axe() == []
