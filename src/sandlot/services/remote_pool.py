"""The `Pool` of an API server (role api): every call goes to a worker over HTTP.

A call tries at most three workers, in the order `domain.cluster.choose_workers` gives for
its version over the live workers of the registry (held in memory: no database read per
call). A worker answers a refusal (full, draining, not prepared) before it starts anything,
and a worker that cannot be reached has started nothing either: both send the call on to
the next one. Once the request has gone out, a broken connection is never retried, since
the function may have run: the call ends as the named failure `WorkerLost` (the API's 502).
Any other error the worker names is the call's own (a quota, the function's concurrency)
and is raised here as the same `sandlot.domain.errors` class.

The hop uses aiohttp with keep-alive (one `ClientSession` per pool): measured here, its
round trip is a fraction of httpx's (README "More machines").
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import Enum
from typing import Any

import aiohttp
import orjson

from sandlot.domain import errors
from sandlot.domain.cluster import VersionKey, WorkerInfo, choose_workers, has_cpu
from sandlot.domain.cluster_auth import sign
from sandlot.domain.states import InvocationState
from sandlot.services import cluster_wire as wire
from sandlot.services.registry import Registry
from sandlot.worker.interface import (
    NO_CALL_INFO,
    CallInfo,
    FunctionErrorInfo,
    InvokeOutcome,
    NamespaceUse,
    PoolStats,
    Prepared,
    Timings,
    VersionSpec,
    import_timeout_s,
)

log = logging.getLogger(__name__)

MAX_TRIES = 3
# Past the call's own budget (its import on a cold start, then its timeout), how long the
# answer may take before the worker counts as lost.
ANSWER_MARGIN_S = 5.0
# Below the worker's server keep-alive (uvicorn's 5 s), so that this side closes an idle
# connection first: a connection the worker had closed would break when reused, and a break
# after sending is a lost call.
KEEPALIVE_S = 3.0
# A kill's answer (one row read on the worker); past it the worker's own round stops the call.
KILL_READ_S = 3.0


class _Tried(Enum):
    NEXT = "next"  # refused, or never reached: nothing started there
    BUSY = "busy"  # refused only because its CPUs are busy: it takes the call if nobody will


@dataclass(frozen=True)
class RemoteOptions:
    connect_timeout_s: float = 2.0
    control_timeout_s: float = 30.0
    tries: int = MAX_TRIES


class WorkerCallLost(Exception):
    """The connection to a worker broke after the request went out."""


class RemotePool:
    def __init__(
        self, *, registry: Registry, cluster_key: bytes, options: RemoteOptions | None = None
    ) -> None:
        self.registry = registry
        self.cluster_key = cluster_key
        self.options = options or RemoteOptions()
        self._session: aiohttp.ClientSession | None = None
        # Versions this server prepared on a worker, until its heartbeat says so itself.
        self._prepared: set[tuple[str, VersionKey]] = set()
        self._preparing: set[tuple[str, VersionKey]] = set()  # spares, in the background
        # Calls this server has sent to each worker and not yet had answered: fresher than
        # the `busy` of the worker's last heartbeat, which every call of a second would see.
        self._sent: Counter[str] = Counter()
        self._background: set[asyncio.Task[Any]] = set()
        self._closing = False
        self._in_flight = 0
        self._none_in_flight = asyncio.Event()
        self._none_in_flight.set()

    async def start(self) -> None:
        connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=KEEPALIVE_S)
        self._session = aiohttp.ClientSession(
            connector=connector, cookie_jar=aiohttp.DummyCookieJar(), auto_decompress=False
        )

    async def close(self, grace_s: float) -> None:
        """Take no new call, give the calls in flight `grace_s` to come back from their
        workers (closing the connections under them would make them `WorkerLost`), then
        let go of the connections and of the prepares still under way."""
        self._closing = True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._none_in_flight.wait(), grace_s)
        for task in self._background:
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
            self._session = None

    # -- calls ---------------------------------------------------------------------------

    async def invoke(
        self,
        spec: VersionSpec,
        invocation_id: str,
        event: bytes,
        call: CallInfo = NO_CALL_INFO,
    ) -> InvokeOutcome:
        if self._closing:
            raise errors.ServiceUnavailable("the server is shutting down; try another one")
        self._in_flight += 1
        self._none_in_flight.clear()
        try:
            return await self._invoke(spec, invocation_id, event, call)
        finally:
            self._in_flight -= 1
            if self._in_flight == 0:
                self._none_in_flight.set()

    async def _invoke(
        self, spec: VersionSpec, invocation_id: str, event: bytes, call: CallInfo
    ) -> InvokeOutcome:
        read_s = import_timeout_s(spec.timeout_s) + spec.timeout_s + ANSWER_MARGIN_S
        started_at = datetime.now(UTC)
        candidates = self._candidates(spec)
        self._spread(spec, candidates)
        busy: list[WorkerInfo] = []
        for index, worker in enumerate(candidates):
            others_left = index < len(candidates) - 1
            if not self._has_ready(worker, spec.key):
                prepared = await self._prepare_on(worker, spec)
                if isinstance(prepared, _Tried):
                    continue
            body = wire.invoke_request(spec, invocation_id, event, call, others_left=others_left)
            answer = await self._call_on(worker, body, read_s)
            if answer is _Tried.BUSY:
                busy.append(worker)
            if isinstance(answer, _Tried):
                continue
            if isinstance(answer, WorkerCallLost):
                return _lost(worker, invocation_id, started_at, str(answer))
            return wire.outcome_from_wire(answer)
        for worker in busy[:1]:
            # Every other one refused or could not be reached: a busy worker takes it.
            body = wire.invoke_request(spec, invocation_id, event, call)
            answer = await self._call_on(worker, body, read_s)
            if isinstance(answer, WorkerCallLost):
                return _lost(worker, invocation_id, started_at, str(answer))
            if not isinstance(answer, _Tried):
                return wire.outcome_from_wire(answer)
        raise _nobody(spec)

    async def _call_on(
        self, worker: WorkerInfo, body: bytes, read_s: float
    ) -> bytes | _Tried | WorkerCallLost:
        """One invoke sent to one worker, counted as in flight there meanwhile."""
        self._sent[worker.id] += 1
        try:
            return await self._send(worker, wire.INVOKE_PATH, body, read_s)
        except WorkerCallLost as lost:
            return lost
        finally:
            self._sent[worker.id] -= 1
            if not self._sent[worker.id]:
                del self._sent[worker.id]

    async def prepare(self, spec: VersionSpec) -> Prepared:
        """On the version's first candidate that takes it (awaited: its answer is this
        one's), and in the background on the next, so that a second worker is ready too."""
        candidates = self._candidates(spec)
        for index, worker in enumerate(candidates):
            prepared = await self._prepare_on(worker, spec)
            if isinstance(prepared, _Tried):
                continue
            if prepared.error is None:
                for spare in candidates[index + 1 : index + 2]:
                    self._in_background(self._prepare_on(spare, spec))
            return prepared
        raise _nobody(spec)

    async def _prepare_on(self, worker: WorkerInfo, spec: VersionSpec) -> Prepared | _Tried:
        body = orjson.dumps({"spec": wire.spec_to_wire(spec)})
        read_s = import_timeout_s(spec.timeout_s) + self.options.control_timeout_s
        try:
            answer = await self._send(worker, wire.PREPARE_PATH, body, read_s)
        except WorkerCallLost as lost:
            # A prepare has no effect a second one would repeat: the next worker may do it.
            log.warning("preparing %s v%s on worker %s: %s", *_names(spec), worker.id, lost)
            return _Tried.NEXT
        if isinstance(answer, _Tried):
            return _Tried.NEXT
        prepared = wire.prepared_from_wire(orjson.loads(answer))
        if prepared.error is None:
            self._prepared.add((worker.id, spec.key))
        return prepared

    def _candidates(self, spec: VersionSpec) -> list[WorkerInfo]:
        live = [self._as_seen_here(w, spec.key) for w in self.registry.live()]
        return choose_workers(spec.key, live, spec.memory_mb, tries=self.options.tries)

    def _as_seen_here(self, worker: WorkerInfo, key: VersionKey) -> WorkerInfo:
        """The worker's last heartbeat, with the calls this server has sent it since: they
        keep its CPUs busy and take the version's idle instances (else every call of that
        second would go to the worker the beat said was idle)."""
        sent = self._sent.get(worker.id, 0)
        extra = max(0, sent - worker.busy)
        if not extra:
            return worker
        warm = tuple(
            replace(held, idle=max(0, held.idle - extra), busy=held.busy + extra)
            if held.key == key
            else held
            for held in worker.warm
        )
        return replace(worker, busy=sent, warm=warm)

    def _spread(self, spec: VersionSpec, candidates: list[WorkerInfo]) -> None:
        """When the version's best worker has no idle instance and no CPU to spare, prepare
        the next one that has a CPU and not the version yet, in the background: the calls
        after this one can go there without waiting for its prepare."""
        if not candidates or candidates[0].idle_of(spec.key) > 0 or has_cpu(candidates[0]):
            return
        for worker in candidates[1:]:
            mark = (worker.id, spec.key)
            if has_cpu(worker) and not self._has_ready(worker, spec.key):
                if mark not in self._preparing:
                    self._preparing.add(mark)
                    self._in_background(self._prepare_spare(worker, spec))
                return

    async def _prepare_spare(self, worker: WorkerInfo, spec: VersionSpec) -> None:
        try:
            await self._prepare_on(worker, spec)
        finally:
            self._preparing.discard((worker.id, spec.key))

    def _has_ready(self, worker: WorkerInfo, key: VersionKey) -> bool:
        if worker.is_ready_for(key) or worker.idle_of(key) > 0:
            self._prepared.discard((worker.id, key))  # its heartbeat says so now
            return True
        return (worker.id, key) in self._prepared

    async def _send(
        self, worker: WorkerInfo, path: str, body: bytes, read_s: float
    ) -> bytes | _Tried:
        """The worker's 200 answer; NEXT (BUSY) when it refused or could not be reached. Raises
        `WorkerCallLost` when the connection broke after the request went out, and the
        domain error the worker named for any other answer."""
        session = self._session
        if session is None:
            raise errors.ServiceUnavailable("the server is not started or is stopping")
        headers = {"content-type": "application/octet-stream"}
        headers.update(sign(self.cluster_key, "POST", path, body))
        timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=self.options.connect_timeout_s, sock_read=read_s
        )
        try:
            async with session.post(
                worker.url.rstrip("/") + path, data=body, headers=headers, timeout=timeout
            ) as response:
                raw = await response.read()
                status, retry_after = response.status, response.headers.get("Retry-After")
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
            log.info("worker %s cannot be reached (%s); trying the next", worker.id, exc)
            self._forget(worker)
            return _Tried.NEXT
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise WorkerCallLost(_why(exc, read_s)) from exc
        if status == 200:
            return raw
        return self._refused_or_raise(worker, path, status, raw, retry_after)

    def _refused_or_raise(
        self, worker: WorkerInfo, path: str, status: int, raw: bytes, retry_after: str | None
    ) -> _Tried:
        name, detail = _error_of(raw)
        if name in wire.REFUSALS:
            if name == wire.NOT_PREPARED:
                self._forget(worker)
            return _Tried.BUSY if name == wire.WORKER_BUSY else _Tried.NEXT
        if name == wire.SIGNATURE_INVALID:
            # A worker with another secret: a setup error, said loudly, routed around.
            log.error("worker %s refuses this server's signature: %s", worker.id, detail)
            return _Tried.NEXT
        raise _domain_error(worker, path, status, name, detail, retry_after)

    def _forget(self, worker: WorkerInfo) -> None:
        self._prepared = {item for item in self._prepared if item[0] != worker.id}

    def _in_background(self, work: Awaitable[Any]) -> None:
        async def run() -> None:
            try:
                await work
            except Exception:
                log.warning("a background prepare failed", exc_info=True)

        task = asyncio.create_task(run(), name="sandlot-remote-prepare")
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # -- control: every worker that may hold something of the version -------------------

    async def ensure_warm(self, spec: VersionSpec) -> int:
        results = await self._broadcast({"op": "ensure_warm", "spec": wire.spec_to_wire(spec)})
        return sum(r for r in results if isinstance(r, int))

    async def retain(self, function_id: str, keep: set[int]) -> None:
        await self._broadcast({"op": "retain", "function_id": function_id, "keep": sorted(keep)})

    async def stop_function(self, function_id: str) -> None:
        await self._broadcast({"op": "stop_function", "function_id": function_id})

    async def retire_version(self, function_id: str, version: int) -> None:
        await self._broadcast(
            {"op": "retire_version", "function_id": function_id, "version": version}
        )

    async def kill(self, worker_id: str, invocation_id: str) -> bool:
        """Tell the worker that ran a cancelled asynchronous call to stop it now (True: it
        did). Sent after the cancel's commit, and the worker kills only a call whose row no
        longer gives it the lease, so no attempt that is still its own can be stopped. A kill
        lost on the way costs time only: the worker's runner finds the row cancelled at its
        next round (`AsyncRunner._drop_lost`), and fencing refuses the attempt's end."""
        worker = next((w for w in self.registry.rows if w.id == worker_id), None)
        if worker is None:
            return False  # gone from the registry: its leases were re-queued or will be
        body = orjson.dumps({"op": "kill", "invocation_id": invocation_id})
        # The cancel's caller waits for this: a stalled worker must not hold it for long.
        return await self._control_on(worker, body, "kill", read_s=KILL_READ_S) is True

    async def _broadcast(self, request: dict[str, Any]) -> list[Any]:
        """The op on every worker heard from lately, draining ones included (they still
        hold instances); what fails is logged, never raised: it is housekeeping."""
        now = datetime.now(UTC)
        workers = [w for w in self.registry.rows if w.is_live(now, self.registry.stale_after_s)]
        body = orjson.dumps(request)
        answers = await asyncio.gather(
            *(self._control_on(w, body, str(request["op"])) for w in workers)
        )
        return [a for a in answers if a is not None]

    async def _control_on(
        self, worker: WorkerInfo, body: bytes, op: str, read_s: float | None = None
    ) -> Any:
        try:
            answer = await self._send(
                worker, wire.CONTROL_PATH, body, read_s or self.options.control_timeout_s
            )
        except (WorkerCallLost, errors.SandlotError) as exc:
            log.warning("%s on worker %s failed: %s", op, worker.id, exc)
            return None
        if isinstance(answer, _Tried):
            return None
        return orjson.loads(answer).get("result")

    # -- what the pool holds: the registry's rows, summed ---------------------------------

    def stats(self) -> PoolStats:
        workers = self.registry.live()
        charged = sum(max(0, w.max_memory_mb - w.free_mb) for w in workers)
        return PoolStats(
            instances=sum(w.instances for w in workers),
            busy=sum(w.busy for w in workers),
            memory_mb=charged,
            charged_mb=charged,
            per_function={},  # the rows name versions by function id, not by name
            max_memory_mb=sum(w.max_memory_mb for w in workers),
            charged_instances=sum(w.instances for w in workers),
            max_instances=sum(w.max_instances for w in workers),
        )

    def namespace_use(self, namespace_id: str) -> NamespaceUse:
        """Nothing here: each worker's pool holds the calls to a namespace's quotas."""
        return NamespaceUse()


def _names(spec: VersionSpec) -> tuple[str, int]:
    return spec.function_name, spec.version


def _nobody(spec: VersionSpec) -> errors.NoWorkerAvailable:
    return errors.NoWorkerAvailable(
        f"no worker took the call to {spec.function_name!r} version {spec.version} "
        "(none registered and live, or all full, draining or unreachable); nothing ran",
        function=spec.function_name,
        version=spec.version,
    )


def _why(exc: BaseException, read_s: float) -> str:
    if isinstance(exc, TimeoutError | aiohttp.ServerTimeoutError):
        return f"no answer within {read_s:.0f} s"
    said = str(exc)
    return f"the connection broke ({type(exc).__name__}{': ' + said if said else ''})"


def _lost(worker: WorkerInfo, invocation_id: str, started_at: datetime, why: str) -> InvokeOutcome:
    finished_at = datetime.now(UTC)
    message = (
        f"worker {worker.id} was lost while it ran the call ({why}); the call is not retried, "
        "since the function may have run"
    )
    return InvokeOutcome(
        invocation_id=invocation_id,
        state=InvocationState.FAILED,
        result_json=None,
        error=FunctionErrorInfo(kind="WorkerLost", message=message, extra={"worker": worker.id}),
        logs="",
        logs_truncated=False,
        cold_start=False,
        timings=Timings(total_ms=(finished_at - started_at).total_seconds() * 1000),
        started_at=started_at,
        finished_at=finished_at,
    )


def _error_of(raw: bytes) -> tuple[str | None, dict[str, Any]]:
    """The name and detail of the internal API's JSON error shape (None: not that shape)."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None, {}
    if not isinstance(data, dict) or not isinstance(data.get("error"), str):
        return None, {}
    detail = data.get("detail")
    return data["error"], detail if isinstance(detail, dict) else {"message": str(detail)}


ErrorClass = Callable[..., errors.SandlotError]


def _domain_error(
    worker: WorkerInfo,
    path: str,
    status: int,
    name: str | None,
    detail: dict[str, Any],
    retry_after: str | None,
) -> errors.SandlotError:
    """The worker's error as the same domain class, with its message and detail."""
    found = getattr(errors, name, None) if name else None
    if not (isinstance(found, type) and issubclass(found, errors.SandlotError)):
        return errors.ServiceUnavailable(
            f"worker {worker.id} answered {path} with HTTP {status} ({name or 'no error name'})",
            worker=worker.id,
        )
    extra = {key: value for key, value in detail.items() if key != "message"}
    if "retry_after_s" not in extra and retry_after is not None and retry_after.isdigit():
        extra["retry_after_s"] = int(retry_after)
    message = str(detail.get("message") or name)
    cls: ErrorClass = found
    try:
        return cls(message, **extra)
    except TypeError:  # a class whose keywords the detail does not match
        return errors.ServiceUnavailable(message, **extra)
