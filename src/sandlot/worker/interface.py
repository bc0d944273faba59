"""The narrow interface between the runtime pool and the rest of Sandlot.

Services hand the pool a `VersionSpec` (everything needed to run one version, no database
handle) and raw event bytes, and get back an `InvokeOutcome`. Nothing here assumes the
pool lives in the API's process, so a remote worker can implement the same `Pool`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from sandlot.domain.egress import NONE, EgressPolicy
from sandlot.domain.states import InvocationState

# Importing the handler has its own budget, as on Lambda: heavy imports should not need a
# long invocation timeout, and a short one should not make them impossible.
MIN_IMPORT_TIMEOUT_S = 10.0


def import_timeout_s(timeout_s: float) -> float:
    """How long a version's handler may take to import (in its zygote or an instance)."""
    return max(MIN_IMPORT_TIMEOUT_S, float(timeout_s))


@dataclass(frozen=True)
class CallInfo:
    """What one call says about itself beyond its event, for the handler's context: the
    qualifier the caller named (an alias, or a version number as text; None: latest), and
    Lambda's client context (the decoded `X-Amz-Client-Context`), if any."""

    qualifier: str | None = None
    client_context: Mapping[str, Any] | None = None


NO_CALL_INFO = CallInfo()


@dataclass(frozen=True)
class NamespaceLimits:
    """The quotas of a version's namespace that the pool enforces per call and per instance
    start (`worker.tenants`); None: no limit."""

    concurrency: int | None = None
    memory_mb: int | None = None
    rate_per_minute: int | None = None


NO_LIMITS = NamespaceLimits()


@dataclass(frozen=True)
class NamespaceUse:
    """What a namespace uses in this pool right now."""

    calls: int = 0  # held: running or queued
    memory_mb: int = 0  # the memory sizes of its live instances
    rate_used: int = 0  # tokens of its rate bucket spent and not yet refilled


@dataclass(frozen=True)
class VersionSpec:
    function_id: str
    namespace: str
    function_name: str
    version: int
    handler: str
    memory_mb: int
    timeout_s: int
    env: Mapping[str, str]
    code_dir: Path
    site_packages: tuple[Path, ...] = ()
    max_concurrency: int = 10
    min_warm: int = 0
    keep_alive_s: float = 600.0
    tmp_mb: int = 64
    namespace_id: str = ""
    limits: NamespaceLimits = NO_LIMITS
    # Secrets, resolved when the spec was made (never stored, never in a repr): as
    # environment variables, and as files under /run/secrets (sandboxed zygotes only).
    secret_env: Mapping[str, str] = field(default_factory=dict, repr=False)
    secret_files: Mapping[str, str] = field(default_factory=dict, repr=False)
    # What the version's network may reach; the sandbox enforces it (default: nothing).
    egress: EgressPolicy = NONE
    # The root logger's level in its instances (None: INFO, and no AWS_LAMBDA_LOG_LEVEL).
    log_level: str | None = None
    # Content addresses of what `code_dir` and `site_packages` hold: the sha256 of the code's
    # zip and the environment's lock hash (None: no dependencies). A spec sent to another
    # machine carries these; the worker there turns them into paths on its own disk.
    code_sha256: str = ""
    env_key: str | None = None

    @property
    def secret_values(self) -> list[str]:
        """Every value an instance of this version holds, for masking its logs."""
        return [*self.secret_env.values(), *self.secret_files.values()]

    @property
    def key(self) -> tuple[str, int]:
        return (self.function_id, self.version)


@dataclass(frozen=True)
class Timings:
    """Milliseconds spent in each step of one invocation."""

    queue_ms: float = 0.0
    start_ms: float = 0.0  # starting an instance (cold starts only): process, sandbox, imports
    init_ms: float = 0.0  # of start_ms: importing the handler module (in the zygote, if one)
    handler_ms: float = 0.0
    total_ms: float = 0.0
    # Of start_ms, with zygotes: starting the version's zygote (first start only; includes
    # init_ms), forking from it, and the per-instance layers (cgroup, /tmp, Landlock...).
    zygote_ms: float = 0.0
    fork_ms: float = 0.0
    layers_ms: float = 0.0

    def as_dict(self) -> dict[str, float]:
        return {
            "queue_ms": round(self.queue_ms, 3),
            "start_ms": round(self.start_ms, 3),
            "init_ms": round(self.init_ms, 3),
            "handler_ms": round(self.handler_ms, 3),
            "total_ms": round(self.total_ms, 3),
            "zygote_ms": round(self.zygote_ms, 3),
            "fork_ms": round(self.fork_ms, 3),
            "layers_ms": round(self.layers_ms, 3),
        }


@dataclass(frozen=True)
class FunctionErrorInfo:
    """Why an invocation failed. `kind` is the name of a `FunctionFailure` subclass."""

    kind: str
    message: str
    exception_type: str | None = None
    traceback: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "message": self.message}
        if self.exception_type is not None:
            out["exception_type"] = self.exception_type
        if self.traceback is not None:
            out["traceback"] = self.traceback
        out.update(self.extra)
        return out


@dataclass(frozen=True)
class InvokeOutcome:
    invocation_id: str
    state: InvocationState
    result_json: bytes | None  # the handler's return value, already JSON-encoded
    error: FunctionErrorInfo | None
    logs: str
    logs_truncated: bool
    cold_start: bool
    timings: Timings
    started_at: datetime
    finished_at: datetime


@dataclass(frozen=True)
class Prepared:
    """How a version's import check ended: `error` is None when its handler imported.

    `logs` is what the module printed while it failed to import; `init_ms` how long a
    successful import took (0 when something already running had imported it).
    """

    error: FunctionErrorInfo | None
    logs: str = ""
    init_ms: float = 0.0


@dataclass(frozen=True)
class VersionHeld:
    """What the pool holds for one version: its live instances, its zygote, its spares."""

    namespace: str
    function_name: str
    version: int
    instances: int = 0  # starting, idle and busy
    busy: int = 0
    memory_mb: int = 0  # reserved by those instances
    zygote: bool = False
    spares: int = 0  # being made or ready, not yet taken by a call
    # The version's function, for what routes by (function id, version): a worker's
    # heartbeat says which versions it holds warm.
    function_id: str = ""


@dataclass(frozen=True)
class PoolStats:
    instances: int
    busy: int
    memory_mb: int  # reserved by live instances for their calls
    charged_mb: int  # against max_memory_mb: those instances, spares and zygotes
    per_function: Mapping[str, int]  # live instances by function name
    max_memory_mb: int = 0
    charged_instances: int = 0  # against max_instances: instances and spares
    max_instances: int = 0
    zygotes: int = 0
    spares: int = 0
    versions: tuple[VersionHeld, ...] = ()  # by namespace, function and version

    @property
    def idle(self) -> int:
        """Live instances not running a call (starting ones included)."""
        return self.instances - self.busy


class Pool(Protocol):
    async def start(self) -> None: ...

    async def invoke(
        self,
        spec: VersionSpec,
        invocation_id: str,
        event: bytes,
        call: CallInfo = NO_CALL_INFO,
    ) -> InvokeOutcome:
        """Run one invocation. Function failures come back as an outcome, never raised.
        `call` is what the handler's context says about the call beyond the version's own.

        Raises `TooManyRequests` when the function stays at its concurrency limit for the
        bounded queue time, `QuotaExceeded` when the namespace is at its rate, concurrency
        or memory quota (`spec.limits`), and `ServiceUnavailable` when the pool is closing.
        """

    async def prepare(self, spec: VersionSpec) -> Prepared:
        """Import the version's handler in its own sandbox, as its instances will, and keep
        what that started (its zygote; without zygotes, one idle instance) so that the
        first call is a fast cold start. Bounded by `import_timeout_s(spec.timeout_s)`.

        An import that fails (the module raises, a dependency is missing, the handler is
        missing or not callable, the import runs out of time or memory) comes back as
        `Prepared.error`, never raised. Raises `ServiceUnavailable` (or `TooManyRequests`,
        the worker staying full) when the check cannot run at all.
        """

    async def ensure_warm(self, spec: VersionSpec) -> int:
        """Start instances until `spec.min_warm` are ready; returns how many started."""

    async def retain(self, function_id: str, keep: set[int]) -> None:
        """Retire every version of the function that the pool holds (instances, zygote,
        spares) and that is not in `keep`; busy instances finish their call first."""

    async def stop_function(self, function_id: str) -> None:
        """Stop every instance of every version of a function (it was deleted)."""

    async def retire_version(self, function_id: str, version: int) -> None:
        """Stop a retired version's instances once idle."""

    def stats(self) -> PoolStats: ...

    def namespace_use(self, namespace_id: str) -> NamespaceUse:
        """The namespace's calls, instance memory and spent rate in this pool."""

    async def close(self, grace_s: float) -> None:
        """Let in-flight invocations finish within `grace_s`, then stop every process; calls
        still running then end `cancelled` (error kind `ServiceUnavailable`)."""
