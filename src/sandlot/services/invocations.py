"""Invoking functions and reading their history."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from sandlot.domain.actions import Action
from sandlot.domain.aliases import LATEST, ROUTING_KEY_HEADER, split_qualified
from sandlot.domain.errors import (
    EventTooLarge,
    InsufficientStorage,
    InvalidEvent,
    InvalidInput,
    InvalidRoutingKey,
    InvocationNotFound,
    QuotaExceeded,
    SandlotError,
)
from sandlot.domain.ids import new_invocation_id
from sandlot.domain.invocation_events import keep_event
from sandlot.domain.json_values import json_problem
from sandlot.domain.models import (
    Invocation,
    InvocationFilters,
    InvocationPage,
    InvocationStart,
    Principal,
)
from sandlot.domain.states import InvocationState
from sandlot.services.authz import authorize, authorize_function, in_scope
from sandlot.services.catalog import Catalog
from sandlot.services.metrics import Metrics
from sandlot.services.recorder import InvocationRecorder, Record, ended_record
from sandlot.storage.functions import FunctionRepo
from sandlot.storage.invocations import InvocationRepo
from sandlot.worker.interface import CallInfo, InvokeOutcome, Pool, VersionSpec

MAX_PAGE = 200
ROUTING_KEY_MAX_BYTES = 256

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class InvokeResult:
    spec: VersionSpec
    outcome: InvokeOutcome
    alias: str | None = None  # as recorded (see `Invocation.alias`)


def check_routing_key(key: str | None) -> None:
    if key is not None and not 1 <= _byte_length(key) <= ROUTING_KEY_MAX_BYTES:
        raise InvalidRoutingKey(
            f"the {ROUTING_KEY_HEADER} header is 1 to {ROUTING_KEY_MAX_BYTES} bytes",
            max_bytes=ROUTING_KEY_MAX_BYTES,
        )


def _byte_length(text: str) -> int:
    # A header's value arrives decoded as Latin-1, one character per byte it was sent as.
    try:
        return len(text.encode("latin-1"))
    except UnicodeEncodeError:
        return len(text.encode())


def check_size(body: bytes, max_bytes: int) -> None:
    if len(body) > max_bytes:
        raise EventTooLarge(
            f"the event is {len(body)} bytes; at most {max_bytes} are accepted",
            size=len(body),
            max_bytes=max_bytes,
        )


def check_event(body: bytes, max_bytes: int) -> bytes:
    """An empty body is `null`; anything else must be JSON that Sandlot accepts
    (`domain.json_values`) within the size limit."""
    check_size(body, max_bytes)
    if not body.strip():
        return b"null"
    problem = json_problem(body)
    if problem is not None:
        raise InvalidEvent(f"the request body is not valid JSON: {problem}")
    return body


@dataclass(frozen=True)
class Invoker:
    """The long-lived collaborators of the invoke path, assembled once per app."""

    catalog: Catalog
    pool: Pool
    recorder: InvocationRecorder
    metrics: Metrics
    max_event_bytes: int
    log_excerpt_bytes: int
    event_bytes: int = 0  # of each event, kept with its record (SANDLOT_INVOCATION_EVENT_BYTES)


async def invoke(
    *,
    invoker: Invoker,
    principal: Principal,
    name: str,
    version: int | None,
    body: bytes,
    trigger: str = "http",
    built_event: bool = False,
    routing_key: str | None = None,
    client_context: Mapping[str, Any] | None = None,
) -> InvokeResult:
    """Run one call. It is journaled before it runs and again before this returns, so that
    an answered call (and one in flight) survives a crash of the server. `built_event`: the
    platform made the event itself (a function URL's, by json.dumps), so it is JSON that
    Sandlot accepts by construction and only its size is checked, not parsed again.
    `name` may name an alias (`hello:prod`); `routing_key` keeps a caller on one version of
    a split. `client_context` is Lambda's client context of the call (decoded), handed to
    the handler as `context.client_context`."""
    authorize_function(principal, Action.FUNCTION_INVOKE, split_qualified(name)[0])
    if built_event:
        check_size(body, invoker.max_event_bytes)
        event = body
    else:
        event = check_event(body, invoker.max_event_bytes)
    check_routing_key(routing_key)
    spec, alias = await invoker.catalog.target(principal, name, version, routing_key)
    kept = keep_event(event, invoker.event_bytes)
    start = InvocationStart(
        id=new_invocation_id(),
        namespace_id=principal.namespace_id,
        function_id=spec.function_id,
        function_name=spec.function_name,
        version=spec.version,
        trigger=trigger,
        created_at=datetime.now(UTC),
        event=kept.text,
        event_truncated=kept.truncated,
        alias=alias,
    )
    recorder = invoker.recorder
    recorder.begin(start)
    try:
        call = CallInfo(qualifier=qualifier(alias, spec.version), client_context=client_context)
        outcome = await invoker.pool.invoke(spec, start.id, event, call)
    except SandlotError as exc:
        recorder.forget(start.id)  # refused before it ran (429, 503, an event it rejected)
        if isinstance(exc, QuotaExceeded):
            invoker.metrics.quota_refusals.labels(principal.namespace, exc.extra["quota"]).inc()
        raise
    except asyncio.CancelledError:
        recorder.finish(_ended(start, InvocationState.CANCELLED, "ServiceUnavailable", _STOPPED))
        raise
    except Exception:
        log.exception("invocation %s failed inside the platform", start.id)
        recorder.finish(_ended(start, InvocationState.FAILED, "InternalError", _BROKE))
        raise
    invoker.metrics.observe(spec.function_name, outcome)
    try:
        recorder.finish(_record(start, spec, outcome, invoker.log_excerpt_bytes))
    except InsufficientStorage as exc:
        # Only a 200 promises a durable record: without room in the journal, say so instead.
        raise InsufficientStorage(
            f"{exc.message}; the call ran, but its record could not be journaled",
            invocation_id=start.id,
        ) from exc
    return InvokeResult(spec=spec, outcome=outcome, alias=alias)


def qualifier(alias: str | None, version: int) -> str | None:
    """What the handler's `invoked_function_arn` ends with, from the alias recorded for the
    call: the alias it was routed by, the version number it named, or nothing for `latest`
    (Lambda's unqualified ARN)."""
    if alias is None:
        return str(version)
    return None if alias == LATEST else alias


_STOPPED = "the server stopped before the call finished"
_BROKE = "an unexpected error occurred in the platform"


def _ended(start: InvocationStart, state: InvocationState, kind: str, message: str) -> Record:
    return ended_record(
        start, state=state, kind=kind, message=message, finished_at=datetime.now(UTC)
    )


def _record(
    start: InvocationStart, spec: VersionSpec, outcome: InvokeOutcome, excerpt: int
) -> tuple[Invocation, str | None, str]:
    result_text = outcome.result_json.decode() if outcome.result_json is not None else None
    invocation = Invocation(
        id=outcome.invocation_id,
        namespace_id=start.namespace_id,
        function_id=spec.function_id,
        function_name=spec.function_name,
        version=spec.version,
        trigger=start.trigger,
        state=outcome.state,
        cold_start=outcome.cold_start,
        created_at=outcome.started_at,
        finished_at=outcome.finished_at,
        duration_ms=round(outcome.timings.total_ms, 3),
        timings=outcome.timings.as_dict(),
        error=outcome.error.as_dict() if outcome.error else None,
        log_excerpt=_tail(outcome.logs, excerpt),
        logs_truncated=outcome.logs_truncated,
        event=start.event,
        event_truncated=start.event_truncated,
        alias=start.alias,
    )
    return invocation, result_text, outcome.logs


def _tail(text: str, limit: int) -> str:
    data = text.encode()
    if len(data) <= limit:
        return text
    return "…" + data[-limit:].decode(errors="ignore")


def aware(moment: datetime | None, name: str) -> datetime | None:
    """A time bound as UTC; one without a zone is refused rather than guessed."""
    if moment is None:
        return None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidInput(f"'{name}' needs a time zone, e.g. 2026-12-01T12:00:00Z")
    try:
        return moment.astimezone(UTC)
    except OverflowError as exc:
        raise InvalidInput(f"'{name}' is out of range") from exc


async def list_invocations(
    *,
    session: AsyncSession,
    recorder: InvocationRecorder,
    principal: Principal,
    function: str | None,
    state: InvocationState | None,
    limit: int,
    cursor: str | None,
    function_id: str | None = None,
    include_deleted: bool = False,
    after: str | None = None,
    filters: InvocationFilters | None = None,
) -> InvocationPage:
    """A page of history: newest first (continue with `cursor`), or with `after`, oldest
    first from just after that id (continue with the page's `next_cursor` as the next
    `after`). A name means one function, never several mixed: the one that has the name now
    (the live one, else the one deleted last), unless `include_deleted` asks for every
    function that had it. `function_id` names one function exactly. `filters` narrow either
    order (version, cold start, a time range of `created_at`)."""
    if cursor is not None and after is not None:
        raise InvalidInput("give either 'cursor' (newest first) or 'after' (oldest first)")
    authorize(principal, Action.FUNCTION_READ)
    filters = _checked(filters or InvocationFilters())
    if function is not None and not in_scope(principal, function):
        return InvocationPage(items=[], next_cursor=None)
    await _flush(recorder)
    name_filter = function
    if function is not None and function_id is None and not include_deleted:
        function_id = await FunctionRepo(session).current_id(principal.namespace_id, function)
        if function_id is None:
            return InvocationPage(items=[], next_cursor=None)
        name_filter = None  # the id says it all
    return await InvocationRepo(session).page(
        principal.namespace_id,
        function_name=name_filter,
        state=state,
        limit=max(1, min(limit, MAX_PAGE)),
        cursor=cursor,
        function_id=function_id,
        after=after,
        function_names=principal.functions,
        filters=filters,
    )


def _checked(filters: InvocationFilters) -> InvocationFilters:
    return dataclasses.replace(
        filters, since=aware(filters.since, "since"), until=aware(filters.until, "until")
    )


async def get_invocation(
    *, session: AsyncSession, recorder: InvocationRecorder, principal: Principal, invocation_id: str
) -> Invocation:
    authorize(principal, Action.FUNCTION_READ)
    await _flush(recorder)
    invocation = await InvocationRepo(session).get(principal.namespace_id, invocation_id)
    _check_invocation_scope(principal, invocation)
    return invocation


def _check_invocation_scope(principal: Principal, invocation: Invocation) -> None:
    """A call of a function outside a limited key's scope is not found, like another
    namespace's."""
    if not in_scope(principal, invocation.function_name):
        raise InvocationNotFound(
            f"no invocation with id {invocation.id!r}", invocation_id=invocation.id
        )


async def get_logs(
    *, session: AsyncSession, recorder: InvocationRecorder, principal: Principal, invocation_id: str
) -> str:
    await get_invocation(
        session=session, recorder=recorder, principal=principal, invocation_id=invocation_id
    )
    return await InvocationRepo(session).logs(principal.namespace_id, invocation_id)


async def _flush(recorder: InvocationRecorder) -> None:
    """Readers write what is buffered first, so that they see their own calls. If the
    database cannot take it (a full disk), the history still answers with what it has; the
    records stay buffered and journaled, and `/readyz` names the problem."""
    try:
        await recorder.run_once()
    except Exception as exc:
        log.debug("reading invocations without the newest records: %s", exc)
