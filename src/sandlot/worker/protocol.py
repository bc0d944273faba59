"""The pool's side of the bootstrap protocol; the protocol itself is documented in
`sandlot.worker.inside.bootstrap`.

`FrameChannel` is an asyncio protocol rather than a pair of streams: the warm path is one
`transport.write` and one future per invocation, with no task, no per-call thread and no
copy of the event beyond the single join into the outgoing frame.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from dataclasses import dataclass
from typing import Any, cast

import orjson

_LENGTH = 4


class ChannelClosed(Exception):
    """The instance closed the control socket: it died or was killed."""


class ProtocolViolation(ChannelClosed):
    """The instance sent something that is not a valid frame; it cannot be trusted again."""


@dataclass(frozen=True, slots=True)
class Frame:
    header: dict[str, Any]
    parts: list[bytes]


def encode_frame(header: dict[str, Any], *parts: bytes) -> bytes:
    header["parts"] = [len(part) for part in parts]
    return b"".join((*_header_bytes(header), *parts))


def _header_bytes(header: dict[str, Any]) -> tuple[bytes, bytes]:
    # orjson for the common invoke frame, whose fields are strings and integers that both
    # encoders write alike; the standard encoder for the rest (init, a client context that
    # may hold NaN, which orjson would write as null).
    if header.get("op") == "invoke" and "client_context" not in header:
        body = orjson.dumps(header)
    else:
        body = json.dumps(header, separators=(",", ":")).encode()
    return len(body).to_bytes(_LENGTH, "big"), body


def _loads_header(data: bytes | bytearray) -> Any:
    # orjson on the warm path; what it refuses (a lone surrogate that the bootstrap's
    # json.dumps escaped into an error message, NaN) goes to the standard parser, so the
    # frames accepted are the same as before. (An integer beyond 64 bits reads as a float;
    # no field of a frame is one.)
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return json.loads(data)


class FrameChannel(asyncio.Protocol):
    """Frames from one instance's control socket, handed out one `read()` at a time.

    Sizes are bounded (`max_header`, `max_parts`) so that a function cannot make the
    server buffer unbounded data by writing to its end of the socket.
    """

    def __init__(self, *, max_header: int, max_parts: int) -> None:
        self._max_header = max_header
        self._max_parts = max_parts
        self._buffer = bytearray()
        self._pending: tuple[dict[str, Any], list[int], int] | None = None
        self._frames: deque[Frame] = deque()
        self._waiter: asyncio.Future[Frame] | None = None
        self._failure: ChannelClosed | None = None
        self._transport: asyncio.Transport | None = None

    # asyncio.Protocol callbacks

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement the interface without subclassing asyncio.Transport,
        # so this is a cast, not an isinstance check.
        self._transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        try:
            while (frame := self._next_frame()) is not None:
                self._deliver(frame)
        except ProtocolViolation as violation:
            self.fail(violation)

    def eof_received(self) -> bool:
        return False  # close our end too; connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        self.fail(ChannelClosed("the instance closed its control socket"))

    # the pool's side

    def send(self, data: bytes) -> None:
        if self._failure is not None:
            raise self._failure
        assert self._transport is not None
        self._transport.write(data)

    async def read(self) -> Frame:
        if self._frames:
            return self._frames.popleft()
        if self._failure is not None:
            raise self._failure
        self._waiter = asyncio.get_running_loop().create_future()
        try:
            return await self._waiter
        finally:
            self._waiter = None

    def fail(self, failure: ChannelClosed) -> None:
        """End the channel: the current and every later `read()` raises `failure`."""
        if self._failure is None:
            self._failure = failure
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(self._failure)
        self.close()

    @property
    def closed(self) -> bool:
        return self._failure is not None

    def close(self) -> None:
        if self._transport is not None:
            self._transport.abort()

    # parsing

    def _deliver(self, frame: Frame) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(frame)
        else:
            self._frames.append(frame)

    def _next_frame(self) -> Frame | None:
        if self._pending is None and not self._parse_header():
            return None
        assert self._pending is not None
        header, sizes, offset = self._pending
        end = offset + sum(sizes)
        if len(self._buffer) < end:
            return None
        parts = []
        for size in sizes:
            parts.append(bytes(self._buffer[offset : offset + size]))
            offset += size
        del self._buffer[:end]
        self._pending = None
        return Frame(header, parts)

    def _parse_header(self) -> bool:
        if len(self._buffer) < _LENGTH:
            return False
        length = int.from_bytes(self._buffer[:_LENGTH], "big")
        if length > self._max_header:
            raise ProtocolViolation(f"frame header of {length} bytes")
        if len(self._buffer) < _LENGTH + length:
            return False
        try:
            header = _loads_header(self._buffer[_LENGTH : _LENGTH + length])
        except ValueError as exc:
            raise ProtocolViolation(f"frame header is not JSON: {exc}") from None
        sizes = header.get("parts", []) if isinstance(header, dict) else None
        if not _valid_sizes(sizes, self._max_parts):
            raise ProtocolViolation("frame header has invalid part sizes")
        assert isinstance(header, dict) and isinstance(sizes, list)
        self._pending = (header, sizes, _LENGTH + length)
        return True


def _valid_sizes(sizes: Any, limit: int) -> bool:
    if not isinstance(sizes, list):
        return False
    if not all(isinstance(size, int) and size >= 0 for size in sizes):
        return False
    return sum(sizes) <= limit
