"""`GET /functions/{name}/logs/stream`: a function's finished invocations, live, as
Server-Sent Events."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query
from fastapi.responses import StreamingResponse

from sandlot.api.deps import PrincipalDep, RuntimeDep, SessionDep
from sandlot.api.schemas import ErrorOut
from sandlot.domain.ids import INVOCATION_ID_PATTERN, OPTIONAL_INVOCATION_ID_PATTERN
from sandlot.services import logstream as service
from sandlot.services.journal_entries import Record
from sandlot.services.logtail import EndReason, Subscription

router = APIRouter(prefix="/functions", tags=["functions"])

KEEPALIVE_S = 15.0
MAX_S = 3600.0

_DESCRIPTION = f"""\
One `invocation` event per finished invocation of the function on this server, with
`id:` its invocation id and, as JSON in `data:`, its id, version, state, cold start,
duration, error and its captured log text (secrets masked, as stored). A comment line
(`: keep-alive`) is sent every {KEEPALIVE_S:.0f} s while nothing happens.

To resume without a gap, reconnect with `Last-Event-ID` (what `EventSource` does) or
`?after=<invocation id>`: the invocations finished since are replayed from the history
first (oldest first, at most {service.MAX_REPLAY}), then the stream goes live. Without
either it starts live.

The stream ends with one `end` event whose `data` says why: `max_s` (the stream's
time is up: reconnect), `replay_done` (`follow=false`), `more_history` (more than the
replay bound waited: reconnect to get the rest), `too_slow` (the reader fell behind and
was dropped: reconnect), `function_deleted`, `server_stopping`; and `last_id`, the id to
resume after.
"""


# One Server-Sent Event (the way OpenAPI 3.2 and Schemathesis read `text/event-stream`):
# `data` is JSON text, an invocation's fields or the `end` event's reason and last id.
_EVENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "event": {"type": "string", "enum": ["invocation", "end"]},
        "id": {"type": "string", "description": "The invocation id (`invocation` events)"},
        "data": {"type": "string", "contentMediaType": "application/json"},
    },
    "required": ["event", "data"],
}


@router.get(
    "/{name}/logs/stream",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {"text/event-stream": {"schema": _EVENT_SCHEMA}},
            "description": "Server-Sent Events: `invocation` events, then one `end` event",
        },
        401: {"model": ErrorOut, "description": "Missing or wrong API key"},
        403: {"model": ErrorOut, "description": "PermissionDenied"},
        404: {
            "model": ErrorOut,
            "description": "FunctionNotFound (also another namespace's, or one outside a "
            "limited key's functions)",
        },
        422: {"model": ErrorOut, "description": "The request does not match the schema"},
        429: {"model": ErrorOut, "description": "TooManyRequests: too many failed sign-ins"},
    },
    summary="Follow a function's invocations and their logs, live (Server-Sent Events)",
    description=_DESCRIPTION,
)
async def stream_logs(
    name: str,
    runtime: RuntimeDep,
    session: SessionDep,
    principal: PrincipalDep,
    after: Annotated[
        str | None,
        Query(
            pattern=INVOCATION_ID_PATTERN,
            description="Replay the invocations finished after this id first",
        ),
    ] = None,
    follow: Annotated[
        bool, Query(description="false: end after the replay, without going live")
    ] = True,
    max_s: Annotated[
        float,
        Query(gt=0, le=MAX_S, description="End the stream after this many seconds"),
    ] = MAX_S,
    last_event_id: Annotated[
        str,
        Header(
            pattern=OPTIONAL_INVOCATION_ID_PATTERN,
            description="As `after` (what `EventSource` sends on a reconnect); `after` wins",
        ),
    ] = "",
) -> StreamingResponse:
    resume = after or last_event_id or None
    opened = await service.open_stream(
        session=session,
        recorder=runtime.recorder,
        principal=principal,
        name=name,
        after=resume,
    )
    await session.commit()  # the stream may last long: hold no database connection
    return StreamingResponse(
        _events(opened, follow=follow, max_s=max_s, resumed_from=resume),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def _events(
    opened: service.LogStream, *, follow: bool, max_s: float, resumed_from: str | None
) -> AsyncIterator[str]:
    subscription = opened.subscription
    last_id = resumed_from
    sent: set[str] = set()
    try:
        for record in opened.replay:
            sent.add(record[0].id)
            last_id = record[0].id
            yield _invocation_event(record)
        if opened.replay_cut or not follow:
            yield _end("more_history" if opened.replay_cut else "replay_done", last_id)
            return
        async for item in _live(subscription, max_s):
            if isinstance(item, str):
                yield item if item.startswith(":") else _end(item, last_id)
                continue
            if item[0].id in sent:
                continue  # replayed already: it finished between subscribing and reading
            last_id = item[0].id
            yield _invocation_event(item)
    finally:
        subscription.close()


async def _live(subscription: Subscription, max_s: float) -> AsyncIterator[Record | str]:
    """Records as they come; keep-alive comments; and last the end reason (a str)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + max_s
    while True:
        remaining = deadline - loop.time()
        if remaining <= 0:
            yield "max_s"
            return
        item = await subscription.next(min(KEEPALIVE_S, remaining))
        if isinstance(item, EndReason):
            yield item.value
            return
        yield ": keep-alive\n\n" if item is None else item


def _invocation_event(record: Record) -> str:
    invocation, _, logs = record
    data: dict[str, Any] = {
        "id": invocation.id,
        "function": invocation.function_name,
        "version": invocation.version,
        "state": invocation.state.value,
        "cold_start": invocation.cold_start,
        "duration_ms": invocation.duration_ms,
        "created_at": invocation.created_at.isoformat(),
        "finished_at": invocation.finished_at.isoformat() if invocation.finished_at else None,
        "error": invocation.error,
        "logs": logs,
        "logs_truncated": invocation.logs_truncated,
    }
    return f"event: invocation\nid: {invocation.id}\ndata: {json.dumps(data)}\n\n"


def _end(reason: str, last_id: str | None) -> str:
    return f"event: end\ndata: {json.dumps({'reason': reason, 'last_id': last_id})}\n\n"
