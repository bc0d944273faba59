"""A stand-in for a worker's internal API, for testing the API server's side alone: a real
HTTP/1.1 server (asyncio streams, keep-alive) on 127.0.0.1 that checks each request's
cluster signature, records what it got, and answers as the test says: an outcome, a
refusal, a domain error, or a connection closed in the middle of the call."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from sandlot.domain.cluster import WarmVersion, WorkerInfo
from sandlot.domain.cluster_auth import SIGNATURE_HEADER, TIME_HEADER, verify
from sandlot.domain.states import InvocationState
from sandlot.services import cluster_wire as wire
from sandlot.storage.db import Database
from sandlot.storage.workers import WorkerRepo
from sandlot.worker.interface import InvokeOutcome, Prepared, Timings
from tests.conftest import free_port

SECRET = b"a cluster secret of at least thirty-two characters"

OK = "ok"  # 200 with an outcome (invoke), a Prepared (prepare), a result (control)
DROP = "drop"  # read the request, then close the connection without an answer


@dataclass(frozen=True)
class Answer:
    """An error answer in the internal API's JSON error shape."""

    status: int
    name: str
    detail: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Seen:
    method: str
    path: str
    head: dict[str, Any]
    payload: bytes
    signature_problem: str | None


@dataclass
class FakeWorker:
    id: str
    port: int = 0
    invoke: str | Answer = OK
    prepare: str | Answer = OK
    control: str | Answer = OK
    seen: list[Seen] = field(default_factory=list)
    # Run on each prepare before it is answered (what a real worker would read meanwhile).
    on_prepare: Callable[[dict[str, Any]], Awaitable[None]] | None = None
    # Set: each invoke waits for it before answering (a call that takes a while).
    hold: asyncio.Event | None = None
    server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def paths(self) -> list[str]:
        return [s.path for s in self.seen]

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._connection, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            with contextlib.suppress(Exception):
                await self.server.wait_closed()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while await self._one(reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return False  # the client closed its idle connection
        lines = head.decode("latin-1").split("\r\n")
        method, path, _ = lines[0].split(" ", 2)
        headers = {
            name.strip().lower(): value.strip()
            for name, _, value in (line.partition(":") for line in lines[1:] if line)
        }
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        problem = verify(
            SECRET, method, path, body, headers.get(TIME_HEADER), headers.get(SIGNATURE_HEADER)
        )
        if path == wire.INVOKE_PATH:
            frame_head, payload = wire.unframe(body)
        else:
            frame_head, payload = orjson.loads(body), b""
        self.seen.append(Seen(method, path, frame_head, payload, problem))
        if problem is not None:
            return await _write(writer, Answer(401, wire.SIGNATURE_INVALID, {"message": problem}))
        behaviour = {wire.INVOKE_PATH: self.invoke, wire.PREPARE_PATH: self.prepare}.get(
            path, self.control
        )
        if path == wire.PREPARE_PATH and self.on_prepare is not None:
            await self.on_prepare(frame_head)
        if path == wire.INVOKE_PATH and self.hold is not None:
            await self.hold.wait()
        if behaviour == DROP:
            return False
        if isinstance(behaviour, Answer):
            return await _write(writer, behaviour)
        return await _write_ok(writer, self._ok_body(path, frame_head))

    def _ok_body(self, path: str, head: dict[str, Any]) -> bytes:
        if path == wire.INVOKE_PATH:
            now = datetime.now(UTC)
            return wire.outcome_to_wire(
                InvokeOutcome(
                    invocation_id=head["invocation_id"],
                    state=InvocationState.SUCCEEDED,
                    result_json=orjson.dumps({"worker": self.id}),
                    error=None,
                    logs="",
                    logs_truncated=False,
                    cold_start=False,
                    timings=Timings(total_ms=1.0),
                    started_at=now,
                    finished_at=now,
                )
            )
        if path == wire.PREPARE_PATH:
            return orjson.dumps(wire.prepared_to_wire(Prepared(error=None, init_ms=2.0)))
        return orjson.dumps({"result": 1 if head.get("op") == "ensure_warm" else None})


async def _write_ok(writer: asyncio.StreamWriter, body: bytes) -> bool:
    writer.write(
        b"HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\n"
        + f"content-length: {len(body)}\r\n\r\n".encode()
        + body
    )
    await writer.drain()
    return True


async def _write(writer: asyncio.StreamWriter, answer: Answer) -> bool:
    body = orjson.dumps({"error": answer.name, "detail": answer.detail})
    extra = "".join(f"{k}: {v}\r\n" for k, v in answer.headers.items())
    writer.write(
        f"HTTP/1.1 {answer.status} X\r\ncontent-type: application/json\r\n{extra}"
        f"content-length: {len(body)}\r\n\r\n".encode()
        + body
    )
    await writer.drain()
    return True


def info(
    worker_id: str,
    url: str,
    *,
    warm: tuple[WarmVersion, ...] = (),
    ready: frozenset[tuple[str, int]] = frozenset(),
    heartbeat_at: datetime | None = None,
    draining: bool = False,
    cpus: float = 0.0,
) -> WorkerInfo:
    now = heartbeat_at or datetime.now(UTC)
    return WorkerInfo(
        id=worker_id,
        url=url,
        hostname="test",
        started_at=now,
        heartbeat_at=now,
        draining=draining,
        free_mb=1024,
        max_memory_mb=2048,
        instances=sum(w.instances for w in warm),
        max_instances=8,
        cpus=cpus,
        warm=warm,
        ready=ready,
    )


async def register(database: Database, *infos: WorkerInfo) -> None:
    async with database.sessions.begin() as session:
        for one in infos:
            await WorkerRepo(session).heartbeat(one)


def dead_url() -> str:
    """An address where nothing listens."""
    return f"http://127.0.0.1:{free_port()}"
