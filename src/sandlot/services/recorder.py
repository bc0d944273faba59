"""Invocation records: journaled before the answer, written to the database in batches.

The invoke path calls `begin()` before a call runs and `finish()` before its answer goes
out; each appends one entry to the local journal (`storage.journal`), so an answered call
and a call in flight both survive a crash of the server. `run_once()` writes what is
buffered (the background loop calls it every `interval_s`; readers call it before a query),
upserts calls still in flight as `running` rows, and settles the journal entries the
database now holds. At start `recover()` replays what an earlier run left in the journal:
finished records are written (idempotently), and calls that were in flight are recorded
`failed` with the error kind `ServerCrashed`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sandlot.domain.errors import InsufficientStorage, SandlotError
from sandlot.domain.models import Invocation, InvocationStart
from sandlot.domain.states import InvocationState
from sandlot.services import journal_entries as entries
from sandlot.services.journal_entries import Record
from sandlot.services.logtail import DEFAULT_CAPACITY, LogTail
from sandlot.storage.invocations import InvocationRepo
from sandlot.storage.journal import Journal, Replayed

log = logging.getLogger(__name__)

__all__ = ["InvocationRecorder", "Record", "crashed_record", "ended_record"]


@dataclass(eq=False)
class _InFlight:
    start: InvocationStart
    segment: int | None  # the journal segment of its start entry
    shown: bool = False  # its `running` row is committed


@dataclass(eq=False)
class _Pending:
    """A finished record waiting for the database, and the journal entries it settles."""

    record: Record
    segments: tuple[int, ...] = ()


@dataclass(eq=False)
class _Forgotten:
    """A call refused before it ran: any `running` row of it is removed."""

    invocation_id: str
    segments: tuple[int, ...] = ()


@dataclass
class _Snapshot:
    running: list[_InFlight] = field(default_factory=list)
    forgotten: list[_Forgotten] = field(default_factory=list)
    pending: list[_Pending] = field(default_factory=list)


def ended_record(
    start: InvocationStart,
    *,
    state: InvocationState,
    kind: str,
    message: str,
    finished_at: datetime | None,
) -> Record:
    """The record of a call that the platform, not the function, ended: a shutdown, a bug of
    ours, or (with no end time) a crash of the server under it."""
    duration = None
    if finished_at is not None:
        duration = round((finished_at - start.created_at).total_seconds() * 1000, 3)
    invocation = Invocation(
        id=start.id,
        namespace_id=start.namespace_id,
        function_id=start.function_id,
        function_name=start.function_name,
        version=start.version,
        trigger=start.trigger,
        state=state,
        cold_start=False,
        created_at=start.created_at,
        finished_at=finished_at,
        duration_ms=duration,
        timings={},
        error={"kind": kind, "message": message},
        event=start.event,
        event_truncated=start.event_truncated,
        alias=start.alias,
    )
    return invocation, None, ""


def crashed_record(start: InvocationStart) -> Record:
    """The record of a call the server died under: its outcome is unknown."""
    return ended_record(
        start,
        state=InvocationState.FAILED,
        kind="ServerCrashed",
        message="the server stopped (killed or crashed) while the call was in flight; "
        "its outcome is unknown",
        finished_at=None,
    )


class InvocationRecorder:
    """Buffers invocations and writes them in one transaction per batch.

    A batch that fails to write stays buffered and is retried; its journal entries stay
    until it is written, so nothing answered is lost even if this process dies first.
    `journal=None` skips the journal (only for measuring what it costs).
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        journal: Journal | None,
        interval_s: float,
        batch_size: int,
        max_buffered: int = 100_000,
        tail_capacity: int = DEFAULT_CAPACITY,
    ) -> None:
        self.sessions = sessions
        self.journal = journal
        self.interval_s = interval_s
        self.batch_size = batch_size
        self.max_buffered = max_buffered
        self.problem: str | None = None  # why the last write failed, until one succeeds
        self._inflight: dict[str, _InFlight] = {}
        self._pending: list[_Pending] = []
        self._forgotten: list[_Forgotten] = []
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        # Live readers of finished records (`GET /functions/{name}/logs/stream`).
        self.tail = LogTail(tail_capacity)

    # the invoke path

    def begin(self, start: InvocationStart) -> None:
        """A call is about to run. Raises `InsufficientStorage` if the journal cannot take
        it, before anything ran."""
        segment = None
        if self.journal is not None:
            segment = self.journal.append(entries.encode_start(start), needs_reserve=True)
        self._inflight[start.id] = _InFlight(start, segment)

    def finish(self, record: Record) -> None:
        """A call ended; call before its answer goes out. The record is buffered even if the
        journal cannot take it (then this raises `InsufficientStorage`)."""
        flight = self._inflight.pop(record[0].id, None)
        segments = () if flight is None or flight.segment is None else (flight.segment,)
        pending = _Pending(record, segments)
        self._buffer(pending)
        self.tail.publish(record)
        if self.journal is not None:
            pending.segments += (self.journal.append(entries.encode_finish(record)),)

    def forget(self, invocation_id: str) -> None:
        """A call that `begin()` announced was refused before it ran: no record."""
        flight = self._inflight.pop(invocation_id, None)
        forgotten = _Forgotten(invocation_id)
        if flight is not None and flight.segment is not None:
            forgotten.segments = (flight.segment,)
        self._forgotten.append(forgotten)
        if self.journal is not None:
            try:
                forgotten.segments += (self.journal.append(entries.encode_forget(invocation_id)),)
            except InsufficientStorage:
                # The caller's own error (429, 503) says more; the worst left is a crash
                # before the next flush recording this call ServerCrashed.
                log.debug("no room to journal that call %s never ran", invocation_id)

    def _buffer(self, pending: _Pending) -> None:
        self._pending.append(pending)
        if len(self._pending) > self.max_buffered:
            # The database has been failing for long: keep memory bounded. The oldest
            # records stay in the journal (never settled) and are written at the next start.
            dropped = len(self._pending) - self.max_buffered
            del self._pending[:dropped]
            where = "left to the journal until the next start" if self.journal else "dropped"
            log.error("%d invocation records %s", dropped, where)
        if len(self._pending) >= self.batch_size:
            self._wake.set()

    # writing

    async def run_once(self) -> int:
        """Write everything buffered so far; returns how many finished records."""
        async with self._lock:
            snapshot = self._take()
            if not (snapshot.running or snapshot.forgotten or snapshot.pending):
                return 0
            try:
                written = await self._write(snapshot)
            except Exception as exc:
                self.problem = _describe(exc)
                raise
            self.problem = None
            return written

    def _take(self) -> _Snapshot:
        # Sorted by id, and calls in flight in the first transaction, so that a reader who
        # sees a row with id X also sees every call of this server with a smaller id, as
        # running or finished (what `GET /invocations?after=` followers rely on).
        snapshot = _Snapshot(
            running=[flight for flight in self._inflight.values() if not flight.shown],
            forgotten=self._forgotten,
            pending=sorted(self._pending, key=lambda item: item.record[0].id),
        )
        self._forgotten, self._pending = [], []
        return snapshot

    async def _write(self, snapshot: _Snapshot) -> int:
        batches = [
            snapshot.pending[i : i + self.batch_size]
            for i in range(0, len(snapshot.pending), self.batch_size)
        ] or [[]]
        written = 0
        for number, batch in enumerate(batches):
            try:
                async with self.sessions.begin() as session:
                    repo = InvocationRepo(session)
                    if number == 0:
                        await repo.add_running([flight.start for flight in snapshot.running])
                        await repo.drop_running([f.invocation_id for f in snapshot.forgotten])
                    await repo.add_finished([item.record for item in batch])
            except BaseException:
                if number == 0:
                    self._forgotten[:0] = snapshot.forgotten
                self._pending[:0] = [item for later in batches[number:] for item in later]
                raise
            if number == 0:
                for flight in snapshot.running:
                    flight.shown = True
                for forgotten in snapshot.forgotten:
                    self._settle(forgotten.segments)
            for item in batch:
                self._settle(item.segments)
            written += len(batch)
        return written

    def _settle(self, segments: tuple[int, ...]) -> None:
        if self.journal is not None:
            for segment in segments:
                self.journal.settle(segment)

    # starting and stopping

    async def recover(self) -> int:
        """Open the journal and queue what an earlier run left in it (see the module's
        docstring); then try to write it. Returns how many records were queued."""
        if self.journal is None:
            return 0
        replayed = self.journal.open()
        queued = self._queue_replayed(replayed)
        if queued or self._forgotten:
            log.info("journal: %d invocation records from the previous run", queued)
            try:
                await self.run_once()
            except Exception:
                log.exception("writing the journal's records failed; will retry")
        return queued

    def _queue_replayed(self, replayed: list[Replayed]) -> int:
        starts: dict[str, tuple[InvocationStart, int]] = {}
        finished: dict[str, _Pending] = {}
        forgotten: dict[str, _Forgotten] = {}
        for item in replayed:
            try:
                entry = entries.decode(item.payload)
            except (ValueError, KeyError, TypeError):
                log.error("journal segment %d: an entry that cannot be read; skipped", item.segment)
                self._settle((item.segment,))
                continue
            if entry.start is not None:
                starts[entry.id] = (entry.start, item.segment)
            elif entry.record is not None:
                finished[entry.id] = _Pending(entry.record, (item.segment,))
            else:
                forgotten[entry.id] = _Forgotten(entry.id, (item.segment,))
        # Entries are matched by id, not order: segments are not always filled in order.
        for invocation_id, (start, segment) in starts.items():
            known = finished.get(invocation_id) or forgotten.get(invocation_id)
            if known is not None:
                known.segments += (segment,)
            else:
                finished[invocation_id] = _Pending(crashed_record(start), (segment,))
        self._pending.extend(finished.values())
        self._forgotten.extend(forgotten.values())
        return len(finished)

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="invocation-recorder")

    async def _loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.interval_s)
            self._wake.clear()
            failing = self.problem
            try:
                await self.run_once()
            except Exception as exc:
                # Said once per kind of failure, not every interval while a disk stays full.
                if _describe(exc) != failing:
                    log.error("writing invocation records failed (%s); will retry", _describe(exc))
            else:
                if failing is not None:
                    log.info("invocation records are written again")

    async def close(self) -> None:
        """Stop the loop and write what is buffered. What cannot be written now stays in the
        journal for the next start."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        try:
            await self.run_once()
        except Exception as exc:
            log.error(
                "at shutdown %d invocation records could not be written (%s); "
                "the journal keeps them for the next start",
                len(self._pending),
                _describe(exc),
            )
        if self.journal is not None:
            self.journal.close()


def _describe(exc: BaseException) -> str:
    if isinstance(exc, SandlotError):
        return f"{exc.name}: {exc.message}"
    return f"{type(exc).__name__}: {exc}"[:300]
