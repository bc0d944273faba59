"""Uvicorn's HTTP protocol with the deadlines and the connection cap a public server needs.

Uvicorn times out idle kept-alive connections, and nothing else: a client may take as long
as it likes to send its headers (or never send a byte), or trickle its body one byte at a
time, and each such connection holds a socket and a request task for good (slowloris).
Its `limit_concurrency` answers in plain text rather than the one error shape. This
subclass of its httptools protocol adds, per connection:

- a header deadline: the request line and headers must be in within `header_timeout_s` of
  the connection's start (or of the first byte of the next request on a kept-alive
  connection), else 408 `RequestTimedOut` and close (a connection that sent nothing at all is
  closed without an answer);
- a body deadline: the next part of a body must come within `body_timeout_s`, and once that
  long has passed the body must average `body_min_rate` bytes per second, else 408 and close;
  time in which the server itself stopped reading (flow control: the app is not reading yet)
  never counts against the client;
- a cap: connections past `max_connections` are answered 503 `TooManyConnections` with
  `Retry-After` once their headers are in (within the same header deadline), and closed.

Written by hand because Uvicorn has no such options and no library adds them to it; it
overrides the parser callbacks only, calling Uvicorn's own for the work.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any, ClassVar

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from sandlot.api.errors import error_body, error_headers, status_for
from sandlot.domain.errors import RequestTimedOut, SandlotError, TooManyConnections
from sandlot.services.metrics import HttpStats


@dataclass(frozen=True)
class ConnectionLimits:
    header_timeout_s: float
    body_timeout_s: float
    body_min_rate: int
    max_connections: int


class _Phase(Enum):
    AWAITING = "awaiting"  # a new connection, nothing received yet
    HEADERS = "headers"
    BODY = "body"
    IDLE = "idle"  # between requests: Uvicorn's keep-alive timeout applies


def guarded_protocol(limits: ConnectionLimits, stats: HttpStats) -> type[HttpToolsProtocol]:
    """The protocol class to hand Uvicorn (`http=`), bound to these limits and counters."""
    return type("SandlotHttpProtocol", (GuardedHttpProtocol,), {"limits": limits, "stats": stats})


class GuardedHttpProtocol(HttpToolsProtocol):
    limits: ClassVar[ConnectionLimits]
    stats: ClassVar[HttpStats]

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.stats.open_connections += 1
        self._phase = _Phase.AWAITING
        self._timer: asyncio.TimerHandle | None = None
        self._body_bytes = 0
        self._body_started = self._last_data = 0.0  # set when a body's deadline is armed
        self._refused = len(self.connections) > self.limits.max_connections
        self._arm(self.limits.header_timeout_s, self._headers_late)

    def connection_lost(self, exc: Exception | None) -> None:
        self.stats.open_connections -= 1
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._phase is _Phase.BODY:
            self._body_bytes += len(data)
            self._last_data = self.loop.time()
        super().data_received(data)
        # A request still incomplete once these bytes are parsed gets its deadline now, so
        # that a request that arrives whole never pays for a timer.
        if self._timer is None and not self.transport.is_closing():
            if self._phase is _Phase.HEADERS:
                self._arm(self.limits.header_timeout_s, self._headers_late)
            elif self._phase is _Phase.BODY:
                self._body_bytes = 0
                self._body_started = self._last_data = self.loop.time()
                self._arm(self.limits.body_timeout_s, self._body_late)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._phase = _Phase.HEADERS

    def on_headers_complete(self) -> None:
        if self._timer is not None:
            self._disarm()
        self._phase = _Phase.BODY
        if self._refused:
            self.app = _refuse_connection
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        if self._timer is not None:
            self._disarm()
        self._phase = _Phase.IDLE
        super().on_message_complete()

    # Deadlines.

    def _arm(self, delay: float, callback: Callable[[], None]) -> None:
        self._timer = self.loop.call_later(delay, callback)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _headers_late(self) -> None:
        self._timer = None
        if self.transport.is_closing():
            return
        self.stats.header_timeouts += 1
        if self._phase is _Phase.AWAITING:
            self.transport.close()  # never sent a byte: there is no request to answer
            return
        limit = self.limits.header_timeout_s
        self._cut_off(RequestTimedOut(f"the request's headers did not arrive within {limit} s"))

    def _body_late(self) -> None:
        self._timer = None
        if self.transport.is_closing() or self._phase is not _Phase.BODY:
            return
        now = self.loop.time()
        if self.flow.read_paused:
            # The app has not read what came so far; the client is not the slow one.
            self._body_started = self._last_data = now
            self._body_bytes = 0
            self._arm(self.limits.body_timeout_s, self._body_late)
            return
        deadline = self._body_deadline()
        if now < deadline:
            self._arm(deadline - now, self._body_late)
            return
        self.stats.body_timeouts += 1
        self._cut_off(RequestTimedOut("the request body came too slowly", **self._body_terms()))

    def _body_deadline(self) -> float:
        limits = self.limits
        deadline = self._last_data + limits.body_timeout_s
        if limits.body_min_rate:
            earned = self._body_bytes / limits.body_min_rate
            deadline = min(deadline, self._body_started + limits.body_timeout_s + earned)
        return deadline

    def _body_terms(self) -> dict[str, float]:
        limits = self.limits
        return {"idle_timeout_s": limits.body_timeout_s, "min_bytes_per_s": limits.body_min_rate}

    def _cut_off(self, error: SandlotError) -> None:
        """Answer `error` unless an answer has begun, then close; the request's task sees a
        disconnect, and whatever it sends later is dropped."""
        cycle = self.cycle if self._phase is _Phase.BODY else None  # else: the last request's
        if cycle is None or not cycle.response_started:
            self.transport.write(_raw_answer(error, self.server_state.default_headers))
        if cycle is not None:
            cycle.disconnected = True
            cycle.message_event.set()
        self.transport.close()


def _answer_parts(error: SandlotError) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    body = json.dumps(error_body(error.name, error.detail())).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
        *((name.lower().encode(), value.encode()) for name, value in error_headers(error).items()),
    ]
    return status_for(error), headers, body


def _raw_answer(error: SandlotError, default_headers: list[tuple[bytes, bytes]]) -> bytes:
    status, headers, body = _answer_parts(error)
    lines = [f"HTTP/1.1 {status} {_REASONS.get(status, '')}".encode()]
    lines += [name + b": " + value for name, value in [*default_headers, *headers]]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


_REASONS = {408: "Request Timeout", 503: "Service Unavailable"}


async def _refuse_connection(scope: Any, receive: Any, send: Any) -> None:
    """The ASGI app that answers every request of a connection past the cap."""
    error = TooManyConnections(
        "the server has as many connections open as it allows; try again shortly",
        retry_after_s=1,
    )
    status, headers, body = _answer_parts(error)
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
