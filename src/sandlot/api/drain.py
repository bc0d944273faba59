"""Reading the rest of a request body that nobody will use, so that the client reads its answer.

A client that writes its whole request before it reads anything (urllib, http.client, curl
without `Expect`) is still blocked in `send()` when an early answer is ready: a 413 decided
from Content-Length, a 401 decided from the headers. If the server then closes the
connection with those bytes unread, the kernel answers them with a reset, and the client
sees ECONNRESET instead of the answer. So before an answer goes out on a request whose body
was not read to its end, the rest is read and dropped, up to a bound in bytes and in time;
past the bound the answer says `Connection: close`, because reading a gigabyte to be polite
is worse than the reset. A client that sent `Expect: 100-continue` and was never told to
continue has not sent its body at all; its answer closes the connection instead.

Written by hand: Uvicorn closes such connections as they are, and no ASGI library drains.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

_CLOSE = (b"connection", b"close")


@dataclass(frozen=True)
class DrainLimits:
    max_bytes: int
    timeout_s: float


class DrainUnreadBody:
    """ASGI middleware: drain an unread request body before its answer starts."""

    def __init__(self, app: ASGIApp, limits: DrainLimits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body = _DeclaredBody.of(scope)
        if body is None:  # no body: nothing can be left unread
            await self.app(scope, receive, send)
            return
        reader = _BodyReader(receive, body, self.limits)

        async def send_after_drain(message: Message) -> None:
            if message["type"] == "http.response.start" and not await reader.drained():
                message = {**message, "headers": [*message.get("headers", []), _CLOSE]}
            await send(message)

        await self.app(scope, reader.receive, send_after_drain)


@dataclass
class _DeclaredBody:
    length: int | None  # None: chunked, length unknown
    expects_continue: bool

    @classmethod
    def of(cls, scope: Scope) -> _DeclaredBody | None:
        length: int | None = 0
        expects_continue = False
        for name, value in scope["headers"]:
            if name == b"content-length":
                length = int(value) if value.isdigit() else None
            elif name == b"transfer-encoding":
                length = None
            elif name == b"expect":
                expects_continue = value.lower() == b"100-continue"
        if length == 0:
            return None
        return cls(length, expects_continue)


class _BodyReader:
    """The app's `receive`, remembering how much of the body the app has read."""

    def __init__(self, receive: Receive, body: _DeclaredBody, limits: DrainLimits) -> None:
        self._receive = receive
        self._body = body
        self._limits = limits
        self._read = 0
        self._called = False
        self._done = False

    async def receive(self) -> Message:
        self._called = True
        message = await self._receive()
        if message["type"] == "http.request":
            self._read += len(message.get("body", b""))
            self._done = not message.get("more_body", False)
        else:
            self._done = True  # disconnected: nothing more will come
        return message

    async def drained(self) -> bool:
        """True once the body has been read to its end; False if the connection must close."""
        if self._done:
            return True
        if self._body.expects_continue and not self._called:
            return False  # the client waits for a 100 Continue it will not get
        length = self._body.length
        if length is not None and length - self._read > self._limits.max_bytes:
            return False
        budget = self._read + self._limits.max_bytes
        try:
            async with asyncio.timeout(self._limits.timeout_s):
                while not self._done and self._read <= budget:
                    await self.receive()
        except TimeoutError:
            return False
        return self._done
