"""Writing a function in the browser: a new function created, its code typed and deployed
with Ctrl+S, its build log followed; uv's error next to requirements.txt, an import's
traceback next to the handler's file; a viewer offered no deploy and refused one anyway;
axe on the Code tab and the New-function screen in both themes."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.conftest import ADMIN_KEY, LiveServer
from tests.ui.conftest import SCHEMES, Console, Scheme, open_console, serve_console

VIEWER, VIEWER_PASSWORD = "reads-only", "viewer-passphrase-22"
MISSING_PACKAGE = "no-such-package-anywhere"


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """The console's server, resolving requirements from an empty local folder only: the
    machine has no package index, and uv then fails at once, naming the package."""
    links = tmp_path_factory.mktemp("no-packages")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("SANDLOT_FIND_LINKS", f'["{links}"]')
        with serve_console(tmp_path_factory, request.param) as live:
            yield live


def _admin(server: LiveServer) -> httpx.Client:
    return httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=60
    )


def _create(server: LiveServer, name: str, files: dict[str, str]) -> None:
    with _admin(server) as admin:
        made = admin.post("/api/v1/functions", json={"name": name, "files": files})
        assert made.status_code == 201, made.text


def _editor(page: Page) -> None:
    """Wait for CodeMirror to be loaded and mounted."""
    expect(page.locator("[data-editor=ready] .cm-content")).to_be_visible()


def _type_code(page: Page, lines: list[str]) -> None:
    """Replace the editor's text by typing `lines` key by key, as a person would: the
    editor indents after a colon by itself, so the lines carry no leading indentation."""
    page.locator(".cm-content").click()
    page.keyboard.press("Control+A")
    page.keyboard.press("Delete")
    page.keyboard.type("\n".join(lines))


def test_write_and_deploy_a_new_function_in_the_browser(console: Console) -> None:
    page = console.page
    console.goto("/functions")
    console.sign_in()
    page.get_by_role("link", name="New function").click()
    expect(page).to_have_url(console.url("/new-function"))
    name = page.get_by_label("Name", exact=True)
    name.fill("Not Valid")
    page.get_by_role("button", name="Create").click()
    expect(page.get_by_text("Lowercase letters, digits and dashes")).to_be_visible()
    expect(name).to_have_attribute("aria-invalid", "true")
    name.fill("written-here")
    _editor(page)
    page.get_by_role("button", name="Create").click()
    expect(page).to_have_url(console.url("/functions/written-here/code"))
    expect(page.get_by_text("version 1 ready").first).to_be_visible()
    _editor(page)

    _type_code(page, ["def handler(event, context):", "return {'typed': 41 + 1}"])
    page.keyboard.press("Control+s")  # focus is in the editor
    build = page.get_by_role("region", name=re.compile("Build of version 2"))
    expect(build.get_by_text("ready", exact=True)).to_be_visible()
    expect(page.get_by_label("Build log of version 2")).to_contain_text("imported")
    # The page header follows the new version, and the URL names it.
    expect(page.locator("h1 + .state")).to_have_text(re.compile("version 2 ready"))
    expect(page).to_have_url(re.compile(r"/code\?version=2$"))
    with _admin(console.server) as admin:
        invoked = admin.post("/api/v1/functions/written-here/invoke", json={})
        assert invoked.json() == {"typed": 42}
    # Nothing changed since: nothing to deploy.
    expect(page.get_by_role("button", name="Deploy")).to_be_disabled()

    # Someone else deploys meanwhile: this editor's deploy (it started from version 2) is
    # refused by name, never a silent replacement of theirs.
    with _admin(console.server) as admin:
        theirs = {"main.py": "def handler(event, context):\n    return 'theirs'\n"}
        other = admin.put("/api/v1/functions/written-here", json={"files": theirs})
        assert other.status_code == 200 and other.json()["versions"] == 3, other.text
    _type_code(page, ["def handler(event, context):", "return 'mine'"])
    console.watch.expect(409, "/api/v1/functions/written-here")
    page.keyboard.press("Control+s")
    expect(page.get_by_role("alert")).to_contain_text("another deploy came first")


def test_a_missing_package_shows_uvs_error_next_to_requirements(console: Console) -> None:
    _create(
        console.server,
        "needs-package",
        {"main.py": "def handler(event, context):\n    return 1\n"},
    )
    page = console.page
    console.goto("/functions/needs-package/code")
    console.sign_in()
    _editor(page)
    page.get_by_label("New file").fill("requirements.txt")
    page.get_by_role("button", name="Add").click()
    expect(page).to_have_url(re.compile(r"file=requirements\.txt"))
    _editor(page)
    page.locator(".cm-content").click()
    page.keyboard.type(MISSING_PACKAGE)
    page.get_by_role("button", name="Deploy").click()
    build = page.get_by_role("region", name=re.compile("Build of version 2"))
    expect(build.get_by_text("failed", exact=True)).to_be_visible()
    expect(page.get_by_label("Build log of version 2")).to_contain_text(MISSING_PACKAGE)
    # uv's words, next to the file they are about; the tree marks that file.
    alert = page.get_by_role("alert").filter(has_text="uv could not install")
    expect(alert).to_contain_text("requirements.txt")
    expect(alert).to_contain_text(MISSING_PACKAGE)
    expect(page.get_by_role("link", name="requirements.txt (has an error)")).to_be_visible()
    # main.py itself is fine: shown without the error, pointing to where it is.
    page.get_by_role("link", name="main.py").click()
    expect(page.get_by_text("Version 2 failed: see requirements.txt")).to_be_visible()
    # The working version is still the first one.
    expect(page.locator("h1 + .state")).to_have_text(re.compile("version 1 ready"))


def test_a_module_that_raises_at_import_shows_its_traceback(console: Console) -> None:
    page = console.page
    console.goto("/new-function")
    console.sign_in()
    page.get_by_label("Name", exact=True).fill("raises-early")
    _editor(page)
    _type_code(page, ["import helper", "", "def handler(event, context):", "return 1"])
    page.get_by_role("button", name="Create").click()
    expect(page).to_have_url(console.url("/functions/raises-early/code"))
    alert = page.get_by_role("alert").filter(has_text="main.py failed to import")
    expect(alert).to_contain_text("ModuleNotFoundError")
    expect(alert).to_contain_text("Traceback")
    expect(page.get_by_role("link", name="main.py (has an error)")).to_be_visible()


def _add_viewer(server: LiveServer) -> None:
    with _admin(server) as admin:
        made = admin.post("/api/v1/users", json={"login": VIEWER, "password": VIEWER_PASSWORD})
        assert made.status_code == 201, made.text
        member = {"login": VIEWER, "role": "viewer"}
        added = admin.post("/api/v1/namespaces/default/members", json=member)
        assert added.status_code == 201, added.text


def test_a_viewer_reads_the_code_and_may_not_deploy(console: Console) -> None:
    _add_viewer(console.server)
    page = console.page
    console.goto("/functions")
    console.sign_in(VIEWER, VIEWER_PASSWORD)
    expect(page.get_by_role("heading", name="Functions")).to_be_visible()
    expect(page.locator("main tbody th[scope=row]").first).to_be_visible()
    expect(page.get_by_role("link", name="New function")).to_have_count(0)
    console.goto("/functions/hello/code")
    _editor(page)
    expect(page.get_by_role("textbox", name="main.py, Python, read-only")).to_have_attribute(
        "contenteditable", "false"
    )
    expect(page.get_by_role("button", name="Deploy")).to_have_count(0)
    expect(page.get_by_label("New file")).to_have_count(0)
    page.keyboard.press("Control+s")  # nothing happens: no request, no dialog
    # The server refuses a deploy from this very session, CSRF token and all.
    console.watch.expect(403, "/api/v1/functions/hello")
    status = page.evaluate(
        """async () => {
            const me = await (await fetch('/api/v1/auth/me')).json();
            const answer = await fetch('/api/v1/functions/hello', {
                method: 'PUT',
                headers: {'Content-Type': 'application/json', 'X-CSRF-Token': me.csrf_token},
                body: JSON.stringify({files: {'main.py': 'def handler(e, c):\\n    return 0\\n'}}),
            });
            return [answer.status, (await answer.json()).error];
        }"""
    )
    assert status[0] == 403, status


@pytest.mark.parametrize("scheme", SCHEMES)
def test_no_serious_accessibility_problem(
    browser: Browser, server: LiveServer, scheme: Scheme
) -> None:
    with open_console(browser, server, color_scheme=scheme) as console:
        page = console.page
        console.goto("/functions/hello/code")
        console.sign_in()
        _editor(page)
        assert console.axe() == [], f"Code tab, {scheme}"
        console.goto("/new-function")
        _editor(page)
        page.get_by_role("button", name="Create").click()  # the name's problem shown too
        expect(page.get_by_label("Name", exact=True)).to_have_attribute("aria-invalid", "true")
        assert console.axe() == [], f"New function, {scheme}"
