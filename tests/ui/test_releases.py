"""The Releases tab in a real browser, on SQLite and PostgreSQL: an alias made and its
weights changed in the dialog (a sum that is not 100 said before the request), a rollback,
the deploy history with its Compare link to the Versions tab's diff; a release started
(a too-short interval named in the form), paused, resumed, aborted and promoted; the
Invocations tab's alias column and filter; axe-core clean in both themes."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.conftest import ADMIN_KEY, LiveServer, zip_bytes
from tests.ui.conftest import SCHEMES, Console, Scheme, deploy, open_console

NAME = "rel-ui-tab"
V2 = {"main.py": "def handler(event, context):\n    return 'v2'\n"}


@pytest.fixture
def api(server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=f"{server.url}/api/v1",
        headers={"Authorization": f"Bearer {ADMIN_KEY}"},
        timeout=60,
    ) as client:
        yield client


def _ok(answer: httpx.Response, status: int = 200) -> Any:
    assert answer.status_code == status, answer.text
    return answer.json()


@pytest.fixture(scope="module")
def function(server: LiveServer) -> str:
    """Two ready versions: v1 (the deploy helper's) and v2."""
    deploy(server, [NAME])
    with httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=60
    ) as client:
        _ok(
            client.put(
                f"/api/v1/functions/{NAME}",
                files={"code": ("code.zip", zip_bytes(V2), "application/zip")},
            )
        )
    return NAME


def _alias_row(page: Page, alias: str) -> Any:
    return page.locator(f"table.aliases tr[data-alias='{alias}']")


def test_an_alias_is_split_edited_rolled_back_and_compared(console: Console, function: str) -> None:
    console.goto(f"/functions/{function}/releases")
    console.sign_in()
    page = console.page
    expect(_alias_row(page, "latest")).to_contain_text("v2")
    expect(_alias_row(page, "latest")).to_contain_text("built in")

    page.get_by_role("button", name="New alias", exact=True).click()
    dialog = page.get_by_role("dialog", name="New alias")
    dialog.get_by_label("Alias name").fill("prod")
    dialog.get_by_label("Version of row 1").select_option("1")
    dialog.get_by_label("Weight of row 1").fill("80")
    dialog.get_by_role("button", name="Add a version", exact=True).click()
    expect(dialog.get_by_label("Version of row 2")).to_have_value("2")
    expect(dialog.get_by_label("Weight of row 2")).to_have_value("20")
    dialog.get_by_label("Weight of row 2").fill("10")
    expect(dialog.locator(".total")).to_contain_text("The weights sum to 90")
    save = dialog.get_by_role("button", name="Save weights", exact=True)
    expect(save).to_be_disabled()
    dialog.get_by_label("Weight of row 1").fill("90")
    assert console.axe() == []
    save.click()
    expect(dialog).to_be_hidden()
    expect(page.get_by_role("status")).to_have_text("prod now serves v2 10%, v1 90%.")
    expect(_alias_row(page, "prod")).to_contain_text("v2 10%, v1 90%")

    # Wholly onto v2: the dialog lists the routes newest first.
    _alias_row(page, "prod").get_by_role("button", name="Edit weights of prod").click()
    dialog = page.get_by_role("dialog", name="Weights of prod")
    dialog.get_by_role("button", name="Remove row 2").click()
    dialog.get_by_label("Weight of row 1").fill("100")
    dialog.get_by_role("button", name="Save weights", exact=True).click()
    expect(page.get_by_role("status")).to_have_text("prod now serves v2.")

    _alias_row(page, "prod").get_by_role("button", name="Roll back prod").click()
    confirm = page.get_by_role("dialog", name="Roll prod back?")
    confirm.get_by_role("button", name="Roll back", exact=True).click()
    expect(page.get_by_role("status")).to_have_text(re.compile(r"^prod rolled back: .*v1"))

    history = page.locator("table.history tbody tr")
    expect(history.filter(has_text="rollback")).to_have_count(1)
    # latest's move from v1 to v2 by the deploy compares too.
    expect(history.filter(has_text="deploy").get_by_role("link")).to_have_count(1)
    # The move off the split (mostly v1) onto v2 compares v2 with v1.
    moved = history.filter(has=page.locator("th", has_text="prod")).filter(has_text="set")
    moved.get_by_role("link", name=re.compile("^Compare")).first.click()
    expect(page).to_have_url(re.compile(r"/versions\?version=2&against=1$"))
    expect(
        page.get_by_role("heading", name="What changed in version 2 against version 1")
    ).to_be_visible()


def test_a_release_is_started_paused_resumed_aborted_and_promoted(
    console: Console, function: str, api: httpx.Client
) -> None:
    _ok(api.put(f"/functions/{function}/aliases/canary", json={"version": 1}), 201)
    console.goto(f"/functions/{function}/releases")
    console.sign_in()
    page = console.page
    form = page.get_by_role("form", name="Start a release")
    form.get_by_label("Alias").select_option("canary")
    form.get_by_label("To version").select_option("2")
    form.get_by_label("Interval per step").fill("10s")
    expect(form).to_contain_text("at least 30 s")
    start = form.get_by_role("button", name="Start release", exact=True)
    expect(start).to_be_disabled()
    form.get_by_label("Interval per step").fill("5m")
    start.click()
    expect(page.get_by_role("status")).to_have_text("Release of v2 to canary started at 10%.")

    card = page.locator("article.release", has_text="Release of v2 to canary")
    expect(card.locator(".state")).to_have_text("running")
    expect(card).to_contain_text("step 1 of 3 (10% on v2)")
    expect(_alias_row(page, "canary")).to_contain_text("releasing")
    card.get_by_role("button", name="Pause", exact=True).click()
    expect(card.locator(".state")).to_have_text("paused")
    card.get_by_role("button", name="Resume", exact=True).click()
    expect(card.locator(".state")).to_have_text("running")
    card.get_by_role("button", name="Abort", exact=True).click()
    page.get_by_role("dialog", name="Abort the release of v2?").get_by_role(
        "button", name="Abort", exact=True
    ).click()
    expect(page.get_by_role("status")).to_have_text("Release of v2 to canary aborted.")
    expect(_alias_row(page, "canary")).to_contain_text("v1")

    start.click()
    card = page.locator("article.release", has_text="Release of v2 to canary").first
    expect(card.locator(".state")).to_have_text("running")
    card.get_by_role("button", name="Promote", exact=True).click()
    page.get_by_role("dialog", name="Promote the release of v2?").get_by_role(
        "button", name="Promote", exact=True
    ).click()
    expect(page.get_by_role("status")).to_have_text("Release of v2 to canary promoted.")
    expect(_alias_row(page, "canary").locator(".text")).to_have_text("v2")
    expect(page.get_by_text("No release is moving an alias")).to_be_visible()
    page.get_by_text("Ended releases (2)").click()
    expect(page.locator("details.ended article.release .state")).to_have_text(
        ["promoted", "aborted"]
    )
    state = _ok(api.get(f"/functions/{function}/aliases/canary"))
    assert state["routes"] == [{"version": 2, "weight": 100}]


def test_the_invocations_tab_shows_and_filters_the_alias(
    console: Console, function: str, api: httpx.Client
) -> None:
    answer = api.put(f"/functions/{function}/aliases/stage", json={"version": 1})
    assert answer.status_code in (200, 201), answer.text
    _ok(api.post(f"/functions/{function}:stage/invoke", json={}))
    _ok(api.post(f"/functions/{function}/invoke", json={}))
    console.goto(f"/functions/{function}/invocations?alias=stage")
    console.sign_in()
    page = console.page
    rows = page.get_by_test_id("invocation-row")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("stage")
    expect(page.get_by_label("Alias")).to_have_value("stage")
    page.get_by_label("Alias").select_option("latest")
    expect(page).to_have_url(re.compile(r"alias=latest"))
    expect(rows.first).to_contain_text("latest")


@pytest.fixture(scope="module")
def releasing(server: LiveServer, function: str) -> str:
    """An alias with a release moving it (an hour per step: it stays on its first step)."""
    with httpx.Client(
        base_url=f"{server.url}/api/v1", headers={"Authorization": f"Bearer {ADMIN_KEY}"}
    ) as client:
        _ok(client.put(f"/functions/{function}/aliases/axe", json={"version": 1}), 201)
        body = {"alias": "axe", "version": 2, "interval_s": 3600}
        _ok(client.post(f"/functions/{function}/releases", json=body), 201)
    return "axe"


@pytest.mark.parametrize("scheme", SCHEMES)
def test_the_tab_is_accessible_in_either_theme(
    browser: Browser, server: LiveServer, function: str, releasing: str, scheme: Scheme
) -> None:
    with open_console(browser, server, color_scheme=scheme) as console:
        console.goto(f"/functions/{function}/releases")
        console.sign_in()
        page = console.page
        expect(page.locator("article.release", has_text=f"to {releasing}")).to_be_visible()
        expect(page.locator("table.history tbody tr").first).to_be_visible()
        assert console.axe() == []
        page.get_by_role("button", name="New alias", exact=True).click()
        expect(page.get_by_role("dialog", name="New alias")).to_be_visible()
        assert console.axe() == []


def test_a_viewer_reads_the_tab_and_is_offered_no_change(
    console: Console, function: str, api: httpx.Client
) -> None:
    login, password = "rel-viewer", "viewer-passphrase-for-releases"
    made = api.post("/users", json={"login": login, "password": password})
    assert made.status_code in (201, 409), made.text
    member = api.post("/namespaces/default/members", json={"login": login, "role": "viewer"})
    assert member.status_code in (201, 409), member.text
    console.goto(f"/functions/{function}/releases")
    console.sign_in(login, password)
    page = console.page
    expect(_alias_row(page, "latest")).to_contain_text("v2")
    expect(page.locator("table.history tbody tr").first).to_be_visible()
    expect(page.get_by_role("button", name="New alias", exact=True)).to_have_count(0)
    expect(page.get_by_role("button", name=re.compile("^Roll back"))).to_have_count(0)
    expect(page.get_by_role("form", name="Start a release")).to_have_count(0)
