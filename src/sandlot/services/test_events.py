"""Saved test events of a function: list, save (create or replace) and delete.

They belong to the function row, not to a version: a deploy keeps them, and they are not
shown once the function is deleted. An event may hold credentials, so the audit log names
the event and never holds its body.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from sandlot.domain.actions import Action
from sandlot.domain.errors import InvalidTestEventName, TestEventLimitReached, TestEventNotFound
from sandlot.domain.models import Principal
from sandlot.domain.test_events import (
    MAX_TEST_EVENTS_PER_FUNCTION,
    SavedEvent,
    check_test_event_name,
)
from sandlot.services import audit
from sandlot.services.authz import authorize_function
from sandlot.services.invocations import check_event
from sandlot.storage.functions import FunctionRepo
from sandlot.storage.test_events import TestEventRepo


async def list_test_events(
    *, session: AsyncSession, principal: Principal, name: str
) -> list[SavedEvent]:
    authorize_function(principal, Action.FUNCTION_READ, name)
    function = await FunctionRepo(session).get(principal.namespace_id, name)
    return await TestEventRepo(session).of_function(function.id)


async def save_test_event(
    *,
    session: AsyncSession,
    principal: Principal,
    name: str,
    event_name: str,
    event: bytes,
    max_event_bytes: int,
) -> tuple[SavedEvent, bool]:
    """Create or replace; the same rules as an invoke's event, so a saved one always runs."""
    authorize_function(principal, Action.FUNCTION_WRITE, name)
    function = await FunctionRepo(session).get(principal.namespace_id, name)
    check_test_event_name(event_name)
    body = check_event(event, max_event_bytes)
    repo = TestEventRepo(session)
    # Counted after the write, with the function locked (PostgreSQL) or holding SQLite's one
    # writer lock (the write is this transaction's first statement that takes it): two saves
    # of new names at once cannot both take the last place. Refusing rolls the write back.
    await repo.lock_function(function.id)
    saved, created = await repo.put(
        function_id=function.id, name=event_name, event=body, actor=principal.actor
    )
    kept = await repo.count(function.id) if created else 0
    if kept > MAX_TEST_EVENTS_PER_FUNCTION:
        raise TestEventLimitReached(
            f"function {name!r} already has {kept - 1} saved test events, the most it may "
            "keep: delete one first",
            function=name,
            max=MAX_TEST_EVENTS_PER_FUNCTION,
        )
    await audit.record(
        session,
        principal=principal,
        action="test_event.save",
        target=f"function:{name}",
        namespace_id=principal.namespace_id,
        detail={"name": event_name, "created": created},
    )
    return saved, created


async def delete_test_event(
    *, session: AsyncSession, principal: Principal, name: str, event_name: str
) -> None:
    authorize_function(principal, Action.FUNCTION_WRITE, name)
    function = await FunctionRepo(session).get(principal.namespace_id, name)
    try:
        check_test_event_name(event_name)
    except InvalidTestEventName:
        # No event can have that name; never looked up (a NUL would reach PostgreSQL).
        raise TestEventNotFound(f"no saved test event named {event_name!r}") from None
    await TestEventRepo(session).delete(function.id, event_name)
    await audit.record(
        session,
        principal=principal,
        action="test_event.delete",
        target=f"function:{name}",
        namespace_id=principal.namespace_id,
        detail={"name": event_name},
    )
