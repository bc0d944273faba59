"""The console as a person uses it: sign in, a bad password, sign out, an ended session,
the functions table with its search and sort in the URL, and the dark theme kept."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, expect

from tests.conftest import LiveServer
from tests.ui.conftest import ADMIN_LOGIN, SCHEMES, SEEDED, Console, open_console, serve_console

LOGIN = "/api/v1/auth/login"


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """A server of this module's own: its tests read the whole functions table (the seeded
    functions and no other), which the shared server's other modules add to."""
    with serve_console(tmp_path_factory, request.param) as live:
        yield live


def _expect_rows(console: Console, names: list[str]) -> None:
    """The table shows these functions, in this order (waiting for it to load)."""
    expect(console.page.locator("main tbody th[scope=row]")).to_have_text(names)


def test_sign_in_lands_on_the_functions(console: Console) -> None:
    console.goto("/")
    page = console.page
    expect(page).to_have_url(re.compile(r"/ui/sign-in\?next=%2Ffunctions$"))
    expect(page).to_have_title("Sign in · Sandlot")
    console.sign_in()
    expect(page).to_have_url(console.url("/functions"))
    expect(page.get_by_role("heading", name="Functions")).to_be_visible()
    _expect_rows(console, sorted(SEEDED))
    expect(page.locator("tbody td.state").first).to_have_text(re.compile("ready"))
    expect(page.get_by_label("Namespace")).to_have_value("default")
    expect(page.get_by_text("Platform admin")).to_be_visible()


def test_a_wrong_password_or_name_says_so_without_saying_which(console: Console) -> None:
    console.watch.expect(401, LOGIN)
    console.goto("/sign-in")
    page = console.page
    alert = page.get_by_role("alert")
    console.sign_in(password="not-the-password-at-all")
    expect(alert).to_have_text("Wrong user name or password.")
    console.sign_in(login="nobody-here")
    expect(alert).to_have_text("Wrong user name or password.")
    expect(page).to_have_url(console.url("/sign-in"))
    console.sign_in()
    expect(page).to_have_url(console.url("/functions"))


def test_sign_out_ends_the_session(console: Console) -> None:
    console.goto("/functions")
    console.sign_in()
    page = console.page
    expect(page.get_by_role("heading", name="Functions")).to_be_visible()
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(console.url("/sign-in"))
    assert not [c for c in console.context.cookies() if c["name"].startswith("sandlot")]
    # Back to a page of the console: sign-in again, not the page.
    console.goto("/functions")
    expect(page).to_have_url(re.compile(r"/ui/sign-in\?next="))


def test_an_ended_session_returns_to_sign_in_and_then_to_the_page(console: Console) -> None:
    console.watch.expect(401, "/api/v1/auth/me")
    console.goto("/functions")
    console.sign_in()
    page = console.page
    expect(page.get_by_role("heading", name="Functions")).to_be_visible()
    page.get_by_role("searchbox", name="Search functions").fill("api")
    expect(page).to_have_url(console.url("/functions?q=api"))
    # The session ends (as after the idle timeout), and the page is loaded again.
    console.context.clear_cookies()
    page.reload()
    expect(page).to_have_url(console.url("/sign-in?next=%2Ffunctions%3Fq%3Dapi&reason=expired"))
    expect(page.get_by_role("status")).to_have_text(re.compile("Your session has ended"))
    console.sign_in()
    expect(page).to_have_url(console.url("/functions?q=api"))
    _expect_rows(console, ["orders-api"])


def test_search_and_sort_live_in_the_url(console: Console) -> None:
    console.goto("/functions?q=e&sort=-name")
    console.sign_in()
    page = console.page
    expect(page).to_have_url(console.url("/functions?q=e&sort=-name"))
    _expect_rows(console, ["resize-images", "orders-api", "hello"])
    name = page.get_by_role("columnheader", name="Name")
    expect(name).to_have_attribute("aria-sort", "descending")
    name.get_by_role("button").click()
    expect(page).to_have_url(console.url("/functions?q=e"))
    _expect_rows(console, ["hello", "orders-api", "resize-images"])
    search = page.get_by_role("searchbox", name="Search functions")
    search.fill("ORDERS")
    expect(page).to_have_url(console.url("/functions?q=ORDERS"))
    _expect_rows(console, ["orders-api"])
    expect(page.locator("main caption")).to_have_text("1 of 3 functions match “ORDERS”")
    page.reload()
    expect(search).to_have_value("ORDERS")
    _expect_rows(console, ["orders-api"])
    # `/` focuses the search box from anywhere on the page.
    page.locator("h1").click()
    page.keyboard.press("/")
    expect(search).to_be_focused()


def test_the_dark_theme_is_kept_and_the_system_one_honoured(
    browser: Browser, server: LiveServer
) -> None:
    with open_console(browser, server) as console:
        console.goto("/sign-in")
        page = console.page
        background = "getComputedStyle(document.body).backgroundColor"
        assert page.evaluate(background) == "rgb(255, 255, 255)"
        toggle = page.get_by_role("button", name="Dark theme")
        toggle.click()
        expect(toggle).to_have_attribute("aria-pressed", "true")
        assert page.evaluate(background) == "rgb(20, 22, 26)"
        page.reload()
        assert page.evaluate("document.documentElement.dataset.theme") == "dark"
        assert page.evaluate(background) == "rgb(20, 22, 26)"
        console.sign_in()
        expect(page.get_by_role("button", name="Dark theme")).to_have_attribute(
            "aria-pressed", "true"
        )
    with open_console(browser, server, color_scheme="dark") as console:
        console.goto("/sign-in")
        assert console.page.evaluate(background) == "rgb(20, 22, 26)"


def test_no_serious_accessibility_problem_on_any_page_in_either_theme(
    browser: Browser, server: LiveServer
) -> None:
    for scheme in SCHEMES:
        with open_console(browser, server, color_scheme=scheme) as console:
            page = console.page
            console.goto("/sign-in")
            expect(page.get_by_role("button", name="Sign in")).to_be_visible()
            assert console.axe() == [], f"sign-in, {scheme}"
            console.sign_in()
            expect(page.locator("main tbody tr")).to_have_count(len(SEEDED))
            assert console.axe() == [], f"functions, {scheme}"
            page.keyboard.press("?")
            shortcuts = page.get_by_role("dialog", name="Keyboard shortcuts")
            expect(shortcuts).to_be_visible()
            assert console.axe() == [], f"shortcuts, {scheme}"
            page.keyboard.press("Escape")
            expect(shortcuts).to_be_hidden()
            console.goto("/no/such/page")
            expect(page.get_by_role("heading", name="Page not found")).to_be_visible()
            assert console.axe() == [], f"not found, {scheme}"


def test_the_user_shown_is_the_one_signed_in(console: Console) -> None:
    console.goto("/functions")
    console.sign_in()
    expect(console.page.get_by_title(ADMIN_LOGIN)).to_have_text("Platform admin")


def test_the_page_refuses_inline_code(console: Console) -> None:
    """The CSP holds in the browser: an injected inline script does not run (so neither
    would one smuggled in through a function's name or log), and the page says so."""
    console.goto("/sign-in")
    page = console.page
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    ran = page.evaluate(
        """() => new Promise((resolve) => {
            const refused = () => resolve(window.ran ?? false);
            document.addEventListener("securitypolicyviolation", refused);
            const script = document.createElement("script");
            script.textContent = "window.ran = true";
            document.head.append(script);
        })"""
    )
    assert ran is False
    refused = [text for text in console.watch.console_errors if "Content Security Policy" in text]
    assert refused, console.watch.console_errors
    console.watch.console_errors.clear()  # the refusal was the point
