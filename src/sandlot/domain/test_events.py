"""Saved test events: the rules on their names and how many a function keeps."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sandlot.domain.errors import InvalidTestEventName

# Enough for a team's cases of one function; a bound so a list page stays small.
MAX_TEST_EVENTS_PER_FUNCTION = 20
TEST_EVENT_NAME_MAX = 100


@dataclass(frozen=True)
class SavedEvent:
    name: str
    event: bytes  # the JSON text, as checked at the door
    updated_at: datetime
    updated_by: str


def check_test_event_name(name: str) -> str:
    """1-100 printable characters, not blank: a NUL or a control character would reach
    PostgreSQL (which refuses NUL) or a terminal."""
    if not 1 <= len(name) <= TEST_EVENT_NAME_MAX or not name.strip():
        raise InvalidTestEventName(
            f"a test event's name is 1 to {TEST_EVENT_NAME_MAX} characters, not blank",
            name=name[:TEST_EVENT_NAME_MAX],
        )
    if not name.isprintable():
        raise InvalidTestEventName(
            "a test event's name may not hold control characters", name=name[:100]
        )
    return name
