"""A worker's internal API (`services.cluster_wire` is its contract): a raw ASGI app.

Plain ASGI, no routing framework: six fixed paths, and the invoke path is on every sync
call's way, so it must cost no more than reading the body, checking its HMAC and one
dictionary lookup before the pool runs it. Every path but the health check is signed by the
cluster (`domain.cluster_auth`); an invocation whose signature was seen before within the
clock skew is a replay and is refused too. Admission (`WorkerNode.admit`) comes before
anything starts.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.types import Receive, Scope, Send

from sandlot.api.credentials import scope_credentials
from sandlot.api.errors import error_body, error_headers, status_for
from sandlot.domain import cluster_auth
from sandlot.domain.errors import SandlotError
from sandlot.services import cluster_wire as wire
from sandlot.services.metrics import Metrics
from sandlot.services.monitor_access import MonitorAccess
from sandlot.services.worker_node import VersionSpec, WorkerNode

log = logging.getLogger(__name__)

METRICS_PATH = "/metrics"
_REFUSAL_STATUS = {
    wire.WORKER_FULL: 429,
    wire.WORKER_BUSY: 429,
    wire.WORKER_DRAINING: 503,
    wire.NOT_PREPARED: 409,
}
_REFUSAL_TEXT = {
    wire.WORKER_FULL: "this worker has no room for the call now",
    wire.WORKER_BUSY: "every CPU of this worker runs a call now; try the next worker",
    wire.WORKER_DRAINING: "this worker is draining: it admits no new call",
    wire.NOT_PREPARED: "the version's code or environment is not on this worker (prepare it)",
}
_BODY_MARGIN = 64 * 1024  # a frame's head (the spec, with its secrets) beside the event

Headers = list[tuple[bytes, bytes]]


class _Answer(Exception):
    """An early answer (a refusal, a bad request)."""

    def __init__(self, status: int, name: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.body = error_body(name, {"message": message, **extra})


class ReplayGuard:
    """The signatures seen within the clock skew: a second use is a replay."""

    def __init__(self, window_s: float = 2 * cluster_auth.MAX_SKEW_S) -> None:
        self.window_s = window_s
        self._seen: set[str] = set()
        # (until, signature), oldest first: the window is fixed, so expiry follows arrival
        # and each call drops what expired in O(1) (a sweep of the whole window once a
        # second took milliseconds at a thousand calls a second, and stalled those calls).
        self._order: deque[tuple[float, str]] = deque()

    def first_use(self, signature: str, now: float | None = None) -> bool:
        current = time.monotonic() if now is None else now
        order = self._order
        while order and order[0][0] <= current:
            self._seen.discard(order.popleft()[1])
        if signature in self._seen:
            return False
        self._seen.add(signature)
        order.append((current + self.window_s, signature))
        return True


class InternalApp:
    def __init__(
        self,
        node: WorkerNode,
        *,
        secret: bytes,
        max_event_bytes: int,
        metrics: Metrics | None = None,
        monitor: MonitorAccess | None = None,
        on_drain: Callable[[], object] | None = None,
    ) -> None:
        self.node = node
        self.secret = secret
        self.max_body = max_event_bytes + _BODY_MARGIN
        self.metrics = metrics
        self.monitor = monitor  # the server's gate of /metrics: token, allow list, admin key
        self.on_drain = on_drain or node.drain
        self.replays = ReplayGuard()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        try:
            status, headers, body = await self._answer(scope, receive)
        except _Answer as answer:
            status, headers, body = answer.status, [], orjson.dumps(answer.body)
            headers.append((b"content-type", b"application/json"))
        except SandlotError as error:
            status, headers, body = _error(error)
        except Exception:
            log.exception("the internal API failed on %s", scope.get("path"))
            status, headers = 500, [(b"content-type", b"application/json")]
            body = orjson.dumps(
                error_body("InternalError", {"message": "an unexpected error occurred"})
            )
        headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _answer(self, scope: Scope, receive: Receive) -> tuple[int, Headers, bytes]:
        method, path = scope["method"], scope["path"]
        if method == "GET" and path == wire.HEALTH_PATH:
            status = "draining" if self.node.draining else "ok"
            return _json(200, {"status": status, "worker": self.node.worker_id})
        if method == "GET" and path == METRICS_PATH and self.metrics is not None:
            return await self._metrics(scope)
        body = await _read_body(receive, self.max_body)
        self._check_signature(scope, method, path, body)
        if method == "POST" and path == wire.INVOKE_PATH:
            return await self._invoke(body)
        if method == "POST" and path == wire.PREPARE_PATH:
            return await self._prepare(body)
        if method == "POST" and path == wire.CONTROL_PATH:
            return _json(200, {"result": await self.node.control(_object(body))})
        if method == "GET" and path == wire.STATS_PATH:
            return _json(200, _stats(self.node))
        if method == "POST" and path == wire.DRAIN_PATH:
            started = not self.node.draining
            self.on_drain()
            return _json(202, {"worker": self.node.worker_id, "draining": True, "started": started})
        raise _Answer(404, "NotFound", f"no internal path {method} {path}")

    def _check_signature(self, scope: Scope, method: str, path: str, body: bytes) -> None:
        headers = dict(scope["headers"])
        timestamp = _header(headers, cluster_auth.TIME_HEADER)
        signature = _header(headers, cluster_auth.SIGNATURE_HEADER)
        reason = cluster_auth.verify(self.secret, method, path, body, timestamp, signature)
        # Only an invocation is refused as a replay: it would run the function again. The
        # other requests are idempotent, and two equal ones within a second (a retain sent
        # twice, a stats poll) carry the same signature without being a replay.
        replayable = path == wire.INVOKE_PATH and signature is not None
        if reason is None and replayable and not self.replays.first_use(signature or ""):
            reason = "the request's cluster signature was used before (a replay)"
        if reason is not None:
            raise _Answer(401, wire.SIGNATURE_INVALID, reason)

    async def _metrics(self, scope: Scope) -> tuple[int, Headers, bytes]:
        if self.monitor is not None:
            await self.monitor.check(scope_credentials(scope))
        assert self.metrics is not None
        text = generate_latest(self.metrics.registry)
        return 200, [(b"content-type", CONTENT_TYPE_LATEST.encode())], text

    async def _invoke(self, body: bytes) -> tuple[int, Headers, bytes]:
        try:
            head, event = wire.unframe(body)
            spec = self.node.spec_of(_spec_data(head["spec"]))
            invocation_id = str(head["invocation_id"])
            call = wire.call_from_wire(head.get("call") or {})
            others_left = bool(head.get("others_left", False))
        except (ValueError, KeyError, TypeError) as exc:
            raise _Answer(400, "InvalidInput", f"not an invoke frame: {exc}") from None
        refusal = self.node.admit(spec, others_left=others_left)
        if refusal is not None:
            raise _Answer(_REFUSAL_STATUS[refusal], refusal, _REFUSAL_TEXT[refusal])
        outcome = await self.node.invoke(spec, invocation_id, event, call)
        return 200, [(b"content-type", b"application/octet-stream")], wire.outcome_to_wire(outcome)

    async def _prepare(self, body: bytes) -> tuple[int, Headers, bytes]:
        data = _object(body)
        try:
            spec = _spec(data["spec"])
        except (ValueError, KeyError, TypeError) as exc:
            raise _Answer(400, "InvalidInput", f"not a prepare request: {exc}") from None
        if self.node.draining:
            raise _Answer(503, wire.WORKER_DRAINING, _REFUSAL_TEXT[wire.WORKER_DRAINING])
        prepared = await self.node.prepare(spec)
        return _json(200, wire.prepared_to_wire(prepared))


def _spec(data: Any) -> VersionSpec:
    return wire.spec_from_wire(_spec_data(data), code_dir=Path(), site_packages=())


def _spec_data(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise TypeError("the spec is not an object")
    return data


def _object(body: bytes) -> dict[str, Any]:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise _Answer(400, "InvalidInput", f"the body is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise _Answer(400, "InvalidInput", "the body is not a JSON object")
    return data


def _stats(node: WorkerNode) -> dict[str, Any]:
    stats = node.pool.stats()
    return {
        "instances": stats.instances,
        "busy": stats.busy,
        "memory_mb": stats.memory_mb,
        "charged_mb": stats.charged_mb,
        "max_memory_mb": stats.max_memory_mb,
        "charged_instances": stats.charged_instances,
        "max_instances": stats.max_instances,
        "zygotes": stats.zygotes,
        "spares": stats.spares,
        "per_function": dict(stats.per_function),
        "versions": [
            {
                "function_id": v.function_id,
                "namespace": v.namespace,
                "function_name": v.function_name,
                "version": v.version,
                "instances": v.instances,
                "busy": v.busy,
                "memory_mb": v.memory_mb,
                "zygote": v.zygote,
                "spares": v.spares,
            }
            for v in stats.versions
        ],
        "draining": node.draining,
        "ready": sorted([f, n] for f, n in node.ready),
    }


def _header(headers: dict[bytes, bytes], name: str) -> str | None:
    value = headers.get(name.encode())
    return None if value is None else value.decode("latin-1")


async def _read_body(receive: Receive, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _Answer(400, "InvalidInput", "the client went away mid-body")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _Answer(413, "PayloadTooLarge", f"the body is over {limit} bytes", limit=limit)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _json(status: int, data: Any) -> tuple[int, Headers, bytes]:
    return status, [(b"content-type", b"application/json")], orjson.dumps(data)


def _error(error: SandlotError) -> tuple[int, Headers, bytes]:
    headers: Headers = [(b"content-type", b"application/json")]
    for name, value in error_headers(error).items():
        headers.append((name.lower().encode(), value.encode()))
    return status_for(error), headers, orjson.dumps(error_body(error.name, error.detail()))


async def _lifespan(receive: Receive, send: Send) -> None:
    """The node starts and stops what it runs itself; Uvicorn's lifespan has nothing to do."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
