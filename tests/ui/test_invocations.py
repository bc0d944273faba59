"""Testing a function from the browser and finding its invocations: the Test tab (saved
events, Ctrl+Enter, the result or the traceback, the timing bar, invalid JSON refused), the
Invocations tab's filters in the URL, and an invocation's page (its event and its log)."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Request, expect

from tests.conftest import ADMIN_KEY, LiveServer, start_server, stop_server, zip_bytes
from tests.ui.conftest import (
    ADMIN_PASSWORD,
    SCHEMES,
    Console,
    open_console,
    require_built_console,
)

ECHO = "def handler(event, context):\n    print('echo got', event)\n    return {'echo': event}\n"
BOOM = (
    "def explode(why):\n"
    "    raise ValueError(f'no good: {why}')\n\n"
    "def handler(event, context):\n"
    "    print('about to fail')\n"
    "    explode(event)\n"
)
# Version 1 and 2 of `multi`; the second fails when asked to.
MULTI_V1 = "def handler(event, context):\n    return 'one'\n"
MULTI_V2 = (
    "def handler(event, context):\n"
    "    if event == 'fail':\n"
    "        raise RuntimeError('asked to')\n"
    "    return 'two'\n"
)


def _client(server: LiveServer) -> httpx.Client:
    return httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=60
    )


def _deploy(client: httpx.Client, name: str, code: str, *, new: bool = True) -> None:
    files = {"code": ("code.zip", zip_bytes({"main.py": code}), "application/zip")}
    if new:
        answer = client.post("/api/v1/functions", data={"name": name}, files=files)
        assert answer.status_code == 201, answer.text
    else:
        answer = client.put(f"/api/v1/functions/{name}", files=files)
        assert answer.status_code == 200, answer.text


def _invoke(client: httpx.Client, name: str, event: Any, **params: int) -> httpx.Response:
    return client.post(
        f"/api/v1/functions/{name}/invoke",
        content=json.dumps(event),
        params=params,
        headers={"Content-Type": "application/json"},
    )


@pytest.fixture(scope="module")
def functions(server: LiveServer) -> LiveServer:
    """echo, boom, and multi with two versions called four times (v1 twice, v2 once
    succeeding and once failing)."""
    with _client(server) as client:
        _deploy(client, "echo", ECHO)
        _deploy(client, "boom", BOOM)
        _deploy(client, "multi", MULTI_V1)
        assert _invoke(client, "multi", 1).status_code == 200
        assert _invoke(client, "multi", 2).status_code == 200
        _deploy(client, "multi", MULTI_V2, new=False)
        assert _invoke(client, "multi", 3).status_code == 200
        assert _invoke(client, "multi", "fail").status_code == 502
    return server


def _signed_in(console: Console, path: str) -> None:
    console.goto(path)
    console.sign_in()
    expect(console.page).to_have_url(console.url(path))


def test_invoke_with_a_saved_event(browser: Browser, functions: LiveServer) -> None:
    with open_console(browser, functions) as console:
        page = console.page
        _signed_in(console, "/functions/echo/test")
        editor = page.get_by_label("Event (JSON)")
        editor.fill('{"name": "Ada", "n": 1}')
        page.get_by_label("Save as").fill("ada")
        page.get_by_role("button", name="Save", exact=True).click()
        expect(page.get_by_role("status")).to_have_text("Saved “ada”.")

        # Kept by the server: after a reload it is there to pick.
        page.reload()
        editor.fill("")
        page.get_by_label("Saved events").select_option("ada")
        expect(editor).to_have_value('{\n  "name": "Ada",\n  "n": 1\n}')
        expect(page.get_by_role("button", name="Overwrite")).to_be_visible()
        editor.press("Control+Enter")

        result = page.get_by_test_id("result")
        expect(result).to_have_text(json.dumps({"echo": {"name": "Ada", "n": 1}}, indent=2))
        expect(page.get_by_test_id("status")).to_have_text(re.compile(r"^200 succeeded"))
        expect(page.get_by_test_id("timing-bar")).to_be_visible()
        timing = page.get_by_role("table", name="Where the time went")
        expect(timing.get_by_role("row")).to_have_count(5)  # a heading and four steps
        expect(timing).to_contain_text("Handler")
        link = page.get_by_role("link", name=re.compile(r"^[0-9a-z]{26}$"))
        link.click()
        expect(page).to_have_url(re.compile(r"/ui/invocations/[0-9a-z]{26}$"))
        expect(page.get_by_test_id("event")).to_have_text('{\n  "name": "Ada",\n  "n": 1\n}')


def test_saved_events_are_overwritten_and_deleted(browser: Browser, functions: LiveServer) -> None:
    with open_console(browser, functions) as console:
        page = console.page
        _signed_in(console, "/functions/boom/test")
        editor = page.get_by_label("Event (JSON)")
        editor.fill('"first"')
        page.get_by_label("Save as").fill("which")
        page.get_by_role("button", name="Save", exact=True).click()
        expect(page.get_by_role("status")).to_have_text("Saved “which”.")
        editor.fill('"second"')
        page.get_by_role("button", name="Overwrite").click()
        expect(page.get_by_text("1 of 20 saved")).to_be_visible()
        page.reload()
        page.get_by_label("Saved events").select_option("which")
        expect(editor).to_have_value('"second"')
        page.get_by_role("button", name="Delete “which”").click()
        expect(page.get_by_role("status")).to_have_text("Deleted “which”.")
        expect(page.get_by_text("0 of 20 saved")).to_be_visible()


def test_a_failing_function_shows_its_traceback(browser: Browser, functions: LiveServer) -> None:
    with open_console(browser, functions) as console:
        console.watch.expect(502, "/api/v1/functions/boom/invoke")
        page = console.page
        _signed_in(console, "/functions/boom/test")
        page.get_by_label("Event (JSON)").fill('"the reason"')
        page.get_by_role("button", name="Invoke", exact=True).click()

        expect(page.get_by_role("heading", name="FunctionError: ValueError")).to_be_visible()
        expect(page.get_by_test_id("error-message")).to_contain_text("no good: the reason")
        traceback = page.get_by_test_id("traceback")
        expect(traceback).to_contain_text("in explode")
        expect(traceback).to_contain_text("ValueError: no good: the reason")
        expect(page.get_by_test_id("status")).to_have_text(re.compile(r"^502 failed"))


def test_invalid_json_is_flagged_and_nothing_is_sent(
    browser: Browser, functions: LiveServer
) -> None:
    with open_console(browser, functions) as console:
        page = console.page
        _signed_in(console, "/functions/echo/test")
        sent: list[str] = []

        def on_request(request: Request) -> None:
            if request.url.endswith("/invoke"):
                sent.append(request.url)

        page.on("request", on_request)
        editor = page.get_by_label("Event (JSON)")
        editor.fill('{\n  "name": "Ada",\n  "age": ,\n}')
        check = page.locator("#event-check")
        expect(check).to_have_text(
            "Not valid JSON at line 3, column 10: expected a value, found “,”."
        )
        expect(editor).to_have_attribute("aria-invalid", "true")
        page.get_by_role("button", name="Invoke", exact=True).click()
        editor.press("Control+Enter")
        expect(check).to_contain_text("Nothing was sent.")
        expect(page.get_by_role("button", name="Save", exact=True)).to_be_disabled()

        editor.fill('{"name": "Ada"}')
        expect(check).to_have_text("Valid JSON.")
        editor.press("Control+Enter")
        expect(page.get_by_test_id("result")).to_contain_text("Ada")
        assert len(sent) == 1  # only the valid one went out


def test_filters_live_in_the_url_and_survive_a_reload(
    browser: Browser, functions: LiveServer
) -> None:
    with open_console(browser, functions) as console:
        page = console.page
        _signed_in(console, "/functions/multi/invocations")
        rows = page.get_by_test_id("invocation-row")
        expect(rows).to_have_count(4)

        page.get_by_label("Version").select_option("2")
        expect(rows).to_have_count(2)
        page.get_by_label("State").select_option("failed")
        expect(rows).to_have_count(1)
        expect(rows).to_contain_text("FunctionError")
        expect(page).to_have_url(re.compile(r"[?&]version=2(&|$)"))
        expect(page).to_have_url(re.compile(r"[?&]state=failed(&|$)"))

        page.reload()
        expect(rows).to_have_count(1)
        expect(page.get_by_label("Version")).to_have_value("2")
        expect(page.get_by_label("State")).to_have_value("failed")

        page.get_by_label("State").select_option("")
        page.get_by_label("Version").select_option("1")
        expect(rows).to_have_count(2)
        expect(rows.first).to_contain_text("succeeded")
        page.get_by_label("Start").select_option("true")  # the first call of v1 was cold
        expect(page).to_have_url(re.compile(r"[?&]cold=true(&|$)"))
        expect(rows.first).to_contain_text("cold")
        expect(page.locator("tbody td", has_text=re.compile(r"^warm$"))).to_have_count(0)
        page.get_by_role("button", name="Clear filters").click()
        expect(rows).to_have_count(4)
        expect(page).to_have_url(console.url("/functions/multi/invocations"))

        rows.first.get_by_role("link").click()
        expect(page).to_have_url(re.compile(r"/ui/invocations/[0-9a-z]{26}$"))
        expect(page.get_by_test_id("state")).to_have_text("failed")


def test_older_pages_follow_the_cursor(browser: Browser, functions: LiveServer) -> None:
    with _client(functions) as client:
        _deploy(client, "paged", MULTI_V1)
        for n in range(55):
            assert _invoke(client, "paged", n).status_code == 200
    with open_console(browser, functions) as console:
        page = console.page
        _signed_in(console, "/functions/paged/invocations")
        rows = page.get_by_test_id("invocation-row")
        expect(rows).to_have_count(50)
        page.get_by_role("button", name="Older").click()
        expect(rows).to_have_count(55)
        expect(page.get_by_text("That is all of them.")).to_be_visible()


def test_the_invocation_page_shows_its_event_and_log(
    browser: Browser, functions: LiveServer
) -> None:
    with _client(functions) as client:
        answer = _invoke(client, "echo", {"hi": "there"})
        invocation_id = answer.headers["X-Sandlot-Invocation-Id"]
    with open_console(browser, functions) as console:
        page = console.page
        _signed_in(console, f"/invocations/{invocation_id}")
        expect(page.get_by_role("heading", name=f"Invocation {invocation_id}")).to_be_visible()
        expect(page.get_by_test_id("state")).to_have_text("succeeded")
        expect(page.get_by_test_id("event")).to_have_text('{\n  "hi": "there"\n}')
        expect(page.get_by_test_id("event-note")).to_have_count(0)  # whole, nothing to say
        expect(page.get_by_test_id("log")).to_contain_text("echo got {'hi': 'there'}")
        expect(page.get_by_test_id("result")).to_contain_text('"echo"')
        expect(page.get_by_role("table", name="Where the time went")).to_be_visible()
        page.get_by_role("link", name="echo").first.click()
        expect(page).to_have_url(console.url("/functions/echo/invocations"))


def test_no_serious_accessibility_problem_on_these_pages_in_either_theme(
    browser: Browser, functions: LiveServer
) -> None:
    with _client(functions) as client:
        invocation_id = _invoke(client, "boom", "why").headers["X-Sandlot-Invocation-Id"]
    for scheme in SCHEMES:
        with open_console(browser, functions, color_scheme=scheme) as console:
            console.watch.expect(502, "/api/v1/functions/boom/invoke")
            page = console.page
            _signed_in(console, "/functions/echo/test")
            page.get_by_label("Event (JSON)").fill('{"a": 1}')
            page.get_by_role("button", name="Invoke", exact=True).click()
            expect(page.get_by_test_id("timing-bar")).to_be_visible()
            assert console.axe() == [], f"test tab with a result, {scheme}"
            page.get_by_label("Event (JSON)").fill("{nope")
            expect(page.get_by_label("Event (JSON)")).to_have_attribute("aria-invalid", "true")
            assert console.axe() == [], f"test tab with invalid JSON, {scheme}"

            page.get_by_role("link", name="Invocations", exact=True).click()
            expect(page.get_by_test_id("invocation-row").first).to_be_visible()
            assert console.axe() == [], f"invocations tab, {scheme}"

            console.goto(f"/invocations/{invocation_id}")
            expect(page.get_by_test_id("traceback")).to_be_visible()
            expect(page.get_by_test_id("log")).to_be_visible()
            assert console.axe() == [], f"invocation page, {scheme}"


# A server that keeps little of each event.


@pytest.fixture(scope="module")
def small_bound(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    require_built_console()
    data_dir = tmp_path_factory.mktemp("small-bound") / "data"
    env = {
        "SANDLOT_BOOTSTRAP_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "SANDLOT_INVOCATION_EVENT_BYTES": "32",
    }
    live = start_server(data_dir, env)
    try:
        with _client(live) as client:
            _deploy(client, "echo", ECHO)
        yield live
    finally:
        stop_server(live)


def test_a_cut_event_says_so(browser: Browser, small_bound: LiveServer) -> None:
    event = {"text": "x" * 200}
    with _client(small_bound) as client:
        invocation_id = _invoke(client, "echo", event).headers["X-Sandlot-Invocation-Id"]
    with open_console(browser, small_bound) as console:
        page = console.page
        _signed_in(console, f"/invocations/{invocation_id}")
        expect(page.get_by_test_id("event-note")).to_contain_text("Cut:")
        expect(page.get_by_test_id("event-note")).to_contain_text("32 bytes")
        expect(page.get_by_test_id("event")).to_have_text(json.dumps(event)[:32])
        # The function itself got all of it.
        expect(page.get_by_test_id("result")).to_contain_text("x" * 200)


# What each role is offered.


def _unique_login(prefix: str) -> str:
    # The server is shared with other modules, which may have a user of the same name.
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _member(server: LiveServer, login: str, role: str) -> None:
    with _client(server) as client:
        made = client.post("/api/v1/users", json={"login": login, "password": ADMIN_PASSWORD})
        assert made.status_code == 201, made.text
        added = client.post(
            "/api/v1/namespaces/default/members", json={"login": login, "role": role}
        )
        assert added.status_code == 201, added.text


def test_a_viewer_sees_no_invoke_button_and_the_api_refuses_anyway(
    browser: Browser, functions: LiveServer
) -> None:
    vera = _unique_login("vera")
    _member(functions, vera, "viewer")
    with open_console(browser, functions) as console:
        page = console.page
        console.goto("/functions/echo/test")
        console.sign_in(login=vera)
        expect(page.get_by_text("may read this function but not invoke it")).to_be_visible()
        expect(page.get_by_role("button", name="Invoke", exact=True)).to_have_count(0)
        expect(page.get_by_label("Save as")).to_have_count(0)
    with httpx.Client(base_url=functions.url, timeout=60) as client:
        login = client.post("/api/v1/auth/login", json={"login": vera, "password": ADMIN_PASSWORD})
        assert login.status_code == 200, login.text
        refused = client.post(
            "/api/v1/functions/echo/invoke",
            content=b"{}",
            headers={"X-CSRF-Token": login.json()["csrf_token"]},
        )
        assert refused.status_code == 403, refused.text
        assert refused.json()["error"] == "PermissionDenied"


def test_an_invoker_may_invoke_but_not_save_events(browser: Browser, functions: LiveServer) -> None:
    ivan = _unique_login("ivan")
    _member(functions, ivan, "invoker")
    with open_console(browser, functions) as console:
        page = console.page
        console.goto("/functions/echo/test")
        console.sign_in(login=ivan)
        page.get_by_label("Event (JSON)").fill('"from ivan"')
        page.get_by_label("Event (JSON)").press("Control+Enter")
        expect(page.get_by_test_id("result")).to_contain_text("from ivan")
        expect(page.get_by_label("Save as")).to_have_count(0)
