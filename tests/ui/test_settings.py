"""A namespace's settings in the browser: members and their roles, API keys (a new key's
secret shown once, copied, working, then revoked), write-only secrets, quotas with their
use, and the audit log with its filters in the URL; what a developer is not offered, and
that the API refuses it anyway; no serious accessibility problem in either theme."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, Response, expect

from tests.conftest import ADMIN_KEY, LiveServer
from tests.ui.conftest import SCHEMES, SEEDED, Console, open_console

DEVELOPER_PASSWORD = "developer-passphrase-7"


def _unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


@pytest.fixture
def admin_api(server: LiveServer) -> Iterator[httpx.Client]:
    """The API as the platform admin (its bootstrap key)."""
    with httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=30
    ) as client:
        yield client


def _bearer_get(server: LiveServer, key: str, path: str = "/api/v1/functions") -> int:
    answer = httpx.get(f"{server.url}{path}", headers={"Authorization": f"Bearer {key}"})
    return answer.status_code


def _open_signed_in(console: Console, path: str) -> Page:
    """The page at `path`, signed in as the admin on the way (sign-in returns to it)."""
    console.goto(path)
    console.sign_in()
    expect(console.page).to_have_url(console.url(path))
    return console.page


def _section(page: Page, label: str) -> Any:
    return page.get_by_role("region", name=label)


def _confirm(page: Page, title: str, action: str) -> None:
    dialog = page.get_by_role("dialog", name=title)
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name=action, exact=True).click()
    expect(dialog).to_be_hidden()


def _in_storage(page: Page, text: str) -> bool:
    return bool(
        page.evaluate(
            """(text) => [localStorage, sessionStorage].some((store) =>
                Object.keys(store).some((k) => (store.getItem(k) ?? "").includes(text)))""",
            text,
        )
    )


def test_a_key_is_shown_once_copied_works_and_is_revoked(
    console: Console, server: LiveServer
) -> None:
    console.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.url)
    page = _open_signed_in(console, "/settings/keys")
    name = _unique("ci-")
    section = _section(page, "API keys")
    section.get_by_label("Name").fill(name)
    section.get_by_label("Role").select_option("developer")
    section.get_by_label("Limited to functions").fill("hello, orders-api")
    section.get_by_label("Expires in days").fill("30")
    section.get_by_role("button", name="Create key").click()

    dialog = page.get_by_role("dialog", name=f"Your new key {name}")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("only time it is shown")
    secret = dialog.locator("[data-secret]").inner_text().strip()
    assert secret.startswith("sl_"), secret
    dialog.get_by_role("button", name="Copy").click()
    expect(dialog.get_by_role("status")).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == secret

    # The key works against the API, limited to the functions it names.
    assert _bearer_get(server, secret, "/api/v1/functions/hello") == 200

    dialog.get_by_role("button", name="Close").click()
    expect(dialog).to_be_hidden()
    row = section.get_by_role("row").filter(has_text=name)
    expect(row).to_contain_text("hello, orders-api")
    expect(row).to_contain_text("active")
    assert secret not in page.content()
    page.reload()
    row = _section(page, "API keys").get_by_role("row").filter(has_text=name)
    expect(row).to_contain_text("developer")
    assert secret not in page.content()
    assert secret not in page.url
    assert not _in_storage(page, secret)

    row.get_by_role("button", name=f"Revoke {name}").click()
    _confirm(page, f"Revoke {name}?", "Revoke")
    expect(row).to_contain_text("revoked")
    expect(row.get_by_role("button")).to_have_count(0)
    assert _bearer_get(server, secret) == 401


def test_a_secret_value_never_reaches_the_page(console: Console) -> None:
    page = _open_signed_in(console, "/settings/secrets")
    name = _unique("PROBE_").upper()
    values = [f"first-{uuid.uuid4().hex}", f"second-{uuid.uuid4().hex}"]
    bodies: list[str] = []

    def record(response: Response) -> None:
        # Every answer the page gets (the set's own included), read while it is at hand.
        try:
            bodies.append(response.body().decode("utf-8", "replace"))
        except Exception:
            bodies.append("")  # a redirect or a body the browser already let go of

    page.on("response", record)
    section = _section(page, "Secrets")
    section.get_by_label("Name").fill(name)
    value_field = section.get_by_label("Value")
    expect(value_field).to_have_attribute("type", "password")
    value_field.fill(values[0])
    section.get_by_role("button", name="Set secret").click()
    expect(section).to_contain_text(f"Secret {name} set (version 1).")
    expect(value_field).to_have_value("")
    expect(section.get_by_label("Name")).to_have_value("")

    # Replacing it: the row's button names the secret in the form, the value is typed anew.
    row = section.get_by_role("row").filter(has_text=name)
    row.get_by_role("button", name=f"Replace value of {name}").click()
    expect(section.get_by_label("Name")).to_have_value(name)
    expect(value_field).to_be_focused()
    value_field.fill(values[1])
    section.get_by_role("button", name="Set secret").click()
    expect(section).to_contain_text(f"Secret {name} set (version 2).")
    expect(value_field).to_have_value("")

    for _ in range(2):
        page.reload()
        row = _section(page, "Secrets").get_by_role("row").filter(has_text=name)
        expect(row).to_contain_text("user:admin")
        expect(row.get_by_role("cell").nth(0)).to_have_text("2")
    assert any(name in body for body in bodies), "the secrets list was recorded"
    for value in values:
        assert not [body for body in bodies if value in body]
        assert value not in page.content()
        assert value not in page.url
        assert not _in_storage(page, value)

    row.get_by_role("button", name=f"Delete {name}").click()
    _confirm(page, f"Delete {name}?", "Delete")
    expect(_section(page, "Secrets")).to_contain_text(f"Secret {name} deleted.")
    expect(_section(page, "Secrets").get_by_role("row").filter(has_text=name)).to_have_count(0)


def test_a_member_is_added_changed_and_removed_and_refusals_are_shown(
    console: Console, admin_api: httpx.Client
) -> None:
    login = _unique("dana-")
    made = admin_api.post("/api/v1/users", json={"login": login, "password": DEVELOPER_PASSWORD})
    assert made.status_code == 201, made.text
    members = "/api/v1/namespaces/default/members"
    console.watch.expect(404, members)
    console.watch.expect(409, members)
    console.watch.expect(409, f"{members}/admin")

    page = _open_signed_in(console, "/settings/members")
    section = _section(page, "Members")
    section.get_by_label("Login").fill(login)
    section.get_by_label("Role", exact=True).select_option("viewer")
    section.get_by_role("button", name="Add member").click()
    expect(section).to_contain_text(f"{login} is now a member, as viewer.")
    row = section.get_by_role("row").filter(has_text=login)
    expect(row.get_by_label(f"Role of {login}")).to_have_value("viewer")

    # Refusals, in the server's words.
    section.get_by_label("Login").fill(login)
    section.get_by_role("button", name="Add member").click()
    expect(section.get_by_role("alert")).to_contain_text("already")
    section.get_by_label("Login").fill("nobody-by-that-name")
    section.get_by_role("button", name="Add member").click()
    expect(section.get_by_role("alert")).to_contain_text("no user with login 'nobody-by-that-name'")
    admin_row = section.get_by_role("row").filter(has=page.get_by_text("admin", exact=True))
    admin_row.get_by_label("Role of admin").select_option("developer")
    expect(section.get_by_role("alert")).to_contain_text("the namespace's last owner")
    expect(admin_row.get_by_label("Role of admin")).to_have_value("owner")

    row.get_by_label(f"Role of {login}").select_option("developer")
    expect(section).to_contain_text(f"{login} is now developer.")
    page.reload()
    row = _section(page, "Members").get_by_role("row").filter(has_text=login)
    expect(row.get_by_label(f"Role of {login}")).to_have_value("developer")
    roles = {m["login"]: m["role"] for m in admin_api.get(members).json()["items"]}
    assert roles[login] == "developer"

    row.get_by_role("button", name=f"Remove {login}").click()
    _confirm(page, f"Remove {login}?", "Remove")
    expect(_section(page, "Members")).to_contain_text(f"{login} is no longer a member.")
    expect(_section(page, "Members").get_by_role("row").filter(has_text=login)).to_have_count(0)
    assert login not in {m["login"] for m in admin_api.get(members).json()["items"]}


def test_quotas_show_their_use_and_the_admin_changes_them(console: Console) -> None:
    page = _open_signed_in(console, "/settings/quotas")
    section = _section(page, "Quotas")
    functions = section.get_by_role("row").filter(
        has=page.get_by_role("rowheader", name="Functions")
    )
    # The test server lifts the functions quota (the budget test lists 200 of them).
    expect(functions).to_contain_text(re.compile(r"\d+ functions \(no limit\)"))
    memory = section.get_by_role("row").filter(
        has=page.get_by_role("rowheader", name="Memory of live instances")
    )
    expect(memory).to_contain_text(re.compile(r"of [\d,]+ MB"))
    expect(memory.get_by_role("meter")).to_have_accessible_name(
        re.compile(r"^Memory of live instances: [\d.,]+ of [\d,]+ MB$")
    )

    form = section.locator("form")
    form.get_by_label("Functions", exact=True).fill("40")
    form.get_by_role("button", name="Save quotas").click()
    expect(section).to_contain_text("Quotas saved.")
    used = len(SEEDED)
    expect(functions).to_contain_text(re.compile(r"of 40 functions"))
    meter = functions.get_by_role("meter")
    expect(meter).to_have_accessible_name(re.compile(r"^Functions: \d+ of 40 functions$"))
    assert float(meter.get_attribute("value") or "0") >= used / 40
    expect(functions).to_contain_text("this namespace")

    # Emptied: back to the server's default.
    form.get_by_label("Functions", exact=True).fill("")
    form.get_by_role("button", name="Save quotas").click()
    expect(functions).to_contain_text("(no limit)")
    expect(functions).to_contain_text("server default")


def test_the_audit_log_lists_the_changes_and_keeps_its_filter(
    console: Console, admin_api: httpx.Client
) -> None:
    secret_name = _unique("AUDITED_").upper()
    value = f"never-in-the-log-{uuid.uuid4().hex}"
    # More sets than a page holds, to page through them.
    for _ in range(52):
        answer = admin_api.put(f"/api/v1/secrets/{secret_name}", json={"value": value})
        assert answer.status_code == 200, answer.text
    key_name = _unique("audited-")
    created = admin_api.post("/api/v1/keys", json={"name": key_name, "role": "invoker"})
    assert created.status_code == 201, created.text
    key_id = created.json()["id"]

    page = _open_signed_in(console, "/settings/audit")
    section = _section(page, "Audit log")
    key_row = section.get_by_role("row").filter(has_text=f"key:{key_id}")
    expect(key_row).to_contain_text("key.create")
    expect(key_row).to_contain_text(f"name={key_name}")
    newest = section.get_by_role("row").filter(has_text=f"secret:{secret_name}").first
    expect(newest).to_contain_text(f"name={secret_name} version=52")
    assert value not in page.content()

    section.get_by_label("Action or its prefix").fill("secret.")
    section.get_by_label("Target").fill(f"secret:{secret_name}")
    section.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"action=secret\.&target=secret%3A"))
    rows = section.locator("tbody tr")
    expect(rows).to_have_count(50)
    page.reload()
    section = _section(page, "Audit log")
    expect(section.get_by_label("Action or its prefix")).to_have_value("secret.")
    expect(section.get_by_label("Target")).to_have_value(f"secret:{secret_name}")
    rows = section.locator("tbody tr")
    expect(rows).to_have_count(50)
    expect(rows.first).to_contain_text("version=52")
    section.get_by_role("button", name="Show older events").click()
    expect(rows).to_have_count(52)
    expect(rows.last).to_contain_text("version=1")
    expect(section.get_by_role("button", name="Show older events")).to_have_count(0)
    assert value not in page.content()

    section.get_by_role("button", name="Clear filters").click()
    expect(page).to_have_url(console.url("/settings/audit"))
    expect(section.get_by_role("row").filter(has_text=f"key:{key_id}")).to_have_count(1)


def _developer(server: LiveServer, admin_api: httpx.Client) -> str:
    login = _unique("devon-")
    made = admin_api.post("/api/v1/users", json={"login": login, "password": DEVELOPER_PASSWORD})
    assert made.status_code == 201, made.text
    added = admin_api.post(
        "/api/v1/namespaces/default/members", json={"login": login, "role": "developer"}
    )
    assert added.status_code == 201, added.text
    return login


def test_a_developer_is_not_offered_what_their_role_forbids_and_the_api_refuses_it(
    browser: Browser, server: LiveServer, admin_api: httpx.Client
) -> None:
    login = _developer(server, admin_api)
    admin_key = admin_api.post("/api/v1/keys", json={"name": _unique("owned-"), "role": "owner"})
    assert admin_key.status_code == 201, admin_key.text
    with open_console(browser, server) as console:
        page = console.page
        console.goto("/settings")
        console.sign_in(login=login, password=DEVELOPER_PASSWORD)
        expect(page).to_have_url(console.url("/settings"))
        nav = page.get_by_role("navigation", name="Settings")
        expect(nav.get_by_role("link")).to_have_text(
            ["Members", "API keys", "Secrets", "Quotas", "Network access"]
        )

        members = _section(page, "Members")
        expect(members).to_contain_text("You are developer in default")
        expect(page.get_by_role("button", name="Add member")).to_have_count(0)

        nav.get_by_role("link", name="API keys").click()
        keys = _section(page, "API keys")
        expect(keys).to_contain_text("Your own API keys in default")
        expect(keys.get_by_label("Role").locator("option")).to_have_text(
            ["developer", "invoker", "viewer"]
        )
        expect(keys.locator("tbody tr")).to_have_count(0)  # nobody else's keys are listed
        name = _unique("mine-")
        keys.get_by_label("Name").fill(name)
        keys.get_by_role("button", name="Create key").click()
        page.get_by_role("dialog", name=f"Your new key {name}").get_by_role(
            "button", name="Close"
        ).click()
        expect(keys.get_by_role("button", name=f"Revoke {name}")).to_be_visible()

        nav.get_by_role("link", name="Quotas").click()
        quotas = _section(page, "Quotas")
        expect(quotas.get_by_role("meter").first).to_be_visible()
        expect(page.get_by_role("button", name="Save quotas")).to_have_count(0)

        console.goto("/settings/audit")
        expect(page.get_by_role("alert")).to_contain_text("takes owner or above")

        # The server refuses anyway: the same requests the hidden controls would make.
        csrf = page.request.get(f"{server.url}/api/v1/auth/me").json()["csrf_token"]
        headers = {"X-CSRF-Token": csrf, "X-Sandlot-Namespace": "default"}
        base = f"{server.url}/api/v1"
        refused = {
            "add member": page.request.post(
                f"{base}/namespaces/default/members",
                headers=headers,
                data={"login": login, "role": "owner"},
            ),
            "set quota": page.request.put(
                f"{base}/namespaces/default/quota", headers=headers, data={"functions": 1}
            ),
            "revoke another's key": page.request.delete(
                f"{base}/keys/{admin_key.json()['id']}", headers=headers
            ),
            "read the audit log": page.request.get(f"{base}/audit", headers=headers),
            "an owner key": page.request.post(
                f"{base}/keys", headers=headers, data={"name": "too-high", "role": "owner"}
            ),
        }
        assert {what: answer.status for what, answer in refused.items()} == {
            what: 403 for what in refused
        }
        assert refused["an owner key"].json()["error"] == "RoleTooHigh"


def test_switching_namespace_reloads_the_section(console: Console, admin_api: httpx.Client) -> None:
    other = _unique("team-")
    made = admin_api.post("/api/v1/namespaces", json={"name": other, "owner": "admin"})
    assert made.status_code == 201, made.text
    page = _open_signed_in(console, "/settings/secrets")
    name = _unique("ONLY_IN_DEFAULT_").upper()
    section = _section(page, "Secrets")
    section.get_by_label("Name").fill(name)
    section.get_by_label("Value").fill("v")
    section.get_by_role("button", name="Set secret").click()
    expect(section.get_by_role("row").filter(has_text=name)).to_have_count(1)

    page.get_by_label("Namespace").select_option(other)
    expect(page.get_by_role("heading", level=1)).to_contain_text(other)
    expect(_section(page, "Secrets")).to_contain_text(f"No secrets in {other} yet.")
    page.get_by_label("Namespace").select_option("default")
    expect(_section(page, "Secrets").get_by_role("row").filter(has_text=name)).to_have_count(1)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_no_serious_accessibility_problem_on_any_section(
    browser: Browser, server: LiveServer, scheme: Any
) -> None:
    with open_console(browser, server, color_scheme=scheme) as console:
        page = _open_signed_in(console, "/settings/members")
        expect(_section(page, "Members").locator("tbody tr").first).to_be_visible()
        assert console.axe() == [], f"members, {scheme}"
        nav = page.get_by_role("navigation", name="Settings")
        for label in ("API keys", "Secrets", "Quotas", "Audit log"):
            nav.get_by_role("link", name=label).click()
            section = _section(page, label)
            expect(section.locator("form").first).to_be_visible()
            expect(section.get_by_text("Loading")).to_have_count(0)
            assert console.axe() == [], f"{label}, {scheme}"

        # The dialogs: a new key's secret, and a confirmation.
        nav.get_by_role("link", name="API keys").click()
        keys = _section(page, "API keys")
        name = _unique("axe-")
        keys.get_by_label("Name").fill(name)
        keys.get_by_role("button", name="Create key").click()
        dialog = page.get_by_role("dialog", name=f"Your new key {name}")
        expect(dialog).to_be_visible()
        assert console.axe() == [], f"new key dialog, {scheme}"
        dialog.get_by_role("button", name="Close").click()
        keys.get_by_role("button", name=f"Revoke {name}").click()
        expect(page.get_by_role("dialog", name=f"Revoke {name}?")).to_be_visible()
        assert console.axe() == [], f"confirm dialog, {scheme}"
        _confirm(page, f"Revoke {name}?", "Revoke")
