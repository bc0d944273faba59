"""Where a schedule's slots fall: cron in a time zone, across daylight saving (Europe/Berlin:
clocks go 02:00 -> 03:00 on 2027-03-28 and 03:00 -> 02:00 on 2027-10-31), and what fires
after downtime."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from sandlot.domain.errors import InvalidSchedule, InvalidTimezone
from sandlot.domain.schedules import check_cron, check_timezone, due, next_runs

BERLIN = check_timezone("Europe/Berlin")


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def test_a_time_in_the_spring_forward_gap_fires_when_the_gap_ends() -> None:
    # 02:30 does not exist on 2027-03-28: it fires at 03:00 CEST (01:00 UTC), once.
    runs = next_runs("30 2 * * *", BERLIN, utc(2027, 3, 27, 12))
    assert runs == [utc(2027, 3, 28, 1, 0), utc(2027, 3, 29, 0, 30), utc(2027, 3, 30, 0, 30)]


def test_slots_the_gap_puts_on_one_instant_fire_once() -> None:
    # 01:30 CET, then 02:00 and 02:30 (gone) and 03:00 CEST all at 01:00 UTC, then 03:30.
    runs = next_runs("*/30 * * * *", BERLIN, utc(2027, 3, 28, 0, 10), 3)
    assert runs == [utc(2027, 3, 28, 0, 30), utc(2027, 3, 28, 1, 0), utc(2027, 3, 28, 1, 30)]


def test_a_time_in_the_fall_back_repeat_fires_once_at_its_first_occurrence() -> None:
    # 02:30 happens at 00:30 UTC (CEST) and again at 01:30 UTC (CET): only the first fires.
    runs = next_runs("30 2 * * *", BERLIN, utc(2027, 10, 30, 12))
    assert runs == [utc(2027, 10, 31, 0, 30), utc(2027, 11, 1, 1, 30), utc(2027, 11, 2, 1, 30)]


def test_a_time_before_the_repeat_is_untouched_by_it() -> None:
    # 01:30 is not repeated in Berlin (the repeat is 02:00-02:59): once, in CEST.
    runs = next_runs("30 1 * * *", BERLIN, utc(2027, 10, 30, 12), 2)
    assert runs == [utc(2027, 10, 30, 23, 30), utc(2027, 11, 1, 0, 30)]


def test_every_half_hour_skips_the_repeated_hour() -> None:
    runs = next_runs("*/30 * * * *", BERLIN, utc(2027, 10, 31, 0, 10), 3)
    # 02:30 CEST (00:30Z); the repeated 02:00 and 02:30 CET do not fire; 03:00 CET (02:00Z).
    assert runs == [utc(2027, 10, 31, 0, 30), utc(2027, 10, 31, 2, 0), utc(2027, 10, 31, 2, 30)]


def test_utc_has_no_transitions() -> None:
    runs = next_runs("0 * * * *", check_timezone("UTC"), utc(2027, 3, 28, 0, 30), 3)
    assert runs == [utc(2027, 3, 28, 1), utc(2027, 3, 28, 2), utc(2027, 3, 28, 3)]


def test_after_downtime_only_the_most_recent_slot_fires_and_the_rest_are_counted() -> None:
    found = due("*/5 * * * *", check_timezone("UTC"), utc(2027, 1, 1, 0, 0), utc(2027, 1, 1, 1, 2))
    assert found is not None
    assert found.slot == utc(2027, 1, 1, 1, 0)
    assert found.skipped == 12  # 00:00 to 00:55
    assert (found.skipped_from, found.skipped_until) == (utc(2027, 1, 1), utc(2027, 1, 1, 0, 55))
    assert found.next_run_at == utc(2027, 1, 1, 1, 5)


def test_a_slot_on_time_skips_nothing() -> None:
    found = due("*/5 * * * *", check_timezone("UTC"), utc(2027, 1, 1, 0, 5), utc(2027, 1, 1, 0, 5))
    assert found is not None
    assert (found.slot, found.skipped, found.next_run_at) == (
        utc(2027, 1, 1, 0, 5),
        0,
        utc(2027, 1, 1, 0, 10),
    )
    assert (
        due("*/5 * * * *", check_timezone("UTC"), utc(2027, 1, 1, 0, 10), utc(2027, 1, 1, 0, 9))
        is None
    )


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        ("61 * * * *", "out of range"),
        ("* * * *", "4 fields"),
        ("* * * * * *", "6 fields"),
        ("0 0 31 2 *", "failed to find next date"),
        ("@reboot", "unknown shorthand"),
        ("", "empty"),
    ],
)
def test_a_bad_expression_is_refused_with_the_reason(expression: str, reason: str) -> None:
    with pytest.raises(InvalidSchedule) as refused:
        check_cron(expression)
    assert reason in refused.value.extra["reason"]


def test_shorthands_and_spacing() -> None:
    assert check_cron("@Hourly") == "@hourly"
    assert check_cron("  */5   * * * * ") == "*/5 * * * *"


@pytest.mark.parametrize("zone", ["Mars/Olympus", "", "../etc/passwd", "Europe/Berlin\x00"])
def test_a_zone_that_does_not_exist_is_refused(zone: str) -> None:
    with pytest.raises(InvalidTimezone):
        check_timezone(zone)
