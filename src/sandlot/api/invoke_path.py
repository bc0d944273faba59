"""The invoke path as a lean ASGI route in front of FastAPI.

FastAPI's per-request work (dependency injection, validation, response classes) costs more
than a warm invocation itself, so `POST /api/v1/functions/{name}/invoke` is answered here
with plain ASGI messages. The FastAPI route of the same path stays in the app: it documents
the call in the OpenAPI page and answers with the same code when this layer is not used.
Written by hand because it is a routing shortcut no library offers: one path, one method.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sandlot.api.async_accept import accept_call, wants_async
from sandlot.api.credentials import namespace_problem, scope_credentials
from sandlot.api.errors import FUNCTION_FAILURE_STATUS, error_body, error_headers, status_for
from sandlot.domain.errors import EventTooLarge, PayloadTooLarge, SandlotError
from sandlot.domain.limits import VERSION_NUMBER_MAX
from sandlot.services import invocations as service
from sandlot.services.async_invocations import check_idempotency_key_size
from sandlot.services.runtime import Runtime

log = logging.getLogger(__name__)

INVOKE_PATH = re.compile(r"^/api/v1/functions/([^/]+)/invoke/?$")

Headers = list[tuple[bytes, bytes]]
# Where an invocation's time went; zygote, fork and layers are parts of start.
SERVER_TIMING_PHASES = ("queue", "start", "zygote", "fork", "layers", "init", "handler")


def result_headers(invoked: service.InvokeResult) -> dict[str, str]:
    outcome = invoked.outcome
    t = outcome.timings
    return {
        "X-Sandlot-Invocation-Id": outcome.invocation_id,
        "X-Sandlot-Version": str(invoked.spec.version),
        **({"X-Sandlot-Alias": invoked.alias} if invoked.alias is not None else {}),
        "X-Sandlot-Cold-Start": "true" if outcome.cold_start else "false",
        "X-Sandlot-Duration-Ms": f"{t.total_ms:.3f}",
        "Server-Timing": ", ".join(
            f"{phase};dur={getattr(t, phase + '_ms'):.3f}" for phase in SERVER_TIMING_PHASES
        ),
    }


def invocation_answer(invoked: service.InvokeResult) -> tuple[int, dict[str, str], bytes]:
    """(status, headers, body) for a finished invocation: its result, or its named failure."""
    outcome = invoked.outcome
    headers = result_headers(invoked)
    if outcome.error is None:
        return 200, headers, outcome.result_json or b"null"
    error = outcome.error
    headers["X-Sandlot-Error"] = error.kind
    detail = {**error.as_dict(), "invocation_id": outcome.invocation_id}
    detail.pop("kind", None)
    body = _json_error(error.kind, detail)
    return FUNCTION_FAILURE_STATUS.get(error.kind, 502), headers, body


def parse_version(query_string: bytes) -> int | None:
    for key, value in parse_qsl(query_string.decode("latin-1")):
        if key == "version":
            # ASCII digits only ("²".isdigit() is true) and few of them, so that int() cannot
            # fail and the number fits the database's column.
            digits = value.isascii() and value.isdigit() and len(value) <= 10
            if not digits or not 1 <= int(value) <= VERSION_NUMBER_MAX:
                raise _BadQuery(value)
            return int(value)
    return None


class _BadQuery(Exception):
    pass


class LeanInvokeRoute:
    """ASGI middleware: invoke requests are served here, everything else goes to `app`."""

    def __init__(self, app: ASGIApp, runtime: Runtime) -> None:
        self.app = app
        self.runtime = runtime

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            match = INVOKE_PATH.match(scope["path"])
            if match is not None:
                await self._invoke(match.group(1), scope, receive, send)
                return
        await self.app(scope, receive, send)

    async def _invoke(self, name: str, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            status, headers, body = await self._answer(name, scope, receive)
        except SandlotError as exc:
            status, headers, body = _error(exc)
        except _BadQuery as exc:
            problem = {
                "field": "query.version",
                "message": f"not a version number (1 to {VERSION_NUMBER_MAX}): {exc}",
            }
            detail = {"message": "the request is not valid", "problems": [problem]}
            status, headers, body = (
                422,
                {},
                json.dumps(error_body("ValidationError", detail)).encode(),
            )
        except Exception:
            log.exception("unhandled error on the invoke path")
            detail = {"message": "an unexpected error occurred"}
            status, headers, body = (
                500,
                {},
                json.dumps(error_body("InternalError", detail)).encode(),
            )
        await _send(send, status, headers, body)

    async def _answer(
        self, name: str, scope: Scope, receive: Receive
    ) -> tuple[int, dict[str, str], bytes]:
        request_headers = dict(scope["headers"])
        credentials = scope_credentials(scope)
        authenticator = self.runtime.authenticator
        caller = await authenticator.identify(credentials)
        problem = namespace_problem(credentials)
        if problem is not None:  # as FastAPI's route would answer, after authenticating
            detail = {"message": "the request is not valid", "problems": [problem]}
            return 422, {}, json.dumps(error_body("ValidationError", detail)).encode()
        principal = await authenticator.act_in(caller, credentials.namespace)
        version = parse_version(scope.get("query_string", b""))
        limit = self.runtime.settings.max_event_bytes
        body = await _read_body(receive, request_headers.get(b"content-length"), limit)
        idempotency_key = _header(request_headers, b"idempotency-key")
        check_idempotency_key_size(idempotency_key)
        routing_key = _header(request_headers, b"x-sandlot-routing-key")
        if wants_async(_header(request_headers, b"prefer")):
            return await accept_call(
                runtime=self.runtime,
                principal=principal,
                name=name,
                version=version,
                body=body,
                idempotency_key=idempotency_key,
                routing_key=routing_key,
            )
        invoked = await service.invoke(
            invoker=self.runtime.invoker,
            principal=principal,
            name=name,
            version=version,
            body=body,
            routing_key=routing_key,
        )
        return invocation_answer(invoked)


def _header(headers: dict[bytes, bytes], name: bytes) -> str | None:
    value = headers.get(name)
    return None if value is None else value.decode("latin-1")


def _error(exc: SandlotError) -> tuple[int, dict[str, str], bytes]:
    return status_for(exc), error_headers(exc), _json_error(exc.name, exc.detail())


def _json_error(name: str, detail: dict[str, Any]) -> bytes:
    return json.dumps(error_body(name, detail)).encode()


async def _read_body(receive: Receive, declared: bytes | None, limit: int) -> bytes:
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise EventTooLarge(f"the event is {int(declared)} bytes; at most {limit} are accepted")
    chunks: list[bytes] = []
    size = 0
    while True:
        message: Message = await receive()
        if message["type"] == "http.disconnect":
            raise PayloadTooLarge("the client went away before sending the whole event")
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise EventTooLarge(f"the event is larger than {limit} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks) if len(chunks) != 1 else chunks[0]


async def _send(send: Send, status: int, headers: dict[str, str], body: bytes) -> None:
    raw: Headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]
    raw.extend((key.lower().encode(), value.encode()) for key, value in headers.items())
    start: dict[str, Any] = {"type": "http.response.start", "status": status, "headers": raw}
    await send(start)
    await send({"type": "http.response.body", "body": body})
