"""Schedules: a cron expression in a time zone, and which instants its slots fall on.

The expression is read by croniter over *wall-clock* time (naive datetimes in the
schedule's zone), and each wall-clock slot is then placed on the UTC time line by one rule,
ours rather than a library's, so that daylight saving is decided in one place:

- a wall-clock time that does not exist (the spring-forward gap: 02:30 on the last Sunday
  of March in Europe/Berlin) fires at the first instant after the gap (03:00 CEST);
- a wall-clock time that happens twice (the fall-back repeat: 01:30 on the last Sunday of
  October) fires once, at its first occurrence (01:30 CEST).

So every time the expression names fires exactly once per day it names it, like cron on
a machine whose clock follows the zone. Slots that the rule puts on one instant (02:30 in
the gap and 03:00 after it) are one slot.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter
from croniter.croniter import CroniterError

from sandlot.domain.aliases import LATEST
from sandlot.domain.errors import InvalidSchedule, InvalidTimezone

CRON_MAX = 200
TIMEZONE_MAX = 64
DEFAULT_TIMEZONE = "UTC"
# croniter's own shorthands; @reboot means nothing to a server that is always up.
ALIASES = frozenset(
    {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}
)
# Wider than any zone's offset change, so stepping from a wall-clock time this far back
# (or ahead) never misses a slot near a transition.
_MARGIN = timedelta(hours=3)
# Counting missed slots after a long downtime stops here ("at least this many").
MAX_COUNTED_SKIPS = 10_000


@dataclass(frozen=True)
class Schedule:
    id: str
    namespace_id: str
    function_id: str
    function_name: str
    cron: str
    timezone: str
    event: str  # the JSON text each firing sends, as checked at the door
    paused: bool
    next_run_at: datetime | None  # None while paused
    last_run_at: datetime | None  # the slot of the last firing
    last_invocation_id: str | None
    # At the last firing: how many earlier slots were due and skipped (downtime), and the
    # first and last of them; the total over the schedule's life.
    skipped_slots: int
    skipped_from: datetime | None
    skipped_until: datetime | None
    skipped_total: int
    created_at: datetime
    created_by: str
    # The alias each firing's call names (`latest`: none); resolved when the slot fires.
    alias: str = LATEST

    @property
    def called(self) -> str:
        """The function as each firing names it: `hello`, or `hello:prod`."""
        if self.alias == LATEST:
            return self.function_name
        return f"{self.function_name}:{self.alias}"


@dataclass(frozen=True)
class Due:
    """What one firing takes: its slot, and the earlier due slots it skips."""

    slot: datetime
    skipped: int
    skipped_from: datetime | None
    skipped_until: datetime | None
    next_run_at: datetime


def check_timezone(name: str) -> ZoneInfo:
    if not 1 <= len(name) <= TIMEZONE_MAX or not name.isprintable() or "\x00" in name:
        raise InvalidTimezone("a time zone is an IANA name such as Europe/Berlin", timezone=name)
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise InvalidTimezone(
            f"no time zone named {name!r} (an IANA name such as Europe/Berlin)",
            timezone=name[:TIMEZONE_MAX],
        ) from None


def check_cron(expression: str) -> str:
    """Five fields (minute hour day month weekday) or one of `ALIASES`; croniter's reason
    when it refuses, and a refusal of an expression that never fires (February 30th)."""
    text = " ".join(expression.split())
    if not text or len(text) > CRON_MAX or not text.isprintable():
        raise InvalidSchedule(
            f"a cron expression has 1 to {CRON_MAX} printable characters",
            reason="empty, too long or not printable",
        )
    if text.startswith("@"):
        if text.lower() not in ALIASES:
            raise InvalidSchedule(
                f"unknown shorthand {text!r}; one of {', '.join(sorted(ALIASES))}",
                reason="unknown shorthand",
            )
        text = text.lower()
    elif len(text.split(" ")) != 5:
        raise InvalidSchedule(
            "a cron expression has 5 fields: minute hour day-of-month month day-of-week",
            reason=f"{len(text.split(' '))} fields",
        )
    try:
        croniter(text, datetime(2000, 1, 1)).get_next(datetime)
    except (CroniterError, ValueError, KeyError) as exc:
        reason = str(exc) or type(exc).__name__
        raise InvalidSchedule(f"not a cron expression: {reason}", reason=reason) from None
    return text


def to_instant(wall: datetime, zone: ZoneInfo) -> datetime:
    """The UTC instant of a naive wall-clock time in `zone`, by the module's rule."""
    first = wall.replace(tzinfo=zone, fold=0)
    instant = first.astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) == wall:
        return instant  # exists; fold=0 is the first of a repeated time
    # In a gap: the first whole minute of wall-clock time after it.
    probe = wall.replace(second=0, microsecond=0)
    for _ in range(24 * 60):
        probe += timedelta(minutes=1)
        candidate = probe.replace(tzinfo=zone, fold=0).astimezone(UTC)
        if candidate.astimezone(zone).replace(tzinfo=None) == probe:
            return candidate
    return instant  # no zone has a gap of a day; unreachable


def _wall(instant: datetime, zone: ZoneInfo) -> datetime:
    return instant.astimezone(zone).replace(tzinfo=None)


def slots_after(cron: str, zone: ZoneInfo, after: datetime) -> Iterator[datetime]:
    """The slots strictly after `after` (aware), in order, as UTC instants."""
    walls = croniter(cron, _wall(after, zone) - _MARGIN)
    last: datetime | None = None
    while True:
        instant = to_instant(walls.get_next(datetime), zone)
        if instant > after and instant != last:
            last = instant
            yield instant


def latest_slot(cron: str, zone: ZoneInfo, at_or_before: datetime) -> datetime | None:
    """The last slot at or before the instant, within a year back (None: none)."""
    walls = croniter(cron, _wall(at_or_before, zone) + _MARGIN)
    floor = at_or_before - timedelta(days=366)
    while True:
        try:
            instant = to_instant(walls.get_prev(datetime), zone)
        except CroniterError:
            return None
        if instant <= at_or_before:
            return instant
        if instant < floor:
            return None


def next_slot(cron: str, zone: ZoneInfo, after: datetime) -> datetime:
    return next(slots_after(cron, zone, after))


def next_runs(cron: str, zone: ZoneInfo, after: datetime, count: int = 3) -> list[datetime]:
    runs = slots_after(cron, zone, after)
    return [next(runs) for _ in range(count)]


def due(cron: str, zone: ZoneInfo, first: datetime, now: datetime) -> Due | None:
    """What fires at `now` for a schedule whose next slot was `first`: the most recent due
    slot, with the earlier due ones skipped (they were missed while no scheduler ran)."""
    if first > now:
        return None
    latest = latest_slot(cron, zone, now)
    if latest is None or latest < first:
        latest = first
    skipped, skipped_from, skipped_until = 0, None, None
    slots = slots_after(cron, zone, first - timedelta(microseconds=1))
    for slot in slots:
        if slot >= latest or skipped >= MAX_COUNTED_SKIPS:
            break
        skipped += 1
        skipped_from = skipped_from or slot
        skipped_until = slot
    return Due(
        slot=latest,
        skipped=skipped,
        skipped_from=skipped_from,
        skipped_until=skipped_until,
        next_run_at=next_slot(cron, zone, max(latest, now)),
    )
