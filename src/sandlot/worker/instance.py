"""One live instance of a function version: its process, control channel and output pipe.

An instance runs one invocation at a time. It never raises function failures: a timeout,
a crash or an error of the handler comes back as a `Run` (or, during init, `StartFailed`),
and `reusable` says whether the pool may hand the instance out again.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, replace
from typing import Any

from sandlot.domain.errors import FunctionError, InvalidEvent
from sandlot.domain.json_values import json_problem
from sandlot.domain.states import INSTANCE_MOVES, InstanceState, transition
from sandlot.sandbox.spec import ProcessHandle
from sandlot.worker import failures
from sandlot.worker.interface import NO_CALL_INFO, CallInfo, FunctionErrorInfo, VersionSpec
from sandlot.worker.masking import Masker
from sandlot.worker.output import OutputPipe, merge_logs
from sandlot.worker.protocol import (
    ChannelClosed,
    Frame,
    FrameChannel,
    ProtocolViolation,
    encode_frame,
)

# How long a dead process may keep its control socket open (through a process it forked
# that escaped the kill) before the pool stops waiting for the EOF.
_EOF_GRACE_S = 1.0
# How long to wait for the exit status after the control socket closed on its own.
_EXIT_WAIT_S = 2.0
# Handler errors worth asking the sandbox about: fork fails this way at the pids limit.
_LIMIT_SUSPECTS = frozenset({"BlockingIOError", "OSError", "RuntimeError"})


@dataclass(frozen=True, slots=True)
class Run:
    """How one invocation on an instance ended."""

    result_json: bytes | None
    error: FunctionErrorInfo | None
    logs: str
    logs_truncated: bool
    handler_ms: float


class StartFailed(Exception):
    """The instance could not import its handler; it is dead or must be discarded."""

    def __init__(self, error: FunctionErrorInfo, logs: str, logs_truncated: bool) -> None:
        super().__init__(error.message)
        self.error = error
        self.logs = logs
        self.logs_truncated = logs_truncated


class Instance:
    def __init__(
        self,
        *,
        name: str,
        spec: VersionSpec,
        handle: ProcessHandle,
        channel: FrameChannel,
        output: OutputPipe,
        max_log_bytes: int,
    ) -> None:
        self.name = name
        self.spec = spec
        self.handle = handle
        self.state = InstanceState.STARTING
        self.last_used = time.monotonic()
        self.reusable = False
        self.reserved = False  # the pool's bookkeeping: counted against its global caps
        self._channel = channel
        self._output = output
        self._max_log_bytes = max_log_bytes
        self._masker = Masker(spec.secret_values)
        self.ready: dict[str, Any] = {}  # the bootstrap's ready message (timings)
        self._stop_reason: str | None = None
        self._cancelled = False
        self._timed_out = False
        self._exit_watch = asyncio.ensure_future(self._watch_exit())

    # lifecycle, driven by the pool

    def move(self, target: InstanceState) -> None:
        self.state = transition(INSTANCE_MOVES, self.state, target)

    @property
    def alive(self) -> bool:
        return not self._channel.closed and self.handle.poll() is None

    def kill(self, reason: str | None = None) -> None:
        """Kill the process now; a running invocation then fails, citing `reason` if given."""
        if reason is not None and self._stop_reason is None:
            self._stop_reason = reason
        self.reusable = False
        self.handle.kill()

    def cancel(self, reason: str) -> None:
        """Kill the process now; a running invocation ends `cancelled`, citing `reason`."""
        self._cancelled = True
        self.kill(reason)

    async def close(self) -> None:
        """Kill, reap and release everything the instance holds. Idempotent."""
        self.kill()
        self._channel.close()
        try:
            await self.handle.cleanup()
        finally:
            self._output.close()
            self._exit_watch.cancel()

    # the two requests

    async def initialize(self, init: dict[str, Any], timeout_s: float) -> float:
        """Import the handler; returns the import time in ms or raises `StartFailed`."""
        try:
            frame = await self._exchange(encode_frame(init), timeout_s)
        except ChannelClosed as closed:
            error = await self._failure(closed, timeout_s, during_init=True)
            raise StartFailed(error, *self._logs(b"", False)) from None
        header = frame.header
        if header.get("op") == "ready":
            self.ready = header
            self.move(InstanceState.IDLE)
            self.reusable = True
            return float(header.get("init_ms", 0.0))
        error_fields = header.get("error")
        if header.get("op") != "init_error" or not isinstance(error_fields, dict):
            self.kill()
            error = failures.died_of_protocol(during_init=True)
            raise StartFailed(error, *self._logs(b"", False))
        self.kill()  # the bootstrap exits by itself; do not wait for it
        logs = frame.parts[0] if frame.parts else b""
        error = self._masked(failures.from_bootstrap(error_fields))
        raise StartFailed(error, *self._logs(logs, header.get("logs_truncated") is True))

    async def invoke(
        self, invocation_id: str, event: bytes, timeout_s: float, call: CallInfo = NO_CALL_INFO
    ) -> Run:
        self.reusable = False  # until a clean reply says otherwise (a cancel leaves it False)
        header = invoke_header(invocation_id, timeout_s, call)
        started = time.perf_counter()
        try:
            frame = await self._exchange(encode_frame(header, event), timeout_s)
        except ChannelClosed as closed:
            error = await self._failure(closed, timeout_s)
            logs, truncated = self._logs(b"", False)
            return Run(None, error, logs, truncated, (time.perf_counter() - started) * 1000)
        return self._completed(frame, invocation_id, started)

    # internals

    async def _exchange(self, data: bytes, timeout_s: float) -> Frame:
        timer = asyncio.get_running_loop().call_later(timeout_s, self._on_timeout)
        try:
            self._channel.send(data)
            return await self._channel.read()
        finally:
            timer.cancel()

    def _on_timeout(self) -> None:
        self._timed_out = True
        self.kill()
        self._channel.fail(ChannelClosed("timed out"))

    async def _watch_exit(self) -> None:
        await self.handle.wait()
        self.handle.kill()  # whatever it left running in its group
        await asyncio.sleep(_EOF_GRACE_S)
        self._channel.fail(ChannelClosed("the instance's process exited"))

    async def _failure(
        self, closed: ChannelClosed, timeout_s: float, *, during_init: bool = False
    ) -> FunctionErrorInfo:
        """Why the channel closed in the middle of a request."""
        if self._timed_out:
            return failures.timed_out(timeout_s, during_init=during_init)
        if self._cancelled and self._stop_reason is not None:
            return failures.cancelled(self._stop_reason)
        if self._stop_reason is not None:
            return failures.stopped(self._stop_reason)
        if isinstance(closed, ProtocolViolation):
            self.kill()
            return failures.died_of_protocol(during_init=during_init)
        try:
            exit_info = await asyncio.wait_for(self.handle.wait(), _EXIT_WAIT_S)
        except TimeoutError:  # closed its socket but lives on: it is no use any more
            self.kill()
            exit_info = await self.handle.wait()
        report = self.handle.report()
        return failures.died(exit_info, report, self.spec.memory_mb, during_init=during_init)

    def _completed(self, frame: Frame, invocation_id: str, started: float) -> Run:
        header = frame.header
        if (
            header.get("op") != "result"
            or header.get("id") != invocation_id
            or len(frame.parts) != 2
        ):
            self.kill()
            logs, truncated = self._logs(b"", False)
            error = failures.died_of_protocol()
            return Run(None, error, logs, truncated, (time.perf_counter() - started) * 1000)
        handler_ms = _number(header.get("handler_ms"), (time.perf_counter() - started) * 1000)
        logs, truncated = self._logs(frame.parts[1], header.get("logs_truncated") is True)
        self.last_used = time.monotonic()
        if header.get("ok") is True:
            return self._result(frame.parts[0], logs, truncated, handler_ms)
        fields = header.get("error")
        fields = fields if isinstance(fields, dict) else {"message": "unknown error"}
        if fields.get("kind") == InvalidEvent.__name__:
            self.reusable = True
            message = failures.clean_text(fields.get("message"), 1024)
            raise InvalidEvent(f"the event is not valid JSON: {message}")
        error = self._masked(self._refine(failures.from_bootstrap(fields)))
        # A limit the instance hit (processes, file size, /tmp) may still hold it down (paused
        # children, a full /tmp): the next call gets a fresh instance instead.
        self.reusable = header.get("fatal") is not True and not failures.replaces_instance(error)
        return Run(None, error, logs, truncated, handler_ms)

    def _result(self, result: bytes, logs: str, truncated: bool, handler_ms: float) -> Run:
        """The result, checked as the door checks events. The bootstrap encodes strictly, but
        it shares its process with the function, which may have replaced its encoder: then
        the bytes are refused and the instance, no longer trusted, is replaced."""
        problem = json_problem(result)
        if problem is not None:
            return Run(None, failures.result_invalid(problem), logs, truncated, handler_ms)
        self.reusable = True
        return Run(result, None, logs, truncated, handler_ms)

    def _refine(self, error: FunctionErrorInfo) -> FunctionErrorInfo:
        if error.kind == FunctionError.__name__ and error.exception_type in _LIMIT_SUSPECTS:
            return failures.refine(error, self.handle.report())
        return error

    def _logs(self, inside: bytes, inside_truncated: bool) -> tuple[str, bool]:
        outside, outside_truncated = self._output.take()
        text, truncated = merge_logs(
            inside, inside_truncated, outside, outside_truncated, self._max_log_bytes
        )
        masked = self._masker.mask(text)
        return (self._masker.mask_cut(masked) if truncated else masked), truncated

    def _masked(self, error: FunctionErrorInfo) -> FunctionErrorInfo:
        """An exception's message and traceback may quote a secret as well as a print."""
        if not self._masker:
            return error
        return replace(
            error,
            message=self._masker.mask(error.message),
            traceback=None if error.traceback is None else self._masker.mask(error.traceback),
        )


def invoke_header(invocation_id: str, timeout_s: float, call: CallInfo) -> dict[str, Any]:
    """The invoke frame's header; what the call says of itself only when it says something,
    so that the common call's frame stays as small as before."""
    header: dict[str, Any] = {
        "op": "invoke",
        "id": invocation_id,
        "timeout_ms": int(timeout_s * 1000),
    }
    if call.qualifier is not None:
        header["qualifier"] = call.qualifier
    if call.client_context is not None:
        header["client_context"] = dict(call.client_context)
    return header


def _number(value: Any, default: float) -> float:
    return float(value) if isinstance(value, int | float) else default
