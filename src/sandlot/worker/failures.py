"""How an invocation failed, in the domain's words: `FunctionErrorInfo` and the final state.

`kind` is always the name of a `FunctionFailure` subclass (or `ServiceUnavailable`, for a call
the server cancelled as it shut down), so the API can map it to a status without knowing
anything about processes or signals.
"""

from __future__ import annotations

import signal
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from sandlot.domain.errors import (
    FunctionCrashed,
    FunctionError,
    FunctionFailure,
    FunctionOutOfMemory,
    FunctionResourceLimit,
    FunctionResultInvalid,
    FunctionTimedOut,
    ServiceUnavailable,
)
from sandlot.domain.states import InvocationState
from sandlot.sandbox.spec import ExitInfo, ResourceReport
from sandlot.worker.inside.bootstrap import (
    EXIT_OUT_OF_MEMORY,
    EXIT_PROTOCOL_ERROR,
    MAX_MESSAGE_CHARS,
    MAX_TRACEBACK_CHARS,
)
from sandlot.worker.interface import FunctionErrorInfo

_KINDS: frozenset[str] = frozenset(
    cls.__name__
    for cls in (
        FunctionError,
        FunctionTimedOut,
        FunctionOutOfMemory,
        FunctionCrashed,
        FunctionResourceLimit,
        FunctionResultInvalid,
    )
)
_STATES = {
    FunctionTimedOut.__name__: InvocationState.TIMED_OUT,
    FunctionOutOfMemory.__name__: InvocationState.OUT_OF_MEMORY,
    # Not the function's failure: the server stopped it while shutting down.
    ServiceUnavailable.__name__: InvocationState.CANCELLED,
}
# What the bootstrap adds to an error beyond kind, type, message and traceback: numbers the
# host uses to name a limit (see `bootstrap._limit_facts`).
_BOOTSTRAP_FACTS = frozenset(
    {"errno", "file_size_limit_bytes", "tmp_size_bytes", "peak_memory_bytes"}
)
# Kinds after which the instance is not trusted again: its process died, was killed, or may
# still hold what exhausted a limit (forked children, a full /tmp, a broken heap).
_REPLACE_INSTANCE = frozenset(
    cls.__name__
    for cls in (FunctionTimedOut, FunctionOutOfMemory, FunctionCrashed, FunctionResourceLimit)
)
_MB = 1024 * 1024
_EFBIG = 27
_ENOSPC = 28


def state_for(error: FunctionErrorInfo | None) -> InvocationState:
    if error is None:
        return InvocationState.SUCCEEDED
    return _STATES.get(error.kind, InvocationState.FAILED)


def replaces_instance(error: FunctionErrorInfo | None) -> bool:
    """Whether the instance that produced `error` must be discarded rather than reused."""
    return error is not None and error.kind in _REPLACE_INSTANCE


def _mb(size: object) -> float | None:
    """A byte count (from the kernel, or as the bootstrap reported it) in MB, if it is one."""
    if isinstance(size, int) and not isinstance(size, bool) and size >= 0:
        return round(size / _MB, 1)
    return None


def _info(kind: type[FunctionFailure], message: str, **extra: Any) -> FunctionErrorInfo:
    return FunctionErrorInfo(kind=kind.__name__, message=message, extra=extra)


def from_bootstrap(error: Mapping[str, Any]) -> FunctionErrorInfo:
    """An error as the bootstrap reported it. The function can write to its control socket,
    so nothing here is trusted beyond its shape."""
    kind = error.get("kind")
    extra = {
        key: value
        for key, value in error.items()
        if key in _BOOTSTRAP_FACTS and (value is None or type(value) is int)
    }
    traceback = error.get("traceback")
    exception_type = error.get("type")
    info = FunctionErrorInfo(
        kind=kind if isinstance(kind, str) and kind in _KINDS else FunctionError.__name__,
        message=clean_text(error.get("message", ""), MAX_MESSAGE_CHARS),
        exception_type=None if exception_type is None else clean_text(exception_type, 200),
        traceback=(
            clean_text(traceback, MAX_TRACEBACK_CHARS + 64) if isinstance(traceback, str) else None
        ),
        extra=extra,
    )
    if info.kind == FunctionOutOfMemory.__name__:
        return _with_peak(info)
    return _name_the_limit(info)


def clean_text(value: object, limit: int) -> str:
    """Text the instance sent, bounded and as valid Unicode (a lone surrogate escaped), so
    that the answer, the record and every later read of it can encode it."""
    text = value if isinstance(value, str) else str(value)
    return text[:limit].encode("utf-8", "backslashreplace").decode("utf-8")


def _with_peak(info: FunctionErrorInfo) -> FunctionErrorInfo:
    """An out-of-memory error that the bootstrap reported (a MemoryError): add the peak in MB."""
    peak = _mb(info.extra.get("peak_memory_bytes"))
    if peak is None:
        return info
    return replace(
        info,
        message=f"{info.message}; peak {peak} MB",
        extra={**info.extra, "peak_memory_mb": peak},
    )


def _errno_of(info: FunctionErrorInfo) -> int | None:
    """The errno of an OSError the handler raised, from the bootstrap's report of it."""
    reported = info.extra.get("errno")
    if isinstance(reported, int) and not isinstance(reported, bool):
        return reported
    if info.exception_type is not None and info.exception_type.endswith("Error"):
        for number in (_EFBIG, _ENOSPC):  # OSError.__str__: "[Errno 28] No space left..."
            if info.message.startswith(f"[Errno {number}]"):
                return number
    return None


def _name_the_limit(info: FunctionErrorInfo) -> FunctionErrorInfo:
    """A handler error that is a sandbox limit: EFBIG (RLIMIT_FSIZE; Python ignores SIGXFSZ,
    so the write fails instead of the process dying) or ENOSPC (the only writable file
    system is the instance's size-capped /tmp). Names the limit and, when the bootstrap
    measured it, its size."""
    number = _errno_of(info)
    if info.kind not in (FunctionError.__name__, FunctionResourceLimit.__name__) or number is None:
        return info
    extra: dict[str, Any]
    if number == _EFBIG:
        size = info.extra.get("file_size_limit_bytes")
        what, extra = "hit its file size limit", {"limit": "file_size"}
    else:
        size = info.extra.get("tmp_size_bytes")
        what, extra = "filled its /tmp", {"limit": "tmp"}
    limit_mb = _mb(size)
    if limit_mb is not None:
        what += f" ({limit_mb} MB)"
        extra["limit_mb"] = limit_mb
    return replace(
        info,
        kind=FunctionResourceLimit.__name__,
        message=f"the function {what}: {info.message}",
        extra={**info.extra, **extra},
    )


def timed_out(timeout_s: float, *, during_init: bool = False) -> FunctionErrorInfo:
    step = "import its handler" if during_init else "finish"
    return _info(FunctionTimedOut, f"the function did not {step} within {timeout_s:g} s")


def result_invalid(problem: str) -> FunctionErrorInfo:
    return FunctionErrorInfo(
        kind=FunctionResultInvalid.__name__,
        message=f"the handler's return value is not valid JSON: {problem}",
        exception_type="ResultInvalid",
    )


def stopped(reason: str) -> FunctionErrorInfo:
    return _info(FunctionCrashed, f"the instance was stopped: {reason}")


def cancelled(reason: str) -> FunctionErrorInfo:
    """The server stopped the call (a shutdown past its grace period): state `cancelled`."""
    return FunctionErrorInfo(kind=ServiceUnavailable.__name__, message=reason)


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def died(
    exit_info: ExitInfo, report: ResourceReport, memory_mb: int, *, during_init: bool = False
) -> FunctionErrorInfo:
    """Why an instance's process ended on its own in the middle of a request."""
    when = " while importing the handler" if during_init else ""
    peak = report.peak_memory_bytes
    if report.oom_killed or exit_info.returncode == EXIT_OUT_OF_MEMORY:
        peak_mb = _mb(peak)
        return _info(
            FunctionOutOfMemory,
            f"the function ran out of memory{when} (limit {memory_mb} MB"
            + (f", peak {peak_mb} MB)" if peak_mb is not None else ")"),
            peak_memory_bytes=peak,
            peak_memory_mb=peak_mb,
            limit_mb=memory_mb,
        )
    if exit_info.signal == signal.SIGXFSZ:
        return _info(
            FunctionResourceLimit, f"the function hit its file size limit{when}", limit="file_size"
        )
    if exit_info.signal is not None:
        name = _signal_name(exit_info.signal)
        return _info(
            FunctionCrashed,
            f"the function's process was killed by signal {exit_info.signal} ({name}){when}",
            signal=exit_info.signal,
        )
    # Only now: the pids counter is the instance's, and a signal says more about this death.
    if report.pids_limit_hit:
        return _info(
            FunctionResourceLimit,
            f"the function hit its process limit (the sandbox's pids limit){when}",
            limit="pids",
        )
    if exit_info.returncode == EXIT_PROTOCOL_ERROR:
        return died_of_protocol(during_init=during_init)
    return _info(
        FunctionCrashed,
        f"the function's process exited with code {exit_info.returncode}{when}",
        exit_code=exit_info.returncode,
    )


def died_of_protocol(*, during_init: bool = False) -> FunctionErrorInfo:
    when = " while importing the handler" if during_init else ""
    return _info(FunctionCrashed, f"the function's process broke the control protocol{when}")


def refine(error: FunctionErrorInfo, report: ResourceReport) -> FunctionErrorInfo:
    """A handler error that a sandbox limit caused: fork failing at the pids limit."""
    if not report.pids_limit_hit:
        return error
    return FunctionErrorInfo(
        kind=FunctionResourceLimit.__name__,
        message=f"the function hit its process limit (the sandbox's pids limit): {error.message}",
        exception_type=error.exception_type,
        traceback=error.traceback,
        extra={**error.extra, "limit": "pids"},
    )
