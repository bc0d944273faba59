"""Workers as the API servers see them, and the order in which a version tries them.

A worker heartbeats a `WorkerInfo` into the registry every `heartbeat_interval_s`; every API
server reads the same rows, so the order below (rendezvous hashing) is the same on each of
them without any coordination, and a worker joining or leaving moves only the versions whose
first choice it is or becomes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

VersionKey = tuple[str, int]  # function id, version number


@dataclass(frozen=True)
class WarmVersion:
    """What a worker holds for one version: idle warm instances, and all of its instances."""

    function_id: str
    version: int
    idle: int = 0
    instances: int = 0
    busy: int = 0

    @property
    def key(self) -> VersionKey:
        return (self.function_id, self.version)


@dataclass(frozen=True)
class WorkerInfo:
    """One worker's row in the registry: where to reach it and what it has, as of its last
    heartbeat. `ready` are the versions whose code and environment are on its disk and whose
    handler imported there (a call to them never waits for a build)."""

    id: str
    url: str
    hostname: str = ""
    started_at: datetime | None = None
    heartbeat_at: datetime | None = None
    draining: bool = False  # the worker says so: it admits nothing new
    drain_requested: bool = False  # an operator asked (`sandlot workers drain`)
    free_mb: int = 0
    max_memory_mb: int = 0
    instances: int = 0
    busy: int = 0
    max_instances: int = 0
    cpus: float = 0.0  # the CPUs it may use (0: not said, no CPU check)
    warm: tuple[WarmVersion, ...] = ()
    ready: frozenset[VersionKey] = field(default_factory=frozenset)
    package_version: str = ""

    def is_live(self, now: datetime, stale_after_s: float) -> bool:
        """Heard from within `stale_after_s`."""
        if self.heartbeat_at is None:
            return False
        return now - self.heartbeat_at <= timedelta(seconds=stale_after_s)

    def idle_of(self, key: VersionKey) -> int:
        for warm in self.warm:
            if warm.key == key:
                return warm.idle
        return 0

    def is_ready_for(self, key: VersionKey) -> bool:
        return key in self.ready


def _score(key: VersionKey, worker_id: str) -> int:
    digest = hashlib.blake2b(
        f"{key[0]}\x00{key[1]}\x00{worker_id}".encode(), digest_size=8
    ).digest()
    return int.from_bytes(digest, "big")


def rendezvous_order(key: VersionKey, workers: Iterable[WorkerInfo]) -> list[WorkerInfo]:
    """The workers in the version's own order (highest random weight first): the first is
    its home worker. Stable for a given membership; ties cannot happen in practice (64-bit
    scores) and break on the id."""
    return sorted(workers, key=lambda w: (_score(key, w.id), w.id), reverse=True)


def live_workers(
    workers: Sequence[WorkerInfo], now: datetime, stale_after_s: float
) -> list[WorkerInfo]:
    """The workers a call may go to: heard from lately and not draining."""
    return [
        w
        for w in workers
        if w.is_live(now, stale_after_s) and not w.draining and not w.drain_requested
    ]


def has_room(worker: WorkerInfo, memory_mb: int) -> bool:
    """Whether the worker can start one more instance of `memory_mb` (as of its last beat)."""
    return worker.free_mb >= memory_mb and worker.instances < worker.max_instances


def has_cpu(worker: WorkerInfo) -> bool:
    """Whether the worker runs fewer calls than it has CPUs (as of its last beat; a worker
    that does not say its CPUs always has some). Another instance on a worker whose CPUs
    are all busy only slows every call on it down, so a hot version goes to the next."""
    return worker.cpus <= 0 or worker.busy < worker.cpus


def can_evict(worker: WorkerInfo) -> bool:
    """Whether the worker holds idle instances (of any version) that its pool would stop to
    make room, as a single machine's pool does when it is full."""
    return worker.instances > worker.busy


def choose_workers(
    key: VersionKey, live: Iterable[WorkerInfo], memory_mb: int, tries: int = 3
) -> list[WorkerInfo]:
    """The workers a call to the version tries, in order, at most `tries` of them.

    Within the version's rendezvous order: first those with a warm idle instance of it (no
    cold start), then those with room that have it ready (a cold start, no build; those
    with a CPU to spare first, then the least loaded), then
    those with room that do not (they get a prepare first); last, those whose room is taken
    by idle instances of other versions (the worker evicts one), ready ones first. A worker
    with none of these is left out, so a hot version whose home worker is saturated spreads
    to the next ones of its order, and every API server spreads it the same way."""
    order = rendezvous_order(key, live)
    warm = [w for w in order if w.idle_of(key) > 0]
    rest = [w for w in order if w.idle_of(key) <= 0]
    roomy = [w for w in rest if has_room(w, memory_mb)]
    evicting = [w for w in rest if not has_room(w, memory_mb) and can_evict(w)]
    tiers = [
        warm,
        [w for w in roomy if w.is_ready_for(key) and has_cpu(w)],
        # All of their CPUs busy: the least loaded first (a stable sort keeps the order).
        sorted(
            (w for w in roomy if w.is_ready_for(key) and not has_cpu(w)),
            key=lambda w: w.busy / w.cpus,
        ),
        [w for w in roomy if not w.is_ready_for(key)],
        [w for w in evicting if w.is_ready_for(key)],
        [w for w in evicting if not w.is_ready_for(key)],
    ]
    return [w for tier in tiers for w in tier][: max(0, tries)]
