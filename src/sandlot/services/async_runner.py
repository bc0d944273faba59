"""Running queued asynchronous calls: claim, run in the pool, end (DESIGN.md "Durable work").

`AsyncRunner` claims due `queued` rows oldest first (on PostgreSQL with `FOR UPDATE SKIP
LOCKED`, so that several servers share one queue), leases each to this process until its
timeout and budgets have surely passed, runs it through the same pool as sync calls and
writes its end in a commit of its own, fenced by its attempt: a late attempt whose lease was
reaped and handed on changes nothing. A failure a retry may fix is queued again with
back-off; the last attempt, a failure no retry fixes, or an event too old ends it `dead`.

Written by hand: the queue is the invocations table itself (storage.queue says why no
library fits), and so is the loop that drains it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from sandlot.domain.errors import (
    FunctionNotFound,
    QuotaExceeded,
    SandlotError,
    ServiceUnavailable,
    TooManyRequests,
    VersionNotReady,
)
from sandlot.domain.models import Principal, Role
from sandlot.domain.queue import (
    AsyncConfig,
    Backoff,
    ClaimedCall,
    DueCall,
    after_attempt,
    async_share,
)
from sandlot.domain.states import InvocationState
from sandlot.services.async_reaper import Reaper
from sandlot.services.catalog import Catalog
from sandlot.services.destinations import Destinations
from sandlot.services.invocations import qualifier
from sandlot.services.queue_wake import QueueWaker
from sandlot.storage.async_config import AsyncConfigRepo
from sandlot.storage.db import Database
from sandlot.storage.invocations import InvocationRepo
from sandlot.storage.keys import NamespaceRepo
from sandlot.storage.queue import QueueRepo
from sandlot.storage.queue_notify import QueueChannel
from sandlot.worker.interface import (
    CallInfo,
    InvokeOutcome,
    Pool,
    PoolStats,
    VersionSpec,
    import_timeout_s,
)

log = logging.getLogger(__name__)

# A call the pool refused before it ran (full, shutting down) is put back this much later:
# soon, but not in a tight loop against a pool that stays full.
_REFUSED_DELAY_S = 1.0
# A version still building (or rebuilding its environment) is looked at again this late.
_NOT_READY_DELAY_S = 5.0


@dataclass(frozen=True)
class RunnerOptions:
    poll_interval_s: float = 1.0
    lease_grace_s: float = 30.0
    backoff_base_s: float = 1.0
    backoff_cap_s: float = 300.0
    sync_share: float = 0.25
    claim_batch: int = 32
    pool_queue_s: float = 10.0  # how long the pool may hold a call before it runs
    log_excerpt_bytes: int = 4096


@dataclass(eq=False)
class _Running:
    call: ClaimedCall
    task: asyncio.Task[None] | None = None
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))


class AsyncRunner:
    """One process's claimer of queued calls. `start()` reaps what a previous run of this
    data dir left running and starts the loop; `run_once()` is one round of it (tests);
    `stop()` stops claiming; `close()` also waits for the calls still running."""

    def __init__(
        self,
        *,
        database: Database,
        catalog: Catalog,
        pool: Pool,
        destinations: Destinations,
        waker: QueueWaker,
        owner: str,
        options: RunnerOptions | None = None,
        channel: QueueChannel | None = None,
    ) -> None:
        self.database = database
        self.catalog = catalog
        self.pool = pool
        self.destinations = destinations
        self.waker = waker
        self.owner = owner
        self.node = owner.split(":", 1)[0] + ":"
        self.options = options or RunnerOptions()
        self.channel = channel  # PostgreSQL's LISTEN/NOTIFY, kept connected by the loop
        self.backoff = Backoff(self.options.backoff_base_s, self.options.backoff_cap_s)
        self.reaper = Reaper(database, self.backoff, self._ended, waker.wake)
        self._running: dict[str, _Running] = {}
        self._namespaces: dict[str, str] = {}
        # The latest spec seen of each function, for its share before it is resolved again.
        self._specs_seen: dict[str, VersionSpec] = {}
        self._loop_task: asyncio.Task[None] | None = None
        self._stopped = False

    # the loop

    async def start(self) -> None:
        try:
            await self.reap_previous_run()
        except Exception:
            log.exception("re-queueing the calls of the previous run failed; the reaper will")
        self._loop_task = asyncio.create_task(self._loop(), name="async-runner")

    async def _loop(self) -> None:
        while not self._stopped:
            claimed = 0
            try:
                if self.channel is not None:
                    await self.channel.check()
                claimed = await self.run_once()
            except Exception:
                log.exception("a round of the async runner failed; trying again")
            if claimed < self.options.claim_batch:
                await self.waker.wait(self.options.poll_interval_s)

    async def run_once(self) -> int:
        """Stop calls whose row is no longer ours, reap expired leases, claim and start due
        calls; returns how many were claimed. The calls run on in the background
        (`wait_idle()` waits for them). Works after `stop()` too (tests drive it by hand)."""
        await self._drop_lost()
        await self.reap_expired()
        return await self._claim_round()

    async def wait_idle(self) -> None:
        """Until no call this runner started is running (tests)."""
        while self._running:
            tasks = [r.task for r in self._running.values() if r.task is not None]
            if tasks:
                await asyncio.wait(tasks)
            else:
                await asyncio.sleep(0)

    def stop(self) -> None:
        """Claim nothing more; the calls running go on (the pool's close bounds them)."""
        self._stopped = True
        self.waker.wake()

    async def close(self) -> None:
        self.stop()
        if self._loop_task is not None:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
            self._loop_task = None
        await self.wait_idle()

    def kill(self, invocation_id: str) -> bool:
        """Stop a call this runner is running (it was cancelled): its instance is killed.
        False when it is not running here."""
        running = self._running.get(invocation_id)
        if running is None or running.task is None:
            return False
        running.task.cancel()
        return True

    @property
    def running(self) -> int:
        return len(self._running)

    # claiming

    async def _claim_round(self) -> int:
        now = datetime.now(UTC)
        per_function = Counter(r.call.function_id for r in self._running.values())
        full: set[str] = set()
        leases: dict[str, datetime] = {}
        specs: dict[str, VersionSpec] = {}
        async with self.database.sessions() as session:
            due = await QueueRepo(session).due(
                now, self.options.claim_batch * 2, skip=self._full_functions(per_function)
            )
            configs = await AsyncConfigRepo(session).many({d.function_id for d in due})
        for item in warm_first(due, self.pool.stats()):
            if len(leases) >= self.options.claim_batch:
                break
            if item.function_id in full:
                continue
            spec = await self._spec_or_end(item, configs[item.function_id], now)
            if spec is None:
                continue
            if per_function[item.function_id] >= self._share(spec):
                full.add(item.function_id)
                continue
            per_function[item.function_id] += 1
            specs[item.id] = spec
            leases[item.id] = now + timedelta(seconds=self._lease_s(spec))
        if not leases:
            return 0
        async with self.database.sessions.begin() as session:
            claimed = await QueueRepo(session).claim(leases, owner=self.owner, now=now)
        for call in claimed:
            self._launch(call, specs[call.id])
        return len(claimed)

    def _full_functions(self, per_function: Counter[str]) -> set[str]:
        """Functions this runner runs as many calls of as its share allows."""
        full = set()
        for running in self._running.values():
            fid = running.call.function_id
            spec = self._specs_seen.get(fid)
            if spec is not None and per_function[fid] >= self._share(spec):
                full.add(fid)
        return full

    def _share(self, spec: VersionSpec) -> int:
        self._specs_seen[spec.function_id] = spec
        share = async_share(spec.max_concurrency, self.options.sync_share)
        if spec.max_concurrency <= 1 and self._busy(spec):
            return 0  # one slot, taken: it stays the sync caller's
        return share

    def _busy(self, spec: VersionSpec) -> bool:
        return any(
            held.busy > 0
            for held in self.pool.stats().versions
            if held.namespace == spec.namespace and held.function_name == spec.function_name
        )

    def _lease_s(self, spec: VersionSpec) -> float:
        """Past this the call has surely ended in a live claimer: the pool's queue time, an
        instance's import budget, the handler's timeout, and the grace on top."""
        return (
            self.options.pool_queue_s
            + import_timeout_s(spec.timeout_s)
            + spec.timeout_s
            + self.options.lease_grace_s
        )

    async def _spec_or_end(
        self, item: DueCall, config: AsyncConfig, now: datetime
    ) -> VersionSpec | None:
        """The spec to run a due call with; None when it cannot run now (then it has been
        ended dead, or put off)."""
        if item.aged_from + timedelta(seconds=config.max_event_age_s) < now:
            await self._end_unrun(item, "EventExpired", _age_message(config), now)
            return None
        try:
            spec = await self.catalog.resolve(
                await self._system(item.namespace_id), item.function_name, item.version
            )
        except (VersionNotReady, ServiceUnavailable):
            # Building, or its secrets cannot be read now: it may run later.
            await self._postpone(item, _NOT_READY_DELAY_S)
            return None
        except SandlotError as exc:  # deleted, or a secret it names is gone: it never will
            await self._end_unrun(item, exc.name, exc.message, now)
            return None
        if spec.function_id != item.function_id:
            # The function was deleted and another made under its name: not this call's.
            await self._end_unrun(item, FunctionNotFound.__name__, "the function was deleted", now)
            return None
        return spec

    async def _system(self, namespace_id: str) -> Principal:
        """The platform acting in a call's namespace, as `Catalog.latest_of` does."""
        name = self._namespaces.get(namespace_id)
        if name is None:
            async with self.database.sessions() as session:
                name = (await NamespaceRepo(session).get(namespace_id)).name
            self._namespaces[namespace_id] = name
        return Principal(
            key_id="sandlot", namespace_id=namespace_id, namespace=name, role=Role.ADMIN
        )

    async def _end_unrun(self, item: DueCall, kind: str, message: str, now: datetime) -> None:
        values = {
            "state": InvocationState.DEAD.value,
            "finished_at": now,
            "error": {"kind": kind, "message": message},
            "lease_owner": None,
            "lease_until": None,
        }
        async with self.database.sessions.begin() as session:
            if await QueueRepo(session).end(item.id, item.attempt, values, queued=True):
                await self._ended(session, item.namespace_id, item.id)

    async def _postpone(self, item: DueCall, delay_s: float) -> None:
        later = datetime.now(UTC) + timedelta(seconds=delay_s)
        async with self.database.sessions.begin() as session:
            await QueueRepo(session).end(item.id, item.attempt, {"run_after": later}, queued=True)

    # running

    def _launch(self, call: ClaimedCall, spec: VersionSpec) -> None:
        running = _Running(call)
        self._running[call.id] = running
        running.task = asyncio.create_task(self._run(running, spec), name=f"async-{call.id}")

    async def _run(self, running: _Running, spec: VersionSpec) -> None:
        call = running.call
        try:
            try:
                info = CallInfo(qualifier=qualifier(call.alias, call.version))
                outcome = await self.pool.invoke(spec, call.id, call.payload.encode(), info)
            except (TooManyRequests, QuotaExceeded, ServiceUnavailable) as refused:
                await self._put_back(call, refused)
                return
            except SandlotError as exc:  # the pool refused the event itself: no retry helps
                await self._end_failed(running, exc.name, exc.message)
                return
            except asyncio.CancelledError:
                # Cancelled (the row says so already) or taken from us; nothing to write.
                log.info("invocation %s attempt %d stopped", call.id, call.attempt)
                raise
            except Exception:
                log.exception("invocation %s failed inside the platform", call.id)
                await self._end_failed(running, "InternalError", _BROKE)
                return
            await self._end(running, outcome)
        except asyncio.CancelledError:
            pass
        except Exception:
            # The database failed the end's commit: the lease expires and the reaper retries.
            log.exception("writing the end of invocation %s failed", call.id)
        finally:
            self._running.pop(call.id, None)
            self.waker.wake()  # a slot is free: calls of this function may be waiting

    async def _put_back(self, call: ClaimedCall, refused: SandlotError) -> None:
        """Refused before it ran: not an attempt. Queued again a little later."""
        delay = _REFUSED_DELAY_S
        if isinstance(refused, TooManyRequests | QuotaExceeded):
            delay = max(delay, min(float(getattr(refused, "retry_after_s", 0) or 0), 5.0))
        values = {
            "state": InvocationState.QUEUED.value,
            "attempt": call.attempt - 1,
            "lease_owner": None,
            "lease_until": None,
            "run_after": datetime.now(UTC) + timedelta(seconds=delay),
        }
        async with self.database.sessions.begin() as session:
            await QueueRepo(session).end(call.id, call.attempt, values)
        log.debug("invocation %s refused by the pool (%s); queued again", call.id, refused.name)

    async def _end(self, running: _Running, outcome: InvokeOutcome) -> None:
        call = running.call
        error = outcome.error.as_dict() if outcome.error is not None else None
        record: dict[str, Any] = {
            "cold_start": outcome.cold_start,
            "duration_ms": round(outcome.timings.total_ms, 3),
            "timings": outcome.timings.as_dict(),
            "log_excerpt": _tail(outcome.logs, self.options.log_excerpt_bytes),
            "logs_truncated": outcome.logs_truncated,
        }
        if outcome.state is InvocationState.SUCCEEDED:
            record["result_json"] = (
                outcome.result_json.decode() if outcome.result_json is not None else None
            )
        kind = outcome.error.kind if outcome.error is not None else None
        await self._write_end(
            call,
            state=outcome.state,
            kind=kind,
            error=error,
            started_at=outcome.started_at,
            record=record,
            logs=outcome.logs,
        )

    async def _end_failed(self, running: _Running, kind: str, message: str) -> None:
        await self._write_end(
            running.call,
            state=InvocationState.FAILED,
            kind=kind,
            error={"kind": kind, "message": message},
            started_at=running.started_at,
            record={},
            logs="",
        )

    async def _write_end(
        self,
        call: ClaimedCall,
        *,
        state: InvocationState,
        kind: str | None,
        error: dict[str, Any] | None,
        started_at: datetime | None,
        record: dict[str, Any],
        logs: str,
    ) -> bool:
        """One commit: the attempt's end, fenced by its number; and, when the call ends for
        good, what its destinations set off."""
        now = datetime.now(UTC)
        async with self.database.sessions.begin() as session:
            config = await AsyncConfigRepo(session).get(call.function_id)
            values = after_attempt(
                call,
                state=state,
                kind=kind,
                error=error,
                started_at=started_at,
                now=now,
                config=config,
                backoff=self.backoff,
            )
            final = values["state"] != InvocationState.QUEUED.value
            written = await QueueRepo(session).end(
                call.id,
                call.attempt,
                {**record, **values} if final else values,
                logs=logs if final else "",
            )
            if not written:
                log.warning(
                    "invocation %s: attempt %d ended late (cancelled, or its lease was reaped "
                    "and handed on); its end is not written",
                    call.id,
                    call.attempt,
                )
                return False
            if final:
                await self._ended(session, call.namespace_id, call.id)
        if not final:
            self.waker.wake()
        return True

    async def _ended(self, session: AsyncSession, namespace_id: str, invocation_id: str) -> None:
        invocation = await InvocationRepo(session).get(namespace_id, invocation_id)
        if invocation.state in (InvocationState.SUCCEEDED, InvocationState.DEAD):
            await self.destinations.on_async_end(session, invocation)

    # leases

    async def _drop_lost(self) -> None:
        """Stop the calls whose row no longer names this attempt of ours: cancelled (maybe
        through another server) or reaped while we were stalled. Their instances die."""
        held = [(r.call.id, r.call.attempt) for r in self._running.values()]
        if not held:
            return
        async with self.database.sessions() as session:
            lost = await QueueRepo(session).lost(held, self.owner)
        for invocation_id in lost:
            if self.kill(invocation_id):
                log.info("invocation %s is no longer this server's to run; stopped", invocation_id)

    async def reap_expired(self) -> int:
        """Re-queue (or end dead) running calls whose lease ended: their claimer is lost.
        Ours and still running here are left alone: the pool bounds them."""
        return await self.reaper.expired(skip=set(self._running))

    async def reap_previous_run(self) -> int:
        return await self.reaper.previous_run(self.node, self.owner)


def warm_first(due: list[DueCall], stats: PoolStats) -> list[DueCall]:
    """The due calls of versions this pool holds warm (an idle instance or a zygote) first,
    each group in its queue order: of the calls a claim takes, a worker takes those it
    starts warm, and leaves the others to the workers that have them warm."""
    warm = {
        (held.function_id, held.version)
        for held in stats.versions
        if held.instances > held.busy or held.zygote or held.spares
    }
    if not warm:
        return due
    return sorted(due, key=lambda item: (item.function_id, item.version) not in warm)


_BROKE = "an unexpected error occurred in the platform"


def _age_message(config: AsyncConfig) -> str:
    return f"the event is older than the function's max_event_age_s ({config.max_event_age_s} s)"


def _tail(text: str, limit: int) -> str:
    data = text.encode()
    if len(data) <= limit:
        return text
    return "…" + data[-limit:].decode(errors="ignore")
