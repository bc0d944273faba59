"""Invoking functions and reading invocation history."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.responses import PlainTextResponse

from sandlot.api.async_accept import accept_call, wants_async
from sandlot.api.deps import PrincipalDep, RuntimeDep, SessionDep, VersionQuery
from sandlot.api.invoke_path import invocation_answer
from sandlot.api.schemas import ErrorOut, InvocationList, InvocationOut
from sandlot.api.uploads import read_body
from sandlot.domain.aliases import ALIAS_NAME
from sandlot.domain.ids import INVOCATION_ID_PATTERN, OPTIONAL_INVOCATION_ID_PATTERN
from sandlot.domain.limits import FUNCTION_NAME_RE, VERSION_NUMBER_MAX
from sandlot.domain.models import InvocationFilters
from sandlot.domain.states import InvocationState
from sandlot.services import async_control
from sandlot.services import invocations as service
from sandlot.services.async_invocations import check_idempotency_key_size

router = APIRouter(tags=["invocations"])

_FAILURES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut, "description": "InvalidEvent: the body is not JSON"},
    401: {"model": ErrorOut, "description": "Missing or wrong API key"},
    403: {"model": ErrorOut, "description": "PermissionDenied: the caller's role may not invoke"},
    404: {
        "model": ErrorOut,
        "description": "FunctionNotFound (also another namespace's, or one outside a limited "
        "key's functions) or VersionNotFound",
    },
    409: {
        "model": ErrorOut,
        "description": "VersionNotReady: the version is still building or failed",
    },
    413: {"model": ErrorOut, "description": "EventTooLarge"},
    429: {
        "model": ErrorOut,
        "description": "TooManyRequests: at the concurrency limit; or QuotaExceeded: the "
        "namespace's rate_per_minute, concurrency or memory_mb quota; see Retry-After",
    },
    502: {
        "model": ErrorOut,
        "description": "FunctionError (the handler raised: exception_type, message, traceback), "
        "FunctionCrashed (the process died), FunctionResourceLimit (processes, file size), "
        "FunctionResultInvalid (not JSON or too large)",
    },
    503: {
        "model": ErrorOut,
        "description": "ServiceUnavailable: shutting down (a call still running past the "
        "shutdown grace period is stopped, answered this way and recorded cancelled) or no "
        "sandbox",
    },
    504: {"model": ErrorOut, "description": "FunctionTimedOut: the instance was killed"},
    507: {
        "model": ErrorOut,
        "description": "FunctionOutOfMemory: over memory_mb; or InsufficientStorage: the data "
        "dir is full and the call's record cannot be kept (refused before it runs)",
    },
}


@router.post(
    "/functions/{name}/invoke",
    description="`name` is the function's name, or `name:alias` to call through an alias "
    "(`name:latest` is `name`); responses say `X-Sandlot-Version` and `X-Sandlot-Alias`.",
    responses={
        200: {"content": {"application/json": {}}, "description": "The handler's return value"},
        202: {
            "model": InvocationOut,
            "description": "With `Prefer: respond-async`: the call is queued (committed) and "
            "will run in the background; `Location` is its invocation, which says its state "
            "and, once it ends, its result or error",
        },
        **_FAILURES,
    },
    openapi_extra={
        "requestBody": {
            "content": {"application/json": {"schema": {}}},
            "description": "The event: any JSON value; an empty body is null",
        }
    },
    summary="Invoke a function; the response body is its return value",
)
async def invoke(
    name: str,
    request: Request,
    runtime: RuntimeDep,
    principal: PrincipalDep,
    version: VersionQuery = None,
    prefer: Annotated[
        str | None,
        Header(
            description="`respond-async`: queue the call and answer 202 at once (retried by "
            "the function's policy; its end is read from `GET /invocations/{id}`)"
        ),
    ] = None,
    idempotency_key: Annotated[
        str | None,
        Header(
            min_length=1,
            max_length=256,
            description="With `Prefer: respond-async`: a repeat with the same key within 24 "
            "hours answers with the first call instead of queueing another (InvalidIdempotencyKey "
            "past 256 bytes)",
        ),
    ] = None,
    x_sandlot_routing_key: Annotated[
        str | None,
        Header(
            min_length=1,
            max_length=256,
            description="With `name:alias` and an alias that splits traffic: the same key "
            "always reaches the same version while the weights stay (InvalidRoutingKey past "
            "256 bytes)",
        ),
    ] = None,
) -> Response:
    """Documents the call; requests are normally answered by `invoke_path.LeanInvokeRoute`
    with the same service and the same answer."""
    body = await read_body(request, runtime.settings.max_event_bytes, "event")
    check_idempotency_key_size(idempotency_key)
    if wants_async(prefer):
        status, headers, content = await accept_call(
            runtime=runtime,
            principal=principal,
            name=name,
            version=version,
            body=body,
            idempotency_key=idempotency_key,
            routing_key=x_sandlot_routing_key,
        )
        return Response(content, status_code=status, media_type="application/json", headers=headers)
    invoked = await service.invoke(
        invoker=runtime.invoker,
        principal=principal,
        name=name,
        version=version,
        body=body,
        routing_key=x_sandlot_routing_key,
    )
    status, headers, content = invocation_answer(invoked)
    return Response(content, status_code=status, media_type="application/json", headers=headers)


@router.get(
    "/invocations",
    response_model=InvocationList,
    responses={
        400: {
            "model": ErrorOut,
            "description": "InvalidInput: both `cursor` and `after`, or a `since`/`until` "
            "without a time zone or out of range",
        },
        401: {"model": ErrorOut},
        422: {"model": ErrorOut},
    },
    summary="Invocations, newest first; with `after`, oldest first (to follow new ones)",
    description="Every filter combines with the others and with `cursor` or `after`: a "
    "page's next_cursor continues the same filtered listing.",
)
async def list_invocations(
    runtime: RuntimeDep,
    session: SessionDep,
    principal: PrincipalDep,
    function: Annotated[
        str | None,
        Query(
            pattern=FUNCTION_NAME_RE.pattern,
            description="A function name: the invocations of the function that has it now "
            "(the live one, else the one deleted last), never of several mixed",
        ),
    ] = None,
    state: InvocationState | None = None,
    limit: Annotated[int, Query(ge=1, le=service.MAX_PAGE)] = 50,
    cursor: Annotated[
        str | None,
        Query(pattern=INVOCATION_ID_PATTERN, description="next_cursor of the previous page"),
    ] = None,
    function_id: str | None = Query(
        default=None, description="One function exactly, live or deleted (its `id`)"
    ),
    include_deleted: bool = Query(
        default=False,
        description="With `function`: every function that had the name, deleted ones too; "
        "each item's `function_id` tells them apart",
    ),
    after: Annotated[
        str | None,
        Query(
            pattern=OPTIONAL_INVOCATION_ID_PATTERN,
            description="Only invocations with a larger id, oldest first (empty: from the "
            "first); the page's next_cursor is the next page's `after`. A call still running "
            "is listed as `running`, and every call with a smaller id is already listed when a "
            "larger one is (a follower that keeps the last id it saw misses none). Not with "
            "`cursor`.",
        ),
    ] = None,
    version: Annotated[
        int | None,
        Query(ge=1, le=VERSION_NUMBER_MAX, description="Only calls that ran this version"),
    ] = None,
    cold_start: Annotated[
        bool | None,
        Query(description="true: only cold starts; false: only calls served warm"),
    ] = None,
    since: Annotated[
        datetime | None,
        Query(description="Only calls accepted at or after this time (ISO 8601, with a zone)"),
    ] = None,
    until: Annotated[
        datetime | None,
        Query(description="Only calls accepted before this time (ISO 8601, with a zone)"),
    ] = None,
    alias: Annotated[
        str | None,
        Query(
            pattern=ALIAS_NAME.pattern,
            description="Only calls served through this alias (`latest`: those that named none)",
        ),
    ] = None,
) -> InvocationList:
    page = await service.list_invocations(
        session=session,
        recorder=runtime.recorder,
        principal=principal,
        function=function,
        state=state,
        limit=limit,
        cursor=cursor,
        function_id=function_id,
        include_deleted=include_deleted,
        after=after,
        filters=InvocationFilters(
            version=version, cold_start=cold_start, since=since, until=until, alias=alias
        ),
    )
    return InvocationList(
        items=[InvocationOut.of(item) for item in page.items], next_cursor=page.next_cursor
    )


@router.get(
    "/invocations/{invocation_id}",
    response_model=InvocationOut,
    responses={401: {"model": ErrorOut}, 404: {"model": ErrorOut}},
    summary="One invocation: state, timings, result or error, a log excerpt",
    description="With `wait`, the answer waits (long-polls) until the call is in a final "
    "state or `wait` seconds passed, and is the invocation either way: read `state`. An "
    "unknown id is a 404 at once.",
)
async def get_invocation(
    invocation_id: str,
    runtime: RuntimeDep,
    principal: PrincipalDep,
    wait: Annotated[
        float,
        Query(
            ge=0,
            le=300,
            description="Seconds to wait for the call to end (0: answer at once); at most "
            "SANDLOT_INVOCATION_WAIT_MAX_S (default 30), a longer wait is shortened to it",
        ),
    ] = 0,
) -> InvocationOut:
    # No request-long session: the wait reads with a fresh one each time, holding no
    # connection while it sleeps.
    invocation = await async_control.wait_for_end(
        scope=async_control.WaitScope(
            sessions=runtime.database.sessions, recorder=runtime.recorder
        ),
        principal=principal,
        invocation_id=invocation_id,
        wait_s=min(wait, runtime.settings.invocation_wait_max_s),
    )
    return InvocationOut.of(invocation)


@router.get(
    "/invocations/{invocation_id}/logs",
    response_class=PlainTextResponse,
    responses={401: {"model": ErrorOut}, 404: {"model": ErrorOut}},
    summary="The whole captured stdout and stderr (capped at 1 MiB, with a marker)",
)
async def get_logs(
    invocation_id: str, runtime: RuntimeDep, session: SessionDep, principal: PrincipalDep
) -> PlainTextResponse:
    text = await service.get_logs(
        session=session, recorder=runtime.recorder, principal=principal, invocation_id=invocation_id
    )
    return PlainTextResponse(text)
