"""How an invocation failed, in the domain's words: `FunctionErrorInfo` and the final state.

`kind` is always the name of a `FunctionFailure` subclass, so the API can map it to a status
without knowing anything about processes or signals.
"""

from __future__ import annotations

import signal
from collections.abc import Mapping
from typing import Any

from sandlot.domain.errors import (
    FunctionCrashed,
    FunctionError,
    FunctionFailure,
    FunctionOutOfMemory,
    FunctionResourceLimit,
    FunctionResultInvalid,
    FunctionTimedOut,
)
from sandlot.domain.states import InvocationState
from sandlot.sandbox.spec import ExitInfo, ResourceReport
from sandlot.worker.inside.bootstrap import EXIT_OUT_OF_MEMORY, EXIT_PROTOCOL_ERROR
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
}
_BOOTSTRAP_KEYS = frozenset({"kind", "type", "message", "traceback"})


def state_for(error: FunctionErrorInfo | None) -> InvocationState:
    if error is None:
        return InvocationState.SUCCEEDED
    return _STATES.get(error.kind, InvocationState.FAILED)


def _info(kind: type[FunctionFailure], message: str, **extra: Any) -> FunctionErrorInfo:
    return FunctionErrorInfo(kind=kind.__name__, message=message, extra=extra)


def from_bootstrap(error: Mapping[str, Any]) -> FunctionErrorInfo:
    """An error as the bootstrap reported it. The function can write to its control socket,
    so nothing here is trusted beyond its shape."""
    kind = error.get("kind")
    extra = {key: value for key, value in error.items() if key not in _BOOTSTRAP_KEYS}
    traceback = error.get("traceback")
    return FunctionErrorInfo(
        kind=kind if isinstance(kind, str) and kind in _KINDS else FunctionError.__name__,
        message=str(error.get("message", "")),
        exception_type=str(error["type"]) if error.get("type") is not None else None,
        traceback=traceback if isinstance(traceback, str) else None,
        extra=extra,
    )


def timed_out(timeout_s: float, *, during_init: bool = False) -> FunctionErrorInfo:
    step = "import its handler" if during_init else "finish"
    return _info(FunctionTimedOut, f"the function did not {step} within {timeout_s:g} s")


def stopped(reason: str) -> FunctionErrorInfo:
    return _info(FunctionCrashed, f"the instance was stopped: {reason}")


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
        return _info(
            FunctionOutOfMemory,
            f"the function ran out of memory{when} (limit {memory_mb} MB)",
            peak_memory_bytes=peak,
        )
    if report.pids_limit_hit:
        return _info(FunctionResourceLimit, f"the function hit its process limit{when}")
    if exit_info.signal == signal.SIGXFSZ:
        return _info(FunctionResourceLimit, f"the function hit its file size limit{when}")
    if exit_info.signal is not None:
        name = _signal_name(exit_info.signal)
        return _info(
            FunctionCrashed,
            f"the function's process was killed by signal {exit_info.signal} ({name}){when}",
            signal=exit_info.signal,
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
        message=f"the function hit its process limit: {error.message}",
        exception_type=error.exception_type,
        traceback=error.traceback,
        extra=error.extra,
    )
