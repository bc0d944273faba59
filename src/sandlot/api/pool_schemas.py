"""The answer of `GET /api/v1/pool`: the worker pool's instances, zygotes, spares and the
memory charged against the server's cap."""

from __future__ import annotations

from pydantic import BaseModel, Field

from sandlot.services.pool import PoolStats, VersionHeld


class InstancesOut(BaseModel):
    total: int = Field(description="Live instances: starting, idle and busy")
    busy: int = Field(description="Running an invocation")
    idle: int = Field(description="Warm (or starting) and free for the next call")
    charged: int = Field(description="Counted against `max`: instances and spares")
    max: int = Field(description="SANDLOT_MAX_INSTANCES")


class MemoryOut(BaseModel):
    reserved_mb: int = Field(description="The memory sizes of the live instances")
    charged_mb: int = Field(description="Charged against `max_mb`: instances, spares, zygotes")
    max_mb: int = Field(description="SANDLOT_MAX_MEMORY_MB")


class VersionHeldOut(BaseModel):
    namespace: str
    function: str
    version: int
    instances: int
    busy: int
    idle: int
    memory_mb: int = Field(description="Reserved by this version's live instances")
    zygote: bool = Field(description="A zygote of this version is running")
    spares: int = Field(description="Instances forked ahead of need, not yet taken")

    @classmethod
    def of(cls, held: VersionHeld) -> VersionHeldOut:
        return cls(
            namespace=held.namespace,
            function=held.function_name,
            version=held.version,
            instances=held.instances,
            busy=held.busy,
            idle=held.instances - held.busy,
            memory_mb=held.memory_mb,
            zygote=held.zygote,
            spares=held.spares,
        )


class PoolOut(BaseModel):
    sandbox: str = Field(description="SANDLOT_SANDBOX: `strict` or `insecure-dev`")
    insecure: bool = Field(description="Functions run without isolation")
    zygotes_enabled: bool = Field(description="SANDLOT_ZYGOTES")
    instances: InstancesOut
    memory: MemoryOut
    zygotes: int = Field(description="Running zygotes, one per version at most")
    spares: int = Field(description="Spare instances, being made or ready")
    versions: list[VersionHeldOut] = Field(
        description="What each version holds, by namespace, function and version"
    )

    @classmethod
    def of(cls, stats: PoolStats, *, sandbox: str, insecure: bool, zygotes: bool) -> PoolOut:
        return cls(
            sandbox=sandbox,
            insecure=insecure,
            zygotes_enabled=zygotes,
            instances=InstancesOut(
                total=stats.instances,
                busy=stats.busy,
                idle=stats.idle,
                charged=stats.charged_instances,
                max=stats.max_instances,
            ),
            memory=MemoryOut(
                reserved_mb=stats.memory_mb,
                charged_mb=stats.charged_mb,
                max_mb=stats.max_memory_mb,
            ),
            zygotes=stats.zygotes,
            spares=stats.spares,
            versions=[VersionHeldOut.of(held) for held in stats.versions],
        )
