"""A function's saved test events, shared by its namespace."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response

from sandlot.api.deps import PrincipalDep, RuntimeDep, SessionDep
from sandlot.api.schemas import ErrorOut
from sandlot.api.test_event_schemas import TestEventList, TestEventOut, TestEventPut
from sandlot.api.uploads import read_body
from sandlot.domain.errors import InvalidEvent
from sandlot.domain.json_values import json_problem
from sandlot.domain.test_events import MAX_TEST_EVENTS_PER_FUNCTION, TEST_EVENT_NAME_MAX
from sandlot.services import test_events as service

# Checked by the domain, so a bad name is the named 400 InvalidTestEventName, not a 422.
EventName = Annotated[
    str,
    Path(
        description=f"1-{TEST_EVENT_NAME_MAX} printable characters, unique per function",
        json_schema_extra={"maxLength": TEST_EVENT_NAME_MAX, "minLength": 1},
    ),
]

router = APIRouter(prefix="/functions", tags=["test events"])

ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorOut, "description": description}
    for status, description in {
        401: "Missing or wrong credentials",
        403: "The caller's role may not do this",
        404: "No such function (or test event) in the caller's namespace",
        422: "The request does not match the schema",
    }.items()
}

_PUT_ERRORS: dict[int | str, dict[str, Any]] = {
    **ERRORS,
    400: {
        "model": ErrorOut,
        "description": "InvalidTestEventName, or InvalidEvent (not I-JSON, or no `event` key)",
    },
    409: {
        "model": ErrorOut,
        "description": f"TestEventLimitReached: the function already keeps "
        f"{MAX_TEST_EVENTS_PER_FUNCTION}; or a concurrent save of the same name",
    },
    413: {
        "model": ErrorOut,
        "description": "EventTooLarge (over SANDLOT_MAX_EVENT_BYTES), PayloadTooLarge",
    },
}


@router.get(
    "/{name}/test-events",
    response_model=TestEventList,
    responses=ERRORS,
    summary="A function's saved test events",
)
async def list_test_events(
    name: str, session: SessionDep, principal: PrincipalDep
) -> TestEventList:
    saved = await service.list_test_events(session=session, principal=principal, name=name)
    return TestEventList(items=[TestEventOut.of(item) for item in saved])


@router.put(
    "/{name}/test-events/{event_name}",
    response_model=TestEventOut,
    responses={**_PUT_ERRORS, 201: {"model": TestEventOut, "description": "Created"}},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": TestEventPut.model_json_schema()}},
        }
    },
    summary="Save a test event: create it (201) or replace it (200)",
    description="The event follows the rules of an invoke's event (I-JSON, "
    "SANDLOT_MAX_EVENT_BYTES). The audit log names it but never holds its body.",
)
async def save_test_event(
    name: str,
    event_name: EventName,
    request: Request,
    response: Response,
    runtime: RuntimeDep,
    session: SessionDep,
    principal: PrincipalDep,
) -> TestEventOut:
    limit = runtime.settings.max_event_bytes
    # The wrapper adds a few bytes, and JSON text may be re-spaced: room for both.
    event = _event_of(await read_body(request, limit * 2 + 1024, "test event's body"))
    saved, created = await service.save_test_event(
        session=session,
        principal=principal,
        name=name,
        event_name=event_name,
        event=event,
        max_event_bytes=limit,
    )
    await session.commit()
    if created:
        response.status_code = 201
    return TestEventOut.of(saved)


def _event_of(body: bytes) -> bytes:
    """The `event` of `{"event": ...}` as compact JSON text, checked as I-JSON first so a
    value that would not survive an invoke is refused here, by name."""
    problem = json_problem(body)
    if problem is not None:
        raise InvalidEvent(f"the request body is not valid JSON: {problem}")
    wrapper = json.loads(body)
    if not isinstance(wrapper, dict) or "event" not in wrapper:
        raise InvalidEvent('the body is {"event": <any JSON>}')
    return json.dumps(wrapper["event"], ensure_ascii=False, separators=(",", ":")).encode()


@router.delete(
    "/{name}/test-events/{event_name}",
    status_code=204,
    responses=ERRORS,
    summary="Delete a saved test event",
)
async def delete_test_event(
    name: str, event_name: EventName, session: SessionDep, principal: PrincipalDep
) -> Response:
    await service.delete_test_event(
        session=session, principal=principal, name=name, event_name=event_name
    )
    await session.commit()
    return Response(status_code=204)
