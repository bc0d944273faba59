"""Request and response bodies of saved test events."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from sandlot.domain.test_events import MAX_TEST_EVENTS_PER_FUNCTION, SavedEvent


class TestEventPut(BaseModel):
    __test__ = False  # a schema, not a pytest class
    event: Any = Field(description="Any JSON value: the event an invoke would send")


class TestEventOut(BaseModel):
    __test__ = False
    name: str
    event: Any = Field(description="The saved event, as it was saved")
    updated_at: datetime
    updated_by: str = Field(description="Who saved it last (`user:<login>` or `key:<id>`)")

    @classmethod
    def of(cls, saved: SavedEvent) -> TestEventOut:
        return cls(
            name=saved.name,
            event=json.loads(saved.event),
            updated_at=saved.updated_at,
            updated_by=saved.updated_by,
        )


class TestEventList(BaseModel):
    __test__ = False
    items: list[TestEventOut] = Field(description="By name")
    max: int = Field(
        MAX_TEST_EVENTS_PER_FUNCTION, description="The most test events a function keeps"
    )
