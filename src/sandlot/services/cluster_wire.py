"""What travels between an API server and a worker: a version's spec (by content address,
never by path), one call, and what the pool answers. Plain JSON (orjson); an invocation's
event and result stay the bytes they are, framed after one JSON line, so the hop adds no
base64 and no re-encoding of the function's data.

Both ends are the same package, so this module is the whole contract: a field added here is
added on both sides at once.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from sandlot.domain.egress import EgressPolicy
from sandlot.domain.states import InvocationState
from sandlot.worker.interface import (
    CallInfo,
    FunctionErrorInfo,
    InvokeOutcome,
    NamespaceLimits,
    Prepared,
    Timings,
    VersionSpec,
)

# The internal API's paths (a worker serves them; `services.remote_pool` calls them).
INVOKE_PATH = "/internal/v1/invoke"
PREPARE_PATH = "/internal/v1/prepare"
CONTROL_PATH = "/internal/v1/control"  # ensure_warm, retain, stop_function, retire_version,
# and kill (a cancelled async call, `RemotePool.kill`)
STATS_PATH = "/internal/v1/stats"
DRAIN_PATH = "/internal/v1/drain"
HEALTH_PATH = "/internal/v1/health"  # unsigned: liveness for load balancers and systemd

# Refusals a worker answers before it starts anything (the API server then tries the next
# worker of the version's order): the error names of the internal API's JSON error shape.
WORKER_FULL = "WorkerFull"  # 429: no room for another instance or call of this version
# 429: every CPU of the worker runs a call, and the caller said it has another worker to try.
WORKER_BUSY = "WorkerBusy"
WORKER_DRAINING = "WorkerDraining"  # 503: draining or stopping
NOT_PREPARED = "VersionNotPrepared"  # 409: code or environment not on this worker yet
REFUSALS = frozenset({WORKER_FULL, WORKER_BUSY, WORKER_DRAINING, NOT_PREPARED})
# The worker did not run the call because of the call itself (quota, rate, concurrency,
# closing): re-raised in the API server as the same domain error, never retried elsewhere.
SIGNATURE_INVALID = "ClusterSignatureInvalid"  # 401


def spec_to_wire(spec: VersionSpec) -> dict[str, Any]:
    """Everything in the spec but its local paths (secrets included: the channel is signed,
    and must be private or TLS, README "More machines")."""
    return {
        "function_id": spec.function_id,
        "namespace": spec.namespace,
        "function_name": spec.function_name,
        "version": spec.version,
        "handler": spec.handler,
        "memory_mb": spec.memory_mb,
        "timeout_s": spec.timeout_s,
        "env": dict(spec.env),
        "max_concurrency": spec.max_concurrency,
        "min_warm": spec.min_warm,
        "keep_alive_s": spec.keep_alive_s,
        "tmp_mb": spec.tmp_mb,
        "namespace_id": spec.namespace_id,
        "limits": {
            "concurrency": spec.limits.concurrency,
            "memory_mb": spec.limits.memory_mb,
            "rate_per_minute": spec.limits.rate_per_minute,
        },
        "secret_env": dict(spec.secret_env),
        "secret_files": dict(spec.secret_files),
        "egress": spec.egress.as_text(),
        "log_level": spec.log_level,
        "code_sha256": spec.code_sha256,
        "env_key": spec.env_key,
    }


def spec_from_wire(
    data: dict[str, Any], *, code_dir: Path, site_packages: tuple[Path, ...]
) -> VersionSpec:
    """The spec on this worker: its content addresses turned into paths on this disk."""
    limits = data["limits"]
    return VersionSpec(
        function_id=data["function_id"],
        namespace=data["namespace"],
        function_name=data["function_name"],
        version=int(data["version"]),
        handler=data["handler"],
        memory_mb=int(data["memory_mb"]),
        timeout_s=int(data["timeout_s"]),
        env=dict(data["env"]),
        code_dir=code_dir,
        site_packages=site_packages,
        max_concurrency=int(data["max_concurrency"]),
        min_warm=int(data["min_warm"]),
        keep_alive_s=float(data["keep_alive_s"]),
        tmp_mb=int(data["tmp_mb"]),
        namespace_id=data["namespace_id"],
        limits=NamespaceLimits(
            concurrency=limits["concurrency"],
            memory_mb=limits["memory_mb"],
            rate_per_minute=limits["rate_per_minute"],
        ),
        secret_env=dict(data["secret_env"]),
        secret_files=dict(data["secret_files"]),
        egress=EgressPolicy.parse(data["egress"]),
        log_level=data["log_level"],
        code_sha256=data["code_sha256"],
        env_key=data["env_key"],
    )


def call_to_wire(call: CallInfo) -> dict[str, Any]:
    return {"qualifier": call.qualifier, "client_context": call.client_context}


def call_from_wire(data: dict[str, Any]) -> CallInfo:
    return CallInfo(qualifier=data.get("qualifier"), client_context=data.get("client_context"))


def frame(head: dict[str, Any], payload: bytes) -> bytes:
    """One JSON line, then raw bytes (an event, a result)."""
    return orjson.dumps(head) + b"\n" + payload


def unframe(body: bytes) -> tuple[dict[str, Any], bytes]:
    """Raises ValueError when the body is not a frame."""
    line, sep, payload = body.partition(b"\n")
    if not sep:
        raise ValueError("no frame: the JSON line is not ended")
    head = orjson.loads(line)
    if not isinstance(head, dict):
        raise ValueError("the frame's head is not an object")
    return head, payload


def invoke_request(
    spec: VersionSpec,
    invocation_id: str,
    event: bytes,
    call: CallInfo,
    *,
    others_left: bool = False,
) -> bytes:
    """`others_left`: the caller has another worker to try, so a worker whose CPUs are all
    busy may refuse (`WORKER_BUSY`) rather than slow every call it runs down. Its own count
    is exact; the API server's view is up to a heartbeat old."""
    head = {
        "spec": spec_to_wire(spec),
        "invocation_id": invocation_id,
        "call": call_to_wire(call),
        "others_left": others_left,
    }
    return frame(head, event)


def error_to_wire(error: FunctionErrorInfo | None) -> dict[str, Any] | None:
    if error is None:
        return None
    return {
        "kind": error.kind,
        "message": error.message,
        "exception_type": error.exception_type,
        "traceback": error.traceback,
        "extra": dict(error.extra),
    }


def error_from_wire(data: dict[str, Any] | None) -> FunctionErrorInfo | None:
    if data is None:
        return None
    return FunctionErrorInfo(
        kind=data["kind"],
        message=data["message"],
        exception_type=data.get("exception_type"),
        traceback=data.get("traceback"),
        extra=dict(data.get("extra") or {}),
    )


def outcome_to_wire(outcome: InvokeOutcome) -> bytes:
    """The outcome's head as JSON, its result's bytes after it (none: an empty payload and
    `has_result` false)."""
    head = {
        "invocation_id": outcome.invocation_id,
        "state": outcome.state.value,
        "has_result": outcome.result_json is not None,
        "error": error_to_wire(outcome.error),
        "logs": outcome.logs,
        "logs_truncated": outcome.logs_truncated,
        "cold_start": outcome.cold_start,
        "timings": outcome.timings.as_dict(),
        "started_at": outcome.started_at.isoformat(),
        "finished_at": outcome.finished_at.isoformat(),
    }
    return frame(head, outcome.result_json or b"")


def outcome_from_wire(body: bytes) -> InvokeOutcome:
    head, payload = unframe(body)
    return InvokeOutcome(
        invocation_id=head["invocation_id"],
        state=InvocationState(head["state"]),
        result_json=payload if head["has_result"] else None,
        error=error_from_wire(head["error"]),
        logs=head["logs"],
        logs_truncated=bool(head["logs_truncated"]),
        cold_start=bool(head["cold_start"]),
        timings=Timings(**head["timings"]),
        started_at=datetime.fromisoformat(head["started_at"]),
        finished_at=datetime.fromisoformat(head["finished_at"]),
    )


def prepared_to_wire(prepared: Prepared) -> dict[str, Any]:
    return {
        "error": error_to_wire(prepared.error),
        "logs": prepared.logs,
        "init_ms": prepared.init_ms,
    }


def prepared_from_wire(data: dict[str, Any]) -> Prepared:
    return Prepared(
        error=error_from_wire(data["error"]),
        logs=data["logs"],
        init_ms=float(data["init_ms"]),
    )
