"""The Schedules tab in a real browser, on SQLite and PostgreSQL: the live preview of a cron
expression (its next 3 runs, or the API's reason for refusing it), create, pause, resume,
delete; axe-core clean."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.conftest import LiveServer
from tests.ui.conftest import Console, deploy

NAME = "sched-ui-tab"


@pytest.fixture(scope="module")
def function(server: LiveServer) -> str:
    deploy(server, [NAME])
    return NAME


def test_a_schedule_is_previewed_created_paused_resumed_and_deleted(
    console: Console, function: str
) -> None:
    console.watch.expect(400, "/api/v1/schedules/preview")
    console.goto(f"/functions/{function}/schedules")
    console.sign_in()
    page = console.page
    expect(page.get_by_text(f"{function} has no schedules yet.")).to_be_visible()

    form = page.get_by_role("form", name="New schedule")
    cron = form.get_by_label("Cron expression")
    cron.fill("61 * * * *")
    expect(form.locator("#cron-preview")).to_contain_text("out of range")
    expect(form.get_by_role("button", name="Create schedule")).to_be_disabled()
    cron.fill("30 2 * * *")
    form.get_by_label("Time zone").fill("Europe/Berlin")
    expect(form.locator("#cron-preview li")).to_have_count(3)
    form.get_by_label("Event (JSON, optional)").fill('{"from": "console"}')
    assert console.axe() == []
    form.get_by_role("button", name="Create schedule").click()

    row = page.locator("tr[data-schedule]")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("30 2 * * *")
    expect(row).to_contain_text("Europe/Berlin")
    expect(row).to_contain_text("active")
    expect(row.locator(".last")).to_contain_text("not yet")

    row.get_by_role("button", name="Pause").click()
    expect(row).to_contain_text("paused")
    row.get_by_role("button", name="Resume").click()
    expect(row).to_contain_text("active")
    assert console.axe() == []

    row.get_by_role("button", name="Delete").click()
    dialog = page.get_by_role("dialog", name="Delete the schedule 30 2 * * *?")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Delete", exact=True).click()
    expect(page.locator("tr[data-schedule]")).to_have_count(0)
    expect(page.get_by_text("Schedule 30 2 * * * deleted.")).to_be_visible()
