"""Watching a function in the console, on SQLite and PostgreSQL: the live log tail (lines
arrive, pause holds and counts them, the filter hides the rest), the Metrics tab's charts and
their tables, and the functions table's numbers of the last hour; axe on each, both themes."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Locator, expect

from tests.conftest import ADMIN_KEY, LiveServer, zip_bytes
from tests.ui.conftest import SCHEMES, Console, open_console

# Prints what it is asked to, and fails when asked to.
TALKER = """\
def handler(event, context):
    print(event.get("say", "nothing to say"))
    if event.get("fail"):
        raise ValueError("asked to fail")
    return "ok"
"""


@pytest.fixture(scope="module")
def api(server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=60
    ) as client:
        yield client


def _deploy(api: httpx.Client, name: str) -> None:
    answer = api.post(
        "/api/v1/functions",
        data={"name": name},
        files={"code": ("code.zip", zip_bytes({"main.py": TALKER}), "application/zip")},
    )
    assert answer.status_code == 201, answer.text
    assert answer.json()["config"]["state"] == "ready", answer.text


def _invoke(api: httpx.Client, name: str, **event: Any) -> None:
    answer = api.post(f"/api/v1/functions/{name}/invoke", json=event)
    # A function's own error is the API's 502 with its name.
    if event.get("fail"):
        assert (answer.status_code, answer.json()["error"]) == (502, "FunctionError")
    else:
        assert answer.status_code == 200, answer.text


def _log(console: Console) -> Locator:
    return console.page.get_by_role("log", name=re.compile("Output of"))


def _open_logs(console: Console, name: str, query: str = "") -> None:
    console.goto(f"/functions/{name}/logs{query}")
    console.sign_in()
    expect(console.page.get_by_role("status")).to_have_text(re.compile("Live"))


def test_the_log_tail_receives_holds_and_filters_lines(console: Console, api: httpx.Client) -> None:
    _deploy(api, "talker")
    _open_logs(console, "talker")
    page = console.page
    log = _log(console)
    expect(log).to_contain_text("Waiting for invocations")

    _invoke(api, "talker", say="the first line")
    expect(log).to_contain_text("the first line")
    line = log.locator("li", has_text="the first line")
    expect(line.locator("time")).to_be_visible()
    expect(line.get_by_role("link")).to_have_attribute("href", re.compile(r"^/ui/invocations/\w+$"))
    expect(log.locator("li.end").first).to_contain_text("succeeded")

    page.get_by_role("button", name="Pause").click()
    _invoke(api, "talker", say="a held line", fail=True)
    # Its output and the line saying how it ended: held, counted, not shown.
    expect(page.get_by_text("Paused: 2 new lines held")).to_be_visible()
    expect(log).not_to_contain_text("a held line")
    page.get_by_role("button", name="Resume").click()
    expect(log).to_contain_text("a held line")
    expect(log.locator("li.end.failed")).to_contain_text("FunctionError: asked to fail")

    page.get_by_role("searchbox", name="Filter").fill("FIRST")
    expect(page).to_have_url(console.url("/functions/talker/logs?filter=FIRST"))
    expect(log).to_contain_text("the first line")
    expect(log).not_to_contain_text("a held line")
    expect(page.get_by_text("1 of 4 lines match “FIRST”")).to_be_visible()

    # The line's link leads to its invocation.
    line.get_by_role("link").click()
    expect(page).to_have_url(re.compile(r"/ui/invocations/\w+$"))


def test_the_filter_survives_a_reload_and_new_lines_are_filtered_too(
    console: Console, api: httpx.Client
) -> None:
    _deploy(api, "filtered")
    _open_logs(console, "filtered", "?filter=keep")
    page = console.page
    expect(page.get_by_role("searchbox", name="Filter")).to_have_value("keep")
    _invoke(api, "filtered", say="drop this one")
    _invoke(api, "filtered", say="keep this one")
    log = _log(console)
    expect(log).to_contain_text("keep this one")
    expect(log).not_to_contain_text("drop this one")


def _table_numbers(section: Locator, column: int = 1) -> list[str]:
    section.get_by_text("Table", exact=True).click()
    table = section.get_by_role("table")
    expect(table).to_be_visible()
    return table.locator(f"tbody tr td:nth-of-type({column})").all_inner_texts()


def test_the_metrics_tab_draws_charts_with_their_tables(
    console: Console, api: httpx.Client
) -> None:
    _deploy(api, "charted")
    for n in range(3):
        _invoke(api, "charted", say=f"call {n}")
    _invoke(api, "charted", fail=True)
    console.goto("/functions/charted/metrics")
    console.sign_in()
    page = console.page
    expect(page.get_by_text("4 invocations in the last hour")).to_be_visible()
    for title in (
        "Invocations",
        "Errors by kind",
        "Duration",
        "Cold starts",
        "Share of calls that started cold",
        "Concurrent instances (peak)",
    ):
        chart = page.get_by_role("region", name=title, exact=True)
        expect(chart.locator("canvas").first).to_be_attached()
        expect(chart.get_by_role("img")).to_have_attribute(
            "aria-label", re.compile(re.escape(title))
        )

    invocations = page.get_by_role("region", name="Invocations", exact=True)
    assert sum(int(text) for text in _table_numbers(invocations)) == 4
    errors = page.get_by_role("region", name="Errors by kind", exact=True)
    assert sum(int(text) for text in _table_numbers(errors)) == 1
    expect(errors.get_by_role("columnheader", name="FunctionError")).to_be_visible()
    durations = page.get_by_role("region", name="Duration", exact=True)
    assert any(text != "\u2013" for text in _table_numbers(durations))

    page.get_by_label("Window").select_option("24h")
    expect(page).to_have_url(console.url("/functions/charted/metrics?window=24h"))
    expect(page.get_by_text("in buckets of 15 minutes")).to_be_visible()
    page.reload()
    expect(page.get_by_label("Window")).to_have_value("24h")


def test_an_empty_window_says_so(console: Console, api: httpx.Client) -> None:
    _deploy(api, "quiet")
    console.goto("/functions/quiet/metrics?window=7d")
    console.sign_in()
    expect(console.page.get_by_text("No invocations in the last week.")).to_be_visible()


def test_the_functions_table_shows_the_last_hour(console: Console, api: httpx.Client) -> None:
    _deploy(api, "counted")
    for n in range(4):
        _invoke(api, "counted", say=f"call {n}", fail=n == 0)
    console.goto("/functions?q=counted&sort=-invocations")
    console.sign_in()
    page = console.page
    row = page.locator("main tbody tr", has_text="counted")
    expect(row.locator("td.invocations")).to_have_text("4")
    expect(row.locator("td.error-rate")).to_have_text("25%")
    expect(row.locator("td.p50")).to_have_text(re.compile(r"^\d[\d.]* m?s$"))
    expect(row.locator("td.last")).to_have_text(re.compile("now|second|minute"))
    expect(row.get_by_role("img")).to_have_accessible_name("4 calls in the last hour")
    expect(page.get_by_role("columnheader", name="Invocations (1 h)")).to_have_attribute(
        "aria-sort", "descending"
    )


def test_no_serious_accessibility_problem_in_either_theme(
    browser: Browser, server: LiveServer, api: httpx.Client
) -> None:
    _deploy(api, "checked")
    _invoke(api, "checked", say="a line to look at")
    _invoke(api, "checked", fail=True)
    for scheme in SCHEMES:
        with open_console(browser, server, color_scheme=scheme) as console:
            page = console.page
            console.goto("/functions")
            console.sign_in()
            expect(page.locator("main tbody svg").first).to_be_visible()
            assert console.axe() == [], f"functions table, {scheme}"

            page.goto(console.url("/functions/checked/metrics"))
            expect(page.locator(".chart canvas").first).to_be_attached()
            page.get_by_role("region", name="Invocations", exact=True).get_by_text(
                "Table", exact=True
            ).click()
            assert console.axe() == [], f"metrics, {scheme}"

            page.goto(console.url("/functions/checked/logs"))
            expect(page.get_by_role("status")).to_have_text(re.compile("Live"))
            _invoke(api, "checked", say="a line to look at", fail=True)
            expect(_log(console)).to_contain_text("a line to look at")
            page.get_by_role("button", name="Pause").click()
            assert console.axe() == [], f"logs, {scheme}"


def test_the_charts_follow_the_theme_toggle(console: Console, api: httpx.Client) -> None:
    _deploy(api, "themed")
    _invoke(api, "themed")
    console.goto("/functions/themed/metrics")
    console.sign_in()
    page = console.page
    swatch = page.get_by_role("region", name="Invocations", exact=True).locator(".swatch")
    expect(swatch).to_have_css("background-color", re.compile("rgb"))
    before = swatch.evaluate("element => getComputedStyle(element).backgroundColor")
    theme = page.evaluate("document.documentElement.dataset.theme || ''")
    other = "light" if theme == "dark" else "dark"
    page.evaluate(f"document.documentElement.dataset.theme = '{other}'")
    expect(swatch).not_to_have_css("background-color", before)
