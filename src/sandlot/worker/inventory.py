"""What the pool holds right now, gathered into one `PoolStats` for the API and /metrics.

The pool knows its live instances, the launcher what it keeps beside them (zygotes, spares)
and `Capacity` what all of it is charged; this module only counts, so that neither the pool
nor the launcher grows an inspection method per question an operator asks.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from sandlot.domain.states import InstanceState
from sandlot.worker.capacity import Capacity
from sandlot.worker.instance import Instance
from sandlot.worker.interface import PoolStats, VersionHeld, VersionSpec


@dataclass(frozen=True)
class Kept:
    """What a launcher keeps for one version besides the pool's instances."""

    spec: VersionSpec
    zygote: bool = False
    spares: int = 0


@dataclass
class _Tally:
    spec: VersionSpec
    instances: int = 0
    busy: int = 0
    memory_mb: int = 0
    zygote: bool = False
    spares: int = 0

    def held(self) -> VersionHeld:
        return VersionHeld(
            namespace=self.spec.namespace,
            function_name=self.spec.function_name,
            version=self.spec.version,
            instances=self.instances,
            busy=self.busy,
            memory_mb=self.memory_mb,
            zygote=self.zygote,
            spares=self.spares,
            function_id=self.spec.function_id,
        )


def snapshot(live: Iterable[Instance], capacity: Capacity, kept: Iterable[Kept]) -> PoolStats:
    instances = list(live)
    tallies: dict[tuple[str, int], _Tally] = {}
    for instance in instances:
        tally = tallies.setdefault(instance.spec.key, _Tally(instance.spec))
        tally.instances += 1
        tally.busy += instance.state is InstanceState.BUSY
        tally.memory_mb += instance.spec.memory_mb
    kept = list(kept)
    for each in kept:
        tally = tallies.setdefault(each.spec.key, _Tally(each.spec))
        tally.zygote = tally.zygote or each.zygote
        tally.spares += each.spares
    versions = sorted(
        (tally.held() for tally in tallies.values()),
        key=lambda v: (v.namespace, v.function_name, v.version),
    )
    return PoolStats(
        instances=len(instances),
        busy=sum(v.busy for v in versions),
        memory_mb=sum(v.memory_mb for v in versions),
        charged_mb=capacity.memory_mb,
        per_function=dict(Counter(i.spec.function_name for i in instances)),
        max_memory_mb=capacity.max_memory_mb,
        charged_instances=capacity.instances,
        max_instances=capacity.max_instances,
        zygotes=sum(1 for each in kept if each.zygote),
        spares=sum(each.spares for each in kept),
        versions=tuple(versions),
    )
