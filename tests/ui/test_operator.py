"""The platform admin's pages and the keyboard, in a real browser against a real server (on
SQLite and PostgreSQL): the command palette (Ctrl+K to a function, to an invocation by id,
Esc back to where focus was), `?` and `/`, the pool after a call, environments listed and
pruned, health with the database, a developer kept out, and axe on each of them."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.conftest import ADMIN_KEY, LiveServer, zip_bytes
from tests.envs.wheelkit import write_wheel
from tests.ui.conftest import SCHEMES, Console, open_console, serve_console

DEVELOPER, DEVELOPER_PASSWORD = "dev-operator-test", "a developer's passphrase 1"
USES_ALPHA = {
    "main.py": "import alpha\ndef handler(event, context):\n    return alpha.VERSION\n",
    "requirements.txt": "alpha\n",
}


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """The console's server, with a local find-links folder holding one tiny wheel, so that a
    function with requirements builds an environment offline (for the prune test)."""
    links = tmp_path_factory.mktemp("links")
    write_wheel(str(links), "alpha", "1.0")
    extra = {"SANDLOT_FIND_LINKS": json.dumps([str(links)])}
    with serve_console(tmp_path_factory, request.param, extra) as live:
        yield live


def _admin_api(server: LiveServer) -> httpx.Client:
    return httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=60
    )


def _invoke(server: LiveServer, name: str) -> str:
    """Call a function with the admin key; its invocation id."""
    with _admin_api(server) as client:
        answer = client.post(f"/api/v1/functions/{name}/invoke", json={})
    assert answer.status_code == 200, answer.text
    return answer.headers["X-Sandlot-Invocation-Id"]


def _signed_in(console: Console, path: str = "/functions") -> Page:
    console.goto(path)
    console.sign_in()
    expect(console.page).to_have_url(console.url(path))
    return console.page


def test_ctrl_k_from_a_text_field_and_enter_lands_on_the_function(console: Console) -> None:
    page = _signed_in(console)
    search = page.get_by_role("searchbox", name="Search functions")
    search.click()  # typing in a field: the palette opens all the same
    page.keyboard.press("Control+k")
    dialog = page.get_by_role("dialog", name="Go to")
    combobox = dialog.get_by_role("combobox")
    expect(dialog).to_be_visible()
    expect(combobox).to_be_focused()
    combobox.press_sequentially("ordrs")  # fuzzy: the letters in order
    options = dialog.get_by_role("option")
    expect(options.first).to_contain_text("orders-api")
    expect(options.first).to_have_attribute("aria-selected", "true")
    expect(combobox).to_have_attribute("aria-activedescendant", "palette-option-0")
    page.keyboard.press("Enter")
    expect(page).to_have_url(console.url("/functions/orders-api"))
    expect(dialog).to_be_hidden()


def test_arrow_keys_move_and_the_best_match_comes_first(console: Console) -> None:
    page = _signed_in(console)
    page.keyboard.press("Control+k")
    dialog = page.get_by_role("dialog", name="Go to")
    combobox = dialog.get_by_role("combobox")
    combobox.fill("e")
    options = dialog.get_by_role("option")
    expect(options.first).to_have_attribute("aria-selected", "true")
    page.keyboard.press("ArrowDown")
    expect(options.nth(1)).to_have_attribute("aria-selected", "true")
    expect(options.first).to_have_attribute("aria-selected", "false")
    page.keyboard.press("ArrowUp")
    expect(options.first).to_have_attribute("aria-selected", "true")
    combobox.fill("resize")
    expect(options).to_have_count(1)
    expect(options.first).to_contain_text("resize-images")
    options.first.click()
    expect(page).to_have_url(console.url("/functions/resize-images"))


def test_an_invocation_id_pasted_opens_the_invocation(console: Console, server: LiveServer) -> None:
    invocation = _invoke(server, "hello")
    page = _signed_in(console)
    page.keyboard.press("Control+k")
    dialog = page.get_by_role("dialog", name="Go to")
    dialog.get_by_role("combobox").fill(f" {invocation.upper()} ")
    expect(dialog.get_by_role("option").first).to_contain_text(f"Open invocation {invocation}")
    page.keyboard.press("Enter")
    expect(page).to_have_url(console.url(f"/invocations/{invocation}"))


def test_escape_closes_the_palette_and_focus_returns(console: Console) -> None:
    page = _signed_in(console)
    search = page.get_by_role("searchbox", name="Search functions")
    search.click()
    page.keyboard.press("Control+k")
    dialog = page.get_by_role("dialog", name="Go to")
    expect(dialog).to_be_visible()
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(search).to_be_focused()
    # From a link too: focus goes back to what had it.
    brand = page.get_by_role("link", name="Sandlot")
    brand.focus()
    page.keyboard.press("Control+k")
    expect(dialog).to_be_visible()
    page.keyboard.press("Escape")
    expect(brand).to_be_focused()


def test_question_mark_lists_the_shortcuts_and_slash_focuses_search(console: Console) -> None:
    page = _signed_in(console)
    page.locator("h1").click()
    page.keyboard.press("?")
    shortcuts = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(shortcuts).to_be_visible()
    for does in ("Go to a function", "Deploy the code", "Invoke with the event"):
        expect(shortcuts.get_by_role("row").filter(has_text=does)).to_have_count(1)
    page.keyboard.press("Escape")
    expect(shortcuts).to_be_hidden()
    page.locator("h1").click()
    page.keyboard.press("/")
    expect(page.get_by_role("searchbox", name="Search functions")).to_be_focused()


def test_the_pool_shows_an_instance_after_a_call(console: Console, server: LiveServer) -> None:
    _invoke(server, "hello")
    page = _signed_in(console, "/operator")
    expect(page.get_by_role("link", name="Pool")).to_have_attribute("aria-current", "page")
    table = page.get_by_role("table", name=re.compile("Instances per function version"))
    row = table.get_by_role("row").filter(has=page.get_by_role("rowheader", name="hello"))
    expect(row).to_have_count(1)
    cells = row.get_by_role("cell")
    expect(cells.nth(0)).to_have_text("default")
    expect(cells.nth(1)).to_have_text("1")  # the version
    assert int(cells.nth(2).inner_text()) >= 1  # instances
    meter = page.get_by_role("meter", name="Memory charged")
    expect(meter).to_be_visible()
    assert float(meter.get_attribute("value") or 0) > 0
    page.get_by_role("button", name="Refresh").click()
    expect(row).to_have_count(1)
    # The function's name links to its page in this namespace.
    row.get_by_role("link", name="hello").click()
    expect(page).to_have_url(console.url("/functions/hello"))


def _deploy_and_wait(server: LiveServer, name: str, files: dict[str, str]) -> None:
    with _admin_api(server) as client:
        made = client.post(
            "/api/v1/functions",
            data={"name": name},
            files={"code": ("code.zip", zip_bytes(files), "application/zip")},
        )
        assert made.status_code == 201, made.text
        # The build runs in the background; its followed log ends when the build does.
        client.get(
            f"/api/v1/functions/{name}/versions/1/build-log", params={"follow": True}, timeout=110
        )
        state = client.get(f"/api/v1/functions/{name}/versions/1").json()["state"]
        assert state == "ready", client.get(f"/api/v1/functions/{name}/versions/1/build-log").text


def test_environments_are_listed_and_pruned(console: Console, server: LiveServer) -> None:
    _deploy_and_wait(server, "uses-alpha", USES_ALPHA)
    page = _signed_in(console, "/operator/environments")
    table = page.get_by_role("table")
    expect(table.locator("caption")).to_contain_text("1 environment")
    used = table.get_by_role("row").filter(has=page.get_by_role("rowheader"))
    expect(used).to_have_count(1)
    expect(used.get_by_role("cell").nth(1)).to_have_text("yes")
    key = used.get_by_role("rowheader").inner_text()

    with _admin_api(server) as client:
        assert client.delete("/api/v1/functions/uses-alpha").status_code == 204
    page.reload()
    expect(used.get_by_role("cell").nth(1)).to_have_text("no")

    page.get_by_role("button", name="Prune unused…").click()
    dialog = page.get_by_role("dialog", name="Prune environments")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    expect(used).to_have_count(1)  # nothing went

    page.get_by_role("button", name="Prune unused…").click()
    dialog.get_by_label("Unused for at least (seconds)").fill("0")
    dialog.get_by_role("button", name="Prune").click()
    expect(dialog).to_be_hidden()
    result = page.get_by_role("status")
    expect(result).to_contain_text("Removed 1 environment")
    expect(result).to_contain_text(key)
    expect(table.locator("caption")).to_contain_text("0 environments")


def test_health_says_ready_and_names_the_database(console: Console, server: LiveServer) -> None:
    with _admin_api(server) as client:
        kind = client.get("/readyz").json()["database"]["kind"]
    page = _signed_in(console, "/operator/health")
    facts = page.locator("dl")
    expect(facts).to_contain_text("Status")
    expect(facts).to_contain_text("ready")
    database = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}[kind]
    expect(facts).to_contain_text(re.compile(rf"Database\s*{database},\s*answers"))
    expect(facts).to_contain_text("Server version")
    expect(page.get_by_role("heading", name="Problems")).to_be_visible()


def _developer(server: LiveServer) -> None:
    with _admin_api(server) as client:
        made = client.post(
            "/api/v1/users", json={"login": DEVELOPER, "password": DEVELOPER_PASSWORD}
        )
        assert made.status_code in (201, 409), made.text
        member = client.post(
            "/api/v1/namespaces/default/members", json={"login": DEVELOPER, "role": "developer"}
        )
        assert member.status_code in (201, 409), member.text


def test_a_developer_sees_no_operator_page_and_the_api_refuses(
    console: Console, server: LiveServer
) -> None:
    _developer(server)
    console.goto("/operator")
    console.sign_in(DEVELOPER, DEVELOPER_PASSWORD)
    page = console.page
    expect(page).to_have_url(console.url("/operator"))
    expect(page.get_by_text("Only a platform admin sees this page.")).to_be_visible()
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Functions")).to_be_visible()
    expect(nav.get_by_role("link", name="Operator")).to_have_count(0)
    refused = page.request.get(f"{server.url}/api/v1/pool")
    assert refused.status == 403 and refused.json()["error"] == "PermissionDenied"
    # Nor does the palette offer the operator's pages.
    page.keyboard.press("Control+k")
    combobox = page.get_by_role("dialog", name="Go to").get_by_role("combobox")
    combobox.fill("op")
    options = page.get_by_role("dialog", name="Go to").get_by_role("option")
    expect(options.filter(has_text="orders-api")).to_have_count(1)
    expect(options.filter(has_text="Operator")).to_have_count(0)


def test_no_serious_accessibility_problem_on_the_operator_pages_and_palette(
    browser: Browser, server: LiveServer
) -> None:
    for scheme in SCHEMES:
        with open_console(browser, server, color_scheme=scheme) as console:
            page = _signed_in(console, "/operator/pool")
            expect(page.get_by_role("meter", name="Memory charged")).to_be_visible()
            assert console.axe() == [], f"pool, {scheme}"
            page.get_by_role("link", name="Environments").click()
            expect(page.get_by_role("table")).to_be_visible()
            assert console.axe() == [], f"environments, {scheme}"
            page.get_by_role("button", name="Prune unused…").click()
            expect(page.get_by_role("dialog", name="Prune environments")).to_be_visible()
            assert console.axe() == [], f"prune dialog, {scheme}"
            page.keyboard.press("Escape")
            page.get_by_role("link", name="Health").click()
            expect(page.get_by_role("heading", name="Problems")).to_be_visible()
            assert console.axe() == [], f"health, {scheme}"
            page.keyboard.press("Control+k")
            dialog = page.get_by_role("dialog", name="Go to")
            dialog.get_by_role("combobox").fill("o")
            expect(dialog.get_by_role("option").first).to_be_visible()
            assert console.axe() == [], f"palette, {scheme}"
