"""Function URLs, `/fn/{namespace}/{function}[:{alias}]/{any path}` with any method, as a
lean ASGI route in front of FastAPI, for the reason api/invoke_path.py gives: FastAPI's per-request
work would cost more than the event translation itself. The request becomes an AWS HTTP API
payload 2.0 event and the handler's answer the HTTP response (domain/http_events.py); the
call is a sync invocation with trigger `url`, counted, logged and held to quotas like any.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import re
import time

from starlette.types import ASGIApp, Receive, Scope, Send

from sandlot.api.credentials import scope_credentials
from sandlot.api.errors import error_body, error_headers, status_for
from sandlot.api.invoke_path import _read_body, invocation_answer
from sandlot.domain.errors import FunctionNotFound, SandlotError
from sandlot.domain.http_events import (
    HttpAnswer,
    HttpRequest,
    UrlTarget,
    event_bytes,
    http_answer,
    http_event,
    is_preflight,
    preflight_headers,
    response_cors_headers,
)
from sandlot.services import function_urls as urls
from sandlot.services import invocations as service
from sandlot.services.runtime import Runtime
from sandlot.services.session_tokens import CSRF_HEADER, SESSION_COOKIE

log = logging.getLogger(__name__)

# `{function}` may be qualified, `hello:prod`: the URL of that alias.
URL_PATH = re.compile(r"^/fn/([^/]+)/([^/]+)(/.*)?$")
_CSRF = CSRF_HEADER.lower()
Pairs = list[tuple[str, str]]


class LeanUrlRoute:
    """ASGI middleware: `/fn/...` is served here, everything else goes to `app`."""

    def __init__(self, app: ASGIApp, runtime: Runtime) -> None:
        self.app = app
        self.runtime = runtime

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/fn/"):
            match = URL_PATH.match(scope["path"])
            if match is not None:
                await self._serve(match.group(1), match.group(2), scope, receive, send)
                return
        await self.app(scope, receive, send)

    async def _serve(
        self, namespace: str, function: str, scope: Scope, receive: Receive, send: Send
    ) -> None:
        pairs = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
        headers = dict(pairs)
        target: UrlTarget | None = None
        try:
            target = await self.runtime.function_urls.find(
                self.runtime.database, namespace, function
            )
            answer = await self._answer(target, scope, receive, pairs, headers)
        except SandlotError as exc:
            answer = _error(exc)
        except Exception:
            log.exception("unhandled error on a function URL")
            detail = {"message": "an unexpected error occurred"}
            answer = HttpAnswer(500, [], json.dumps(error_body("InternalError", detail)).encode())
        if target is not None and not _is_preflight_answer(answer):
            answer = _with_cors(answer, target, headers.get("origin"))
        await _send(send, answer)

    async def _answer(
        self,
        target: UrlTarget,
        scope: Scope,
        receive: Receive,
        pairs: Pairs,
        headers: dict[str, str],
    ) -> HttpAnswer:
        method = scope["method"]
        cors = target.config.cors
        if is_preflight(cors, method, headers):
            # Browsers send a preflight without credentials: answered from the settings alone.
            return HttpAnswer(204, [*preflight_headers(cors, headers), _PREFLIGHT], b"")
        runtime = self.runtime
        credentials = scope_credentials(scope)
        principal = await urls.url_caller(
            target=target, authenticator=runtime.authenticator, credentials=credentials
        )
        confirmed = await urls.confirmed(
            directory=runtime.function_urls,
            database=runtime.database,
            catalog=runtime.catalog,
            principal=principal,
            target=target,
        )
        if confirmed is not target:  # its settings may differ: the caller is judged again
            target = confirmed
            principal = await urls.url_caller(
                target=target, authenticator=runtime.authenticator, credentials=credentials
            )
        limit = runtime.settings.max_event_bytes
        body = await _read_body(receive, headers.get("content-length", "").encode(), limit)
        event = http_event(_request(target, scope, _forwarded(pairs, target), body))
        try:
            invoked = await service.invoke(
                invoker=runtime.invoker,
                principal=principal,
                name=target.called,
                version=None,
                body=event_bytes(event),
                trigger="url",
                built_event=True,
            )
        except FunctionNotFound as exc:
            raise urls.hidden(exc, target) from None
        invocation_id = invoked.outcome.invocation_id
        if invoked.outcome.error is not None:
            status, extra, failure = invocation_answer(invoked)
            return HttpAnswer(status, [_JSON, *_lower(extra)], failure)
        try:
            answer = http_answer(invoked.outcome.result_json)
        except SandlotError as exc:
            failed = _error(exc, invocation_id=invocation_id)
            return HttpAnswer(failed.status, [*failed.headers, _id(invocation_id)], failed.body)
        served = [_id(invocation_id), *_served(invoked, target)]
        return HttpAnswer(answer.status, [*answer.headers, *served], answer.body)


_JSON = ("content-type", "application/json")
_PREFLIGHT = ("x-sandlot-preflight", "true")


def _id(invocation_id: str) -> tuple[str, str]:
    return ("x-sandlot-invocation-id", invocation_id)


def _served(invoked: service.InvokeResult, target: UrlTarget) -> Pairs:
    """Which alias and version answered: a split's caller can tell (as on the invoke API)."""
    return [("x-sandlot-alias", target.alias), ("x-sandlot-version", str(invoked.spec.version))]


def _lower(headers: dict[str, str]) -> Pairs:
    return [(name.lower(), value) for name, value in headers.items()]


def _is_preflight_answer(answer: HttpAnswer) -> bool:
    return _PREFLIGHT in answer.headers


def _forwarded(pairs: Pairs, target: UrlTarget) -> Pairs:
    """The request's headers as the function sees them: never the console's session cookie
    or CSRF token (a browser sends them to this origin with any request), nor the API key
    that a `key` URL consumed."""
    kept: Pairs = []
    for name, value in pairs:
        if name == _CSRF or (name == "authorization" and target.config.auth == "key"):
            continue
        if name == "cookie":
            value = "; ".join(
                part
                for part in (item.strip() for item in value.split(";"))
                if part and part.split("=", 1)[0] != SESSION_COOKIE
            )
            if not value:
                continue
        kept.append((name, value))
    return kept


def _request(target: UrlTarget, scope: Scope, pairs: Pairs, body: bytes) -> HttpRequest:
    client = scope.get("client")
    return HttpRequest(
        method=scope["method"],
        raw_path=_raw_path(scope),
        raw_query=scope.get("query_string", b"").decode("latin-1"),
        headers=pairs,
        body=body,
        source_ip=client[0] if client else "",
        protocol=f"HTTP/{scope.get('http_version', '1.1')}",
        request_id=_request_id(),
        account_id=target.namespace_id,
        api_id=target.function_id,
        received_at=time.time(),
    )


# Request ids: a random prefix per process and a counter, unique without a uuid4 (whose
# urandom call costs more than the rest of the request's id work) per call.
_ID_PREFIX = os.urandom(6).hex()
_ID_COUNTER = itertools.count(1)


def _request_id() -> str:
    return f"{_ID_PREFIX}-{next(_ID_COUNTER):012x}"


def _raw_path(scope: Scope) -> str:
    """The path below `/fn/{namespace}/{function}`, percent-encoded as it was sent."""
    raw = scope.get("raw_path")
    text = raw.decode("latin-1") if raw else scope["path"]
    match = URL_PATH.match(text)
    if match is None:  # a namespace or function name sent percent-encoded
        match = URL_PATH.match(scope["path"])
        assert match is not None
    return match.group(3) or "/"


def _error(exc: SandlotError, **extra: str) -> HttpAnswer:
    body = json.dumps(error_body(exc.name, {**exc.detail(), **extra})).encode()
    return HttpAnswer(status_for(exc), [_JSON, *_lower(error_headers(exc))], body)


def _with_cors(answer: HttpAnswer, target: UrlTarget, origin: str | None) -> HttpAnswer:
    added = response_cors_headers(target.config.cors, origin)
    if not added:
        return answer
    # The URL's settings decide CORS, not the function's own headers of those names.
    names = {name for name, _ in added}
    kept = [(name, value) for name, value in answer.headers if name not in names]
    return HttpAnswer(answer.status, [*kept, *added], answer.body)


# Framing is the server's to say, and the preflight marker is only for _serve.
_NOT_SENT = frozenset({"content-length", "transfer-encoding", "connection", _PREFLIGHT[0]})


async def _send(send: Send, answer: HttpAnswer) -> None:
    raw = [
        (name.encode("latin-1"), value.encode("latin-1", "replace"))
        for name, value in answer.headers
        if name not in _NOT_SENT
    ]
    raw.append((b"content-length", str(len(answer.body)).encode()))
    await send({"type": "http.response.start", "status": answer.status, "headers": raw})
    await send({"type": "http.response.body", "body": answer.body})
