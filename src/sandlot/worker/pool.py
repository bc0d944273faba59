"""`RuntimePool`: warm instances per version, concurrency and capacity limits, shutdown.

One invocation at a time per instance. A call takes the most recently used idle instance
of its version (a warm start), or starts one (a cold start), after waiting a bounded time
for a slot of its function's concurrency limit and, for a cold start, for room under the
worker's global instance and memory caps (`capacity.py`). To make that room, idle instances
of any function are evicted, least recently used first, then what the launcher keeps
(spares, then zygotes of versions with no instance). The reaper's round does the same while
the host's available memory is under `Settings.min_available_memory_mb`, sparing the
instances that `min_warm` keeps. `prepare` is a new version's import check: it starts what
the version's calls will start from (its zygote, or one instance) and keeps it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sandlot.config import Settings
from sandlot.domain.errors import QuotaExceeded, ServiceUnavailable, TooManyRequests
from sandlot.domain.states import InstanceState
from sandlot.sandbox.spec import Starter
from sandlot.worker.capacity import Capacity, available_mb
from sandlot.worker.failures import state_for
from sandlot.worker.gate import ConcurrencyGate
from sandlot.worker.instance import Instance, Run, StartFailed
from sandlot.worker.interface import (
    NO_CALL_INFO,
    CallInfo,
    InvokeOutcome,
    NamespaceUse,
    PoolStats,
    Prepared,
    Timings,
    VersionSpec,
)
from sandlot.worker.inventory import snapshot
from sandlot.worker.launcher import Launcher, ProcessLauncher, StartTimes, group_name
from sandlot.worker.reaper import KeepAliveReaper
from sandlot.worker.tenants import Tenants
from sandlot.worker.zygote_launcher import ZygoteLauncher

log = logging.getLogger(__name__)

# After the grace period, instances are killed; in-flight calls then end at once. This
# bounds the wait for them to notice, so that close() always returns.
_KILLED_DRAIN_S = 5.0
_RETRY_AFTER_S = 1
_CANCELLED = "the server shut down before the call finished (past its shutdown grace period)"


@dataclass(eq=False)
class _Version:
    spec: VersionSpec
    idle: list[Instance] = field(default_factory=list)  # most recently used last
    live: set[Instance] = field(default_factory=set)  # starting, idle and busy
    calls: int = 0  # admitted invocations, some maybe before their instance exists
    retired: bool = False

    @property
    def unused(self) -> bool:
        return not self.live and self.calls == 0


@dataclass(frozen=True, slots=True)
class _Call:
    """One call as the pool carries it to an instance."""

    invocation_id: str
    event: bytes
    info: CallInfo

    def __post_init__(self) -> None:
        object.__setattr__(self, "event", self.event or b"null")


class _Clock:
    """Where one invocation's time went."""

    def __init__(self) -> None:
        self.started_at = datetime.now(UTC)
        self.t0 = time.perf_counter()
        self.queue_ms = 0.0
        self.start_ms = 0.0
        self.times = StartTimes()

    def elapsed_ms(self) -> float:
        return (time.perf_counter() - self.t0) * 1000

    def outcome(self, invocation_id: str, run: Run, *, cold: bool) -> InvokeOutcome:
        timings = Timings(
            queue_ms=self.queue_ms,
            start_ms=self.start_ms,
            init_ms=self.times.init_ms,
            handler_ms=run.handler_ms,
            total_ms=self.elapsed_ms(),
            zygote_ms=self.times.zygote_ms,
            fork_ms=self.times.fork_ms,
            layers_ms=self.times.layers_ms,
        )
        return InvokeOutcome(
            invocation_id=invocation_id,
            state=state_for(run.error),
            result_json=run.result_json,
            error=run.error,
            logs=run.logs,
            logs_truncated=run.logs_truncated,
            cold_start=cold,
            timings=timings,
            started_at=self.started_at,
            finished_at=datetime.now(UTC),
        )


class RuntimePool:
    """The `worker.interface.Pool` that runs instances through a `sandbox.spec.Starter`.

    Build it with the starter and the settings (`RuntimePool(PlainStarter(), settings)`),
    `await pool.start()` to run the keep-alive reaper, and `await pool.close(grace_s)` at
    the end. Instances are forked from a per-version zygote (`ZygoteLauncher`), or started
    as one process each (`settings.zygotes=False`).
    """

    def __init__(
        self, starter: Starter, settings: Settings, *, reaper_interval_s: float = 1.0
    ) -> None:
        self._starter = starter
        self._group_owner: dict[str, tuple[str, str]] = {}  # every group seen, for its counter
        self._settings = settings
        self._capacity = Capacity(settings.max_instances, settings.max_memory_mb)
        self._launcher: Launcher = (
            ZygoteLauncher(starter, settings, self._capacity)
            if settings.zygotes
            else ProcessLauncher(starter, settings)
        )
        self._versions: dict[tuple[str, int], _Version] = {}
        self._live: dict[Instance, _Version] = {}
        self._gates: dict[str, ConcurrencyGate] = {}
        # Each namespace's calls and instance memory, against its quotas (`spec.limits`).
        self._tenants = Tenants()
        self._inflight = 0
        self._drained: asyncio.Event | None = None
        self._cleanups: set[asyncio.Task[None]] = set()
        self._closing = False
        self._closed = False
        self._close_task: asyncio.Future[None] | None = None
        self.reaper = KeepAliveReaper(self, reaper_interval_s)

    async def start(self) -> None:
        self.reaper.start()

    # invoking

    async def invoke(
        self,
        spec: VersionSpec,
        invocation_id: str,
        event: bytes,
        call: CallInfo = NO_CALL_INFO,
    ) -> InvokeOutcome:
        self._ensure_open()
        clock = _Clock()
        tenant = self._tenants.admit(spec)  # the namespace's rate and concurrency quotas
        try:
            return await self._invoke_gated(spec, _Call(invocation_id, event, call), clock)
        except (TooManyRequests, ServiceUnavailable, QuotaExceeded):
            self._tenants.refund_rate(tenant)  # refused before it ran: it spent no rate
            raise
        finally:
            self._tenants.leave(tenant)

    async def _invoke_gated(self, spec: VersionSpec, call: _Call, clock: _Clock) -> InvokeOutcome:
        gate = self._gates.setdefault(spec.function_id, ConcurrencyGate())
        if not await gate.acquire(spec.max_concurrency, self._settings.queue_timeout_s):
            raise TooManyRequests(
                f"function {spec.function_name!r} is at its concurrency limit "
                f"({spec.max_concurrency})",
                retry_after_s=_RETRY_AFTER_S,
            )
        self._inflight += 1
        try:
            return await self._invoke_admitted(spec, call, clock)
        finally:
            self._inflight -= 1
            gate.release()
            if self._inflight == 0 and self._drained is not None:
                self._drained.set()

    async def _invoke_admitted(
        self, spec: VersionSpec, call: _Call, clock: _Clock
    ) -> InvokeOutcome:
        version = await self._current(spec)
        version.calls += 1
        try:
            return await self._run(version, spec, call, clock)
        finally:
            version.calls -= 1

    async def _run(
        self, version: _Version, called: VersionSpec, call: _Call, clock: _Clock
    ) -> InvokeOutcome:
        """`called` is the spec the call came with: the version's first one (`version.spec`,
        maybe the import check's) may carry older quota limits."""
        spec = version.spec
        invocation_id = call.invocation_id
        instance = self._take_idle(version)
        cold = instance is None
        if instance is None:
            await self._reserve(called, clock.t0 + self._settings.queue_timeout_s)
            clock.queue_ms = clock.elapsed_ms()
            try:
                instance, clock.times = await self._start_instance(version)
            except StartFailed as failure:
                clock.start_ms = clock.elapsed_ms() - clock.queue_ms
                run = Run(None, failure.error, failure.logs, failure.logs_truncated, 0.0)
                return clock.outcome(invocation_id, run, cold=True)
            clock.start_ms = clock.elapsed_ms() - clock.queue_ms
        else:
            clock.queue_ms = clock.elapsed_ms()
        instance.move(InstanceState.BUSY)
        try:
            run = await instance.invoke(invocation_id, call.event, spec.timeout_s, call.info)
        finally:
            self._release(version, instance)
        return clock.outcome(invocation_id, run, cold=cold)

    async def _start_instance(self, version: _Version) -> tuple[Instance, StartTimes]:
        """The one step that makes a new instance, its handler imported. The capacity for it
        is reserved already; on failure the instance is discarded and the room given back."""
        started: list[Instance] = []

        def register(instance: Instance) -> None:
            started.append(instance)
            instance.reserved = True
            version.live.add(instance)
            self._live[instance] = version
            if self._closed:
                instance.kill("the worker is shutting down")

        try:
            return await self._launcher.launch(version.spec, register)
        except BaseException as exc:
            if started:
                self._discard(version, started[0])
            else:
                self._unreserve(version.spec)
            if isinstance(exc, OSError):
                raise ServiceUnavailable(f"could not start an instance: {exc}") from exc
            raise

    def _take_idle(self, version: _Version) -> Instance | None:
        while version.idle:
            instance = version.idle.pop()
            if instance.alive:
                return instance
            self._discard(version, instance)  # died while idle (a thread it left running)
        return None

    def _release(self, version: _Version, instance: Instance, *, served: bool = True) -> None:
        if not instance.reusable or version.retired or self._closing:
            self._discard(version, instance)
        elif self._settings.reuse_instances or not served:
            # reuse_instances=False: an instance serves one call; one started ahead of calls
            # (min_warm) has served none yet and waits idle for its one.
            instance.move(InstanceState.IDLE)
            version.idle.append(instance)
            self._capacity.signal.notify_all()  # an idle instance can be evicted for room
        else:
            # A one-shot instance that served its call well: stop it once its caller has the
            # answer (the route writes it before it next yields to the loop).
            asyncio.get_running_loop().call_soon(self._discard, version, instance)

    # the import check of a new version

    async def prepare(self, spec: VersionSpec) -> Prepared:
        self._ensure_open()
        version = await self._current(spec)
        version.calls += 1  # in use: nothing of the version is evicted or reaped meanwhile
        try:
            times = await self._launcher.prepare(spec)
            if times is None:
                times = await self._start_idle(version)
        except StartFailed as failure:
            return Prepared(failure.error, failure.logs)
        except OSError as exc:
            raise ServiceUnavailable(f"could not start the version: {exc}") from exc
        finally:
            version.calls -= 1
        return Prepared(None, init_ms=times.init_ms)

    async def _start_idle(self, version: _Version) -> StartTimes:
        """One new instance (its handler imported), kept idle for the version's first call."""
        await self._reserve(version.spec, time.perf_counter() + self._settings.queue_timeout_s)
        instance, times = await self._start_instance(version)
        version.idle.append(instance)  # a launched instance is idle already
        self._capacity.signal.notify_all()
        return times

    # capacity

    async def _reserve(self, spec: VersionSpec, deadline: float) -> None:
        if spec.memory_mb > self._settings.max_memory_mb:
            raise ServiceUnavailable(
                f"an instance needs {spec.memory_mb} MB; this worker has "
                f"{self._settings.max_memory_mb} MB in all"
            )
        self._make_namespace_room(spec)
        while not self._capacity.fits(spec.memory_mb):
            if self._evict_one(keep=spec.key, spare_min_warm=False):
                continue
            if not await self._capacity.signal.wait(deadline - time.perf_counter()):
                raise TooManyRequests(
                    "the worker is at its instance or memory limit", retry_after_s=_RETRY_AFTER_S
                )
            self._ensure_open()
            self._make_namespace_room(spec)  # the wait may have let its own calls start
        self._capacity.charge(spec.memory_mb)
        self._tenants.charge(spec)

    def _unreserve(self, spec: VersionSpec) -> None:
        self._capacity.refund(spec.memory_mb)
        self._tenants.refund(spec)

    def _make_namespace_room(self, spec: VersionSpec) -> None:
        """Room under the namespace's memory quota for one more instance: its own idle
        instances are stopped for it, least recently used first; with only busy ones left,
        `QuotaExceeded` (429: they finish soon)."""
        while not self._tenants.memory_fits(spec):
            idle = [
                (instance.last_used, instance, version)
                for version in self._versions.values()
                if version.spec.namespace_id == spec.namespace_id
                for instance in version.idle
            ]
            if not idle:
                raise self._tenants.memory_refusal(spec)
            _, instance, version = min(idle, key=lambda entry: entry[0])
            self._discard(version, instance, "evicted for its namespace's memory quota")

    def _evict_one(self, keep: tuple[str, int] | None, *, spare_min_warm: bool) -> bool:
        """Stop the least recently used idle instance, else one thing the launcher keeps.
        `spare_min_warm` leaves alone the idle instances that versions' `min_warm` keeps."""
        idle = [
            (i.last_used, i, v)
            for v in self._versions.values()
            if not spare_min_warm or len(v.live) > v.spec.min_warm
            for i in v.idle
        ]
        if idle:
            _, instance, version = min(idle, key=lambda entry: entry[0])
            self._discard(version, instance, "evicted to make room")
            return True
        # A version with a call in flight may be forking from its zygote right now.
        in_use = {key for key, version in self._versions.items() if not version.unused}
        return self._launcher.evict(keep, in_use)

    def _relieve_memory_pressure(self) -> int:
        """Evict while the host's available memory is under the floor; each stop is counted
        at its charge, so a round stops at most about the shortfall, and the next round
        (once the kernel has freed what was stopped) looks again."""
        available = available_mb()
        floor = self._settings.min_available_memory_mb
        if available is None or available >= floor:
            return 0
        evicted, charged_before = 0, self._capacity.memory_mb
        while charged_before - self._capacity.memory_mb < floor - available:
            if not self._evict_one(keep=None, spare_min_warm=True):
                break
            evicted += 1
        if evicted:
            log.warning(
                "host memory is low (%d MB available, floor %d MB): evicted %d",
                available,
                floor,
                evicted,
            )
        return evicted

    # stopping instances

    def _discard(
        self, version: _Version, instance: Instance, reason: str | None = None
    ) -> asyncio.Task[None] | None:
        """Stop an instance: kill it now, reap it in the background. Idempotent."""
        if instance.state is InstanceState.STOPPING:
            return None
        instance.move(InstanceState.STOPPING)
        instance.kill(reason)
        version.live.discard(instance)
        self._live.pop(instance, None)
        if instance in version.idle:
            version.idle.remove(instance)
        if instance.reserved:
            instance.reserved = False
            self._unreserve(instance.spec)
        task = asyncio.ensure_future(self._finish(version, instance))
        self._cleanups.add(task)
        task.add_done_callback(self._cleanups.discard)
        return task

    async def _finish(self, version: _Version, instance: Instance) -> None:
        try:
            await instance.close()
            current = self._versions.get(version.spec.key)
            if version.unused and (current is None or current.unused):
                await self._launcher.version_unused(version.spec)
        except Exception:
            log.exception("stopping instance %s failed", instance.name)

    async def _discard_all(self, version: _Version, instances: list[Instance], reason: str) -> int:
        tasks = [task for i in instances if (task := self._discard(version, i, reason)) is not None]
        await asyncio.gather(*tasks)
        return len(tasks)

    async def reap_idle(self) -> int:
        """Stop instances idle past their keep-alive (keeping `min_warm`); the reaper's round.

        It first waits for the stops already under way: a forked instance is reaped by its
        zygote, a moment after it was killed, and a round leaves nothing of them behind.
        """
        if self._cleanups:
            await asyncio.gather(*self._cleanups, return_exceptions=True)
        now = time.monotonic()
        stopped = 0
        for key, version in list(self._versions.items()):
            spec = version.spec
            dead = [i for i in version.idle if not i.alive]
            stopped += await self._discard_all(version, dead, "died while idle")
            expired = [i for i in version.idle if now - i.last_used >= spec.keep_alive_s]
            surplus = max(0, len(version.live) - spec.min_warm)
            expired.sort(key=lambda instance: instance.last_used)
            stopped += await self._discard_all(version, expired[:surplus], "idle past keep-alive")
            if version.unused and spec.min_warm == 0:
                del self._versions[key]
        await self._launcher.reap({key for key, v in self._versions.items() if v.live})
        stopped += self._relieve_memory_pressure()
        # Instances kept warm that died or were killed (a timeout) are started again.
        for version in list(self._versions.values()):
            if len(version.live) < version.spec.min_warm:
                await self.ensure_warm(version.spec)
        return stopped

    async def ensure_warm(self, spec: VersionSpec) -> int:
        """Start idle instances until `spec.min_warm` of the version live (like provisioned
        concurrency). Stops early, without waiting or evicting, when the worker is full."""
        self._ensure_open()
        version = await self._current(spec)
        started = 0
        while (
            len(version.live) < spec.min_warm
            and not version.retired
            and self._capacity.fits(spec.memory_mb)
            and self._tenants.memory_fits(spec)
        ):
            self._capacity.charge(spec.memory_mb)
            self._tenants.charge(spec)
            try:
                instance, _ = await self._start_instance(version)
            except (StartFailed, ServiceUnavailable) as failure:
                log.warning("could not keep %s warm: %s", spec.function_name, failure)
                break
            version.idle.append(instance)  # a launched instance is idle already
            self._capacity.signal.notify_all()
            started += 1
        return started

    async def retain(self, function_id: str, keep: set[int]) -> None:
        """Nothing routes calls to the function's versions outside `keep` any more: retire
        what the pool holds of them. Busy instances finish their call first; a call that
        still names a retired version (`?version=N`) starts it anew."""
        held = {key[1] for key in self._versions if key[0] == function_id}
        kept = self._launcher.kept()
        held |= {k.spec.version for k in kept if k.spec.function_id == function_id}
        for number in sorted(held - keep):
            await self.retire_version(function_id, number)

    async def stop_function(self, function_id: str) -> None:
        for key, version in list(self._versions.items()):
            if key[0] == function_id:
                del self._versions[key]
                version.retired = True
                await self._discard_all(version, list(version.live), "the function was deleted")
        # Busy instances of versions retired earlier are not in _versions any more.
        orphans = [(i, v) for i, v in self._live.items() if i.spec.function_id == function_id]
        for instance, version in orphans:
            await self._discard_all(version, [instance], "the function was deleted")
        await self._launcher.retire(function_id)

    async def retire_version(self, function_id: str, version: int) -> None:
        await self._launcher.retire(function_id, version)  # its zygote, even with no instance
        retired = self._versions.pop((function_id, version), None)
        if retired is None:
            return
        retired.retired = True  # busy instances stop when their invocation ends
        await self._discard_all(retired, list(retired.idle), "the version was retired")

    # shutdown and inspection

    def egress_denied(self) -> dict[tuple[str, str], int]:
        """Denied connection attempts by (namespace, function), from the kernel's counters."""
        by_group = self._starter.egress_denied_counts()
        for version in self._versions.values():
            spec = version.spec
            self._group_owner[group_name(spec)] = (spec.namespace, spec.function_name)
        totals: dict[tuple[str, str], int] = {}
        for group, count in by_group.items():
            owner = self._group_owner.get(group)
            if owner is not None:
                totals[owner] = totals.get(owner, 0) + count
        return totals

    def stats(self) -> PoolStats:
        return snapshot(self._live, self._capacity, self._launcher.kept())

    def has_idle(self, key: tuple[str, int]) -> bool:
        """Whether the version has an idle instance: a worker's admission asks this on every
        call, where a `stats()` snapshot would walk every instance."""
        version = self._versions.get(key)
        return version is not None and bool(version.idle)

    def busy_count(self) -> int:
        """Instances running a call now: a worker's CPU admission asks this, a count
        without the rest of a `stats()` snapshot (spares, zygotes, versions)."""
        return sum(1 for instance in self._live if instance.state is InstanceState.BUSY)

    def namespace_use(self, namespace_id: str) -> NamespaceUse:
        return self._tenants.use(namespace_id)

    async def close(self, grace_s: float) -> None:
        if self._close_task is None:
            self._close_task = asyncio.ensure_future(self._close(grace_s))
        await asyncio.shield(self._close_task)

    async def _close(self, grace_s: float) -> None:
        self._closing = True
        shutting_down = ServiceUnavailable("the worker is shutting down")
        for gate in self._gates.values():
            gate.fail_waiters(shutting_down)
        self._capacity.signal.fail_waiters(shutting_down)
        await self.reaper.stop()
        await self._wait_inflight(grace_s)
        self._closed = True
        for instance, version in list(self._live.items()):
            if instance.state is InstanceState.BUSY:
                instance.cancel(_CANCELLED)  # its call ends `cancelled`, answered 503
            self._discard(version, instance, "the worker shut down")
        await self._wait_inflight(_KILLED_DRAIN_S)
        while self._cleanups:
            await asyncio.gather(*self._cleanups)
        await self._launcher.close()
        await self._starter.close()

    async def _wait_inflight(self, timeout_s: float) -> None:
        if self._inflight == 0:
            return
        self._drained = asyncio.Event()
        try:
            await asyncio.wait_for(self._drained.wait(), timeout_s)
        except TimeoutError:
            pass
        finally:
            self._drained = None

    def _ensure_open(self) -> None:
        if self._closing:
            raise ServiceUnavailable("the worker is shutting down")

    async def _current(self, spec: VersionSpec) -> _Version:
        """The version's state in the pool, started afresh when `spec` holds other secret
        values than what is running (a secret changed since): no call after the change is
        served by an instance, spare or zygote that holds the old value."""
        version = self._versions.get(spec.key)
        if version is not None and version.spec is not spec and _secrets_differ(version.spec, spec):
            await self.retire_version(spec.function_id, spec.version)
        return self._version(spec)

    def _version(self, spec: VersionSpec) -> _Version:
        version = self._versions.get(spec.key)
        if version is None:
            version = self._versions[spec.key] = _Version(spec)
        return version


def _secrets_differ(running: VersionSpec, given: VersionSpec) -> bool:
    return running.secret_env != given.secret_env or running.secret_files != given.secret_files
