"""The bootstrap: runs inside a function instance, imports the handler, serves invocations.

Started as ``<base python> -I -S bootstrap.py`` with the control socket on fd 3 (one end of
a socketpair), /dev/null on fd 0 and a pipe the pool drains on fds 1 and 2. STANDARD
LIBRARY ONLY: it never imports Sandlot or anything from a site-packages directory, so the
function sees nothing of the server's environment. The pool imports this module only for
its constants; nothing runs on import.

Frames
------
Every message, both ways, is one frame::

    frame  = header length (4 bytes, big-endian) | header | part 0 | part 1 | ...
    header = a UTF-8 JSON object; its "parts" lists the byte length of each raw part

Raw parts carry payloads that already are JSON or text (the event, the result, the logs),
so neither side decodes and re-encodes them only to nest them inside the header, and a
hostile event cannot smuggle keys into the header.

Messages
--------
pool -> bootstrap, once, first::

    {"op": "init", "handler": "pkg.mod.fn", "code_dir": str, "paths": [str],
     "function_name": str, "function_version": int, "memory_mb": int,
     "max_log_bytes": int, "max_result_bytes": int,
     "function_arn": str, "log_group_name": str, "log_level": str | null,
     "task_root": str (optional), "runtime_dir": str (optional)}

``function_arn`` is the unqualified ARN (the host computes it: this module cannot import
Sandlot's); a call's qualifier is appended per invocation.

bootstrap -> pool, then either serves invocations or exits::

    {"op": "ready", "init_ms": float}
    {"op": "init_error", "error": ERROR, "fatal": true, "logs_truncated": bool,
     "parts": [len(logs)]}

pool -> bootstrap, one invocation at a time::

    {"op": "invoke", "id": str, "timeout_ms": int, "parts": [len(event)]}   event: JSON text
        optional: "qualifier": str (the alias or version the caller named),
                  "client_context": {"client": {...}, "custom": {...}, "env": {...}}

bootstrap -> pool::

    {"op": "result", "id": str, "ok": true, "handler_ms": float, "logs_truncated": bool,
     "parts": [len(result), len(logs)]}                                      result: JSON text
    {"op": "result", "id": str, "ok": false, "handler_ms": float, "error": ERROR,
     "fatal": bool, "logs_truncated": bool, "parts": [0, len(logs)]}

    ERROR = {"kind": KIND, "type": str, "message": str, "traceback": str | null, ...}
    KIND  = FunctionError | FunctionResultInvalid | FunctionOutOfMemory
            | FunctionResourceLimit | InvalidEvent

``fatal`` means the bootstrap exits right after the reply (it ran out of memory), so the
pool must replace the instance. Output printed while importing the handler is kept and
handed out with the first invocation's logs (or with the init error). The bootstrap exits
with 0 when the pool closes the socket, EXIT_OUT_OF_MEMORY after a MemoryError it could not
report, and EXIT_PROTOCOL_ERROR on a malformed frame.
"""

from __future__ import annotations

import io
import json
import logging
import os
import sys
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from types import TracebackType
    from typing import Any

CONTROL_FD = 3
EXIT_OUT_OF_MEMORY = 77
EXIT_PROTOCOL_ERROR = 78
TRUNCATION_NOTE = "\n[sandlot: output truncated after {limit} bytes]\n"
MAX_TRACEBACK_CHARS = 64 * 1024
MAX_MESSAGE_CHARS = 8 * 1024
_EFBIG = 27  # errno.EFBIG on Linux; importing errno only for this is not worth it
_ENOSPC = 28


def truncation_note(limit: int) -> bytes:
    return TRUNCATION_NOTE.format(limit=limit).encode()


class LogBuffer:
    """The current invocation's output, bounded: past `limit` bytes it only notes the loss.

    One buffer lives as long as the instance; `take()` hands out and clears it at the end
    of each invocation, which is what "switching the target per invocation" amounts to.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.data = bytearray()
        self.truncated = False

    def add_text(self, text: str) -> None:
        room = self.limit - len(self.data)
        if room <= 0:
            self.truncated = self.truncated or bool(text)
            return
        # A character is at least one byte, so `room` characters always fill the room:
        # slicing first keeps a huge string from being encoded whole.
        self.add_bytes(text[:room].encode("utf-8", "backslashreplace"))
        if len(text) > room:
            self.truncated = True

    def add_bytes(self, data: bytes | bytearray | memoryview) -> None:
        room = self.limit - len(self.data)
        if len(data) > room:
            data = data[: max(room, 0)]
            self.truncated = True
        self.data += data

    def take(self) -> tuple[bytes, bool]:
        out, truncated = bytes(self.data), self.truncated
        if truncated:
            out += truncation_note(self.limit)
        self.data = bytearray()
        self.truncated = False
        return out, truncated


class CaptureBinary(io.RawIOBase):
    """`sys.stdout.buffer`: bytes written here land in the same log buffer."""

    def __init__(self, logs: LogBuffer, fd: int) -> None:
        super().__init__()
        self._logs = logs
        self._fd = fd

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        self._logs.add_bytes(view)
        return len(view)

    def fileno(self) -> int:
        return self._fd


class CaptureText(io.TextIOBase):
    """`sys.stdout` / `sys.stderr` for the instance's whole life.

    Installed once, before the handler is imported, so a `logging.basicConfig()` or a
    `StreamHandler` created at import time writes here too. `fileno()` is the real fd, the
    pipe the pool drains, for code that hands it to a subprocess.
    """

    def __init__(self, logs: LogBuffer, fd: int, name: str) -> None:
        super().__init__()
        self._logs = logs
        self._fd = fd
        self._name = name
        self._buffer = CaptureBinary(logs, fd)

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return "utf-8"

    @property
    def errors(self) -> str:  # type: ignore[override]
        return "backslashreplace"

    @property
    def buffer(self) -> CaptureBinary:
        return self._buffer

    @property
    def name(self) -> str:
        return self._name

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        return self._fd

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        self._logs.add_text(text)
        return len(text)


class CognitoIdentity:
    """`context.identity`: Lambda fills it only for calls from its mobile SDKs, so always empty
    here; present so that code reading it finds the attributes."""

    __slots__ = ("cognito_identity_id", "cognito_identity_pool_id")

    def __init__(self) -> None:
        self.cognito_identity_id: str | None = None
        self.cognito_identity_pool_id: str | None = None


class Client:
    """`context.client_context.client`: the calling app, as the caller described it."""

    __slots__ = (
        "app_package_name",
        "app_title",
        "app_version_code",
        "app_version_name",
        "installation_id",
    )

    def __init__(self, fields: dict[str, Any]) -> None:
        for name in self.__slots__:
            setattr(self, name, fields.get(name))


class ClientContext:
    """`context.client_context`: what the caller sent as Lambda's client context."""

    __slots__ = ("client", "custom", "env")

    def __init__(self, fields: dict[str, Any]) -> None:
        client = fields.get("client")
        self.client = Client(client) if isinstance(client, dict) else None
        self.custom: Any = fields.get("custom")
        self.env: Any = fields.get("env")


class Context:
    """The handler's second argument: AWS Lambda's Python context, with its names and types
    (`memory_limit_in_mb` is a string there too), and Sandlot's older names as aliases."""

    __slots__ = (
        "_deadline",
        "aws_request_id",
        "client_context",
        "function_name",
        "function_version",
        "identity",
        "invocation_id",
        "invoked_function_arn",
        "log_group_name",
        "log_stream_name",
        "memory_limit_in_mb",
        "memory_limit_mb",
    )

    def __init__(
        self,
        invocation_id: str,
        init: dict[str, Any],
        timeout_ms: int,
        qualifier: str | None = None,
        client_context: dict[str, Any] | None = None,
    ) -> None:
        self.aws_request_id = self.invocation_id = invocation_id
        self.function_name: str = init["function_name"]
        self.function_version = str(init["function_version"])
        arn: str = init.get("function_arn") or ""
        self.invoked_function_arn = f"{arn}:{qualifier}" if qualifier else arn
        self.memory_limit_mb: int = init["memory_mb"]
        self.memory_limit_in_mb = str(init["memory_mb"])
        self.log_group_name: str = init.get("log_group_name") or ""
        self.log_stream_name: str = init.get("log_stream_name") or ""
        self.identity = CognitoIdentity()
        self.client_context = (
            ClientContext(client_context) if isinstance(client_context, dict) else None
        )
        self._deadline = time.monotonic() + timeout_ms / 1000

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))

    def get_remaining_time_ms(self) -> int:
        return self.get_remaining_time_in_millis()

    def __repr__(self) -> str:
        return f"<Context aws_request_id={self.aws_request_id!r} function={self.function_name!r}>"


class Channel:
    """Frames over the control socket, with plain blocking reads and writes."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        # Open for the whole life of the process, hence no context manager.
        self._reader = open(fd, "rb", buffering=64 * 1024, closefd=False)  # noqa: SIM115

    def _read_exact(self, size: int) -> bytes | None:
        data = self._reader.read(size)
        if len(data) < size:
            return None
        return data

    def read(self) -> tuple[dict[str, Any], list[bytes]] | None:
        """The next frame, or None once the pool has closed the socket."""
        head = self._read_exact(4)
        if head is None:
            return None
        body = self._read_exact(int.from_bytes(head, "big"))
        header = json.loads(body) if body is not None else None
        if not isinstance(header, dict):
            os._exit(EXIT_PROTOCOL_ERROR)
        parts = []
        for size in header.get("parts", ()):
            part = self._read_exact(size)
            if part is None:
                return None
            parts.append(part)
        return header, parts

    def send(self, header: dict[str, Any], *parts: bytes) -> None:
        header["parts"] = [len(part) for part in parts]
        body = json.dumps(header, separators=(",", ":")).encode()
        view = memoryview(b"".join((len(body).to_bytes(4, "big"), body, *parts)))
        while view:
            view = view[os.write(self._fd, view) :]


class InitFailure(Exception):
    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(error["message"])
        self.error = error


class ResultInvalid(Exception):
    pass


def _leading_frames_are_ours(tb: TracebackType | None) -> TracebackType | None:
    """Drop the bootstrap's and importlib's frames from the top of a traceback."""
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename != __file__ and not filename.startswith("<frozen importlib"):
            break
        tb = tb.tb_next
    return tb


def _unicode(text: str) -> str:
    # A lone surrogate (from a \ud800 escape, say) cannot be written as UTF-8; escape it.
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _safe_str(exc: BaseException) -> str:
    try:
        text = str(exc)
    except Exception:  # a user-defined __str__ may itself fail
        text = f"<unprintable {type(exc).__name__}>"
    return _unicode(text[:MAX_MESSAGE_CHARS])


def describe(exc: BaseException, kind: str) -> dict[str, Any]:
    import traceback

    tb = _leading_frames_are_ours(exc.__traceback__)
    text = "".join(traceback.format_exception(type(exc), exc, tb))
    if len(text) > MAX_TRACEBACK_CHARS:
        half = MAX_TRACEBACK_CHARS // 2
        text = f"{text[:half]}\n[... traceback shortened ...]\n{text[-half:]}"
    error = {
        "kind": kind,
        "type": type(exc).__name__,
        "message": _safe_str(exc),
        "traceback": _unicode(text),
    }
    error.update(_limit_facts(exc))
    return error


def _limit_facts(exc: BaseException) -> dict[str, Any]:
    """What the host needs to name the limit an OSError hit: RLIMIT_FSIZE for EFBIG, and for
    ENOSPC the size of /tmp (the sandbox's only writable file system)."""
    number = exc.errno if isinstance(exc, OSError) else None
    try:
        if number == _EFBIG:
            import resource

            limit = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
            return {"errno": number, "file_size_limit_bytes": limit}
        if number == _ENOSPC:
            tmp = os.statvfs("/tmp")  # noqa: S108 - the sandbox's own /tmp
            return {"errno": number, "tmp_size_bytes": tmp.f_blocks * tmp.f_frsize}
    except (OSError, ValueError):
        pass
    return {}


def failure_kind(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.errno == _EFBIG:
        return "FunctionResourceLimit"  # RLIMIT_FSIZE: Python ignores SIGXFSZ, so EFBIG
    return "FunctionError"


_MISSING = object()


def _not_found(message: str) -> InitFailure:
    return InitFailure(
        {"kind": "FunctionError", "type": "HandlerNotFound", "message": message, "traceback": None}
    )


def load_handler(handler: str) -> Callable[[Any, Context], Any]:
    module_name, _, attr = handler.rpartition(".")
    try:
        # __import__ rather than importlib.import_module: it adds no frame of its own to
        # the traceback of a module that raises.
        __import__(module_name)
        module = sys.modules[module_name]
    except ModuleNotFoundError as exc:
        # Only the handler's own module (or a package above it) missing is "not found"; a
        # missing dependency imported by the module is an import-time error of the module.
        if exc.name is not None and (module_name + ".").startswith(exc.name + "."):
            raise _not_found(
                f"handler module {module_name!r} not found in the function's code "
                f"(handler {handler!r})"
            ) from None
        raise
    # A sentinel, not None: `handler = None` is a handler that is not callable, not a missing one.
    function = getattr(module, attr, _MISSING)
    if function is _MISSING:
        raise _not_found(f"module {module_name!r} has no attribute {attr!r} (handler {handler!r})")
    if not callable(function):
        raise _not_found(f"{handler!r} is a {type(function).__name__}, not a function")
    return function


async def _guarded(awaitable: Awaitable[Any]) -> tuple[bool, Any]:
    # Catching inside the coroutine keeps asyncio's own frames out of the traceback.
    try:
        return True, await awaitable
    except BaseException as exc:
        return False, exc


class Runner:
    """Calls the handler; async handlers run on one event loop kept for the instance's life,
    so clients and other loop-bound globals created by one invocation work in the next."""

    def __init__(self, handler: Callable[[Any, Context], Any]) -> None:
        self.handler = handler
        self._loop: Any = None

    def call(self, event: Any, context: Context) -> Any:
        value = self.handler(event, context)
        if hasattr(value, "__await__"):
            value = self._wait(value)
        return value

    def _wait(self, awaitable: Awaitable[Any]) -> Any:
        if self._loop is None:
            import asyncio  # only async functions pay for importing asyncio

            self._loop = asyncio.new_event_loop()
            asyncio.set_event_loop(self._loop)
        ok, value = self._loop.run_until_complete(_guarded(awaitable))
        if not ok:
            raise value
        return value


def encode_result(value: Any, limit: int) -> bytes:
    """Strict JSON in UTF-8 (NaN and infinities are refused). A string holding surrogates,
    which UTF-8 cannot, is written as \\u escapes instead: a pair then reads back as the one
    character it stands for, and the server refuses a lone one just as the door would."""
    try:
        text = json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise ResultInvalid(f"the handler's return value is not JSON-serialisable: {exc}") from None
    except RecursionError:
        raise ResultInvalid("the handler's return value is nested too deeply") from None
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:
        data = json.dumps(value, allow_nan=False, separators=(",", ":")).encode()
    if len(data) > limit:
        raise ResultInvalid(f"the result is {len(data)} bytes; the limit is {limit} bytes")
    return data


class Instance:
    """One function instance's life after a successful init: a loop of invocations."""

    def __init__(self, channel: Channel, init: dict[str, Any], runner: Runner, logs: LogBuffer):
        self.channel = channel
        self.init = init
        self.runner = runner
        self.logs = logs

    def serve(self) -> None:
        while (frame := self.channel.read()) is not None:
            header, parts = frame
            if header.get("op") != "invoke" or len(parts) != 1:
                os._exit(EXIT_PROTOCOL_ERROR)
            self.invoke(header, parts[0])

    def invoke(self, header: dict[str, Any], raw_event: bytes) -> None:
        invocation_id = header["id"]
        try:
            event = json.loads(raw_event) if raw_event.strip() else None
        except (ValueError, RecursionError) as exc:
            invalid = {"kind": "InvalidEvent", "type": "InvalidEvent", "message": str(exc)}
            self.reply(invocation_id, 0.0, None, invalid)
            return
        context = Context(
            invocation_id,
            self.init,
            header["timeout_ms"],
            header.get("qualifier"),
            header.get("client_context"),
        )
        CurrentRequest.id = invocation_id
        started = time.perf_counter()
        out_of_memory = False
        result: bytes | None = None
        error: dict[str, Any] | None = None
        try:
            result = encode_result(self.runner.call(event, context), self.init["max_result_bytes"])
        except MemoryError:
            out_of_memory = True  # handled below, once the except block has freed the frames
        except ResultInvalid as exc:
            error = {"kind": "FunctionResultInvalid", "type": "ResultInvalid", "message": str(exc)}
        except BaseException as exc:
            error = describe(exc, failure_kind(exc))
        handler_ms = (time.perf_counter() - started) * 1000
        if out_of_memory:
            die_of_oom(self.channel, self.logs, self.init["memory_mb"], invocation_id, handler_ms)
        self.reply(invocation_id, handler_ms, result, error)

    def reply(
        self, invocation_id: str, handler_ms: float, result: bytes | None, error: Any
    ) -> None:
        logs, truncated = self.logs.take()
        header: dict[str, Any] = {
            "op": "result",
            "id": invocation_id,
            "ok": error is None,
            "handler_ms": handler_ms,
            "logs_truncated": truncated,
        }
        if error is not None:
            header["error"] = error
            header["fatal"] = False
        self.channel.send(header, result or b"", logs)


def _peak_memory_bytes() -> int | None:
    try:
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    except Exception:
        return None


def die_of_oom(
    channel: Channel, logs: LogBuffer, memory_mb: int, invocation_id: str | None, handler_ms: float
) -> None:
    """Report a MemoryError and exit: the heap may be left in any state, so the pool starts a
    fresh instance rather than trusting this one again."""
    try:
        output, truncated = logs.take()
        error: dict[str, Any] = {
            "kind": "FunctionOutOfMemory",
            "type": "MemoryError",
            "message": f"the function ran out of memory (limit {memory_mb} MB)",
            "traceback": None,
            "peak_memory_bytes": _peak_memory_bytes(),
        }
        if invocation_id is None:
            header = {
                "op": "init_error",
                "error": error,
                "fatal": True,
                "logs_truncated": truncated,
            }
            channel.send(header, output)
        else:
            header = {"op": "result", "id": invocation_id, "ok": False, "handler_ms": handler_ms}
            header.update(error=error, fatal=True, logs_truncated=truncated)
            channel.send(header, b"", output)
    finally:
        os._exit(EXIT_OUT_OF_MEMORY)


def _close_control_socket() -> None:
    # A process forked by the handler must not keep the control socket open: the pool
    # relies on seeing EOF when the instance dies.
    try:
        os.close(CONTROL_FD)
    except OSError:
        return


# What a connect fails with when the version's policy denies it: EACCES from Landlock (a port
# no destination has), EHOSTUNREACH from the version's nftables reject, ENETUNREACH where the
# namespace has no route at all (policy `none`). The kernel's counter is the trusted count
# (sandlot_egress_denied_total); this line only tells the author why their call failed.
_DENIED_ERRNOS = (13, 113, 101)


def _denied_note(address: Any) -> str:
    host, port = address[0], address[1]
    where = f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"
    return f"network: connect to {where} denied by policy\n"


def note_denied_connects() -> None:
    """Wrap blocking socket connects so that a denied one leaves a line in the call's log.

    Non-blocking connects (asyncio) report their failure later, through SO_ERROR, and are not
    noted; the counter counts them all the same."""
    import socket

    connect, connect_ex = socket.socket.connect, socket.socket.connect_ex
    families = (socket.AF_INET, socket.AF_INET6)

    def noted_connect(self: socket.socket, address: Any) -> None:
        try:
            connect(self, address)
        except OSError as exc:
            if exc.errno in _DENIED_ERRNOS and self.family in families:
                sys.stderr.write(_denied_note(address))
            raise

    def noted_connect_ex(self: socket.socket, address: Any) -> int:
        code = connect_ex(self, address)
        if code in _DENIED_ERRNOS and self.family in families:
            sys.stderr.write(_denied_note(address))
        return code

    socket.socket.connect = noted_connect  # type: ignore[method-assign,assignment]
    socket.socket.connect_ex = noted_connect_ex  # type: ignore[method-assign,assignment]


# Lambda's line format: level, UTC time to the millisecond, request id, message.
LOG_FORMAT = "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s"
LOG_DATE_FORMAT = "%Y-%m-%dT%H:%M:%S"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
DEFAULT_LOG_LEVEL = "INFO"
LOG_STREAM_VARIABLE = "AWS_LAMBDA_LOG_STREAM_NAME"


class CurrentRequest:
    """The request id that the log lines of the running invocation carry ("" while the
    handler is imported, as on Lambda)."""

    id = ""


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        # The attribute Lambda's runtime sets, which handlers' formats name.
        record.aws_request_id = CurrentRequest.id
        return True


def set_up_logging(init: dict[str, Any], stream: CaptureText) -> None:
    """A handler on the root logger, as Lambda's runtime installs one: module loggers and
    `logging.info` are captured, and `logging.basicConfig()` (which does nothing once the
    root has a handler) changes neither the format nor the level, just as there."""
    handler = logging.StreamHandler(stream)
    formatter = logging.Formatter(LOG_FORMAT, LOG_DATE_FORMAT)
    formatter.converter = time.gmtime
    handler.setFormatter(formatter)
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    level = init.get("log_level")
    root.setLevel(level if level in LOG_LEVELS else DEFAULT_LOG_LEVEL)


def name_log_stream(init: dict[str, Any]) -> None:
    """This instance's log stream (`<UTC date>/[<version>]<32 hex digits>`, the shape of
    Lambda's): made again in each instance forked from a zygote. The variable follows it
    unless the function's own environment set it."""
    day = time.strftime("%Y/%m/%d", time.gmtime())
    init["log_stream_name"] = f"{day}/[{init['function_version']}]{os.urandom(16).hex()}"
    if init.get("log_stream_variable_ours"):
        os.environ[LOG_STREAM_VARIABLE] = init["log_stream_name"]


def set_runtime_variables(init: dict[str, Any]) -> None:
    """The variables only the inside knows (where the code is as the function sees it, the
    instance's stream); the launcher sets the rest. The function's own values win."""
    init["log_stream_variable_ours"] = LOG_STREAM_VARIABLE not in os.environ
    name_log_stream(init)
    os.environ.setdefault("LAMBDA_TASK_ROOT", init.get("task_root") or init["code_dir"])
    os.environ.setdefault("LAMBDA_RUNTIME_DIR", init.get("runtime_dir") or init["code_dir"])


def prepare_process(init: dict[str, Any], logs: LogBuffer) -> None:
    """Clean sys.path, per-instance output capture and Lambda's logging set-up, before any
    function code runs."""
    here = os.path.dirname(os.path.abspath(__file__))
    stdlib = [path for path in sys.path if path and os.path.abspath(path) != here]
    sys.path[:] = [init["code_dir"], *init["paths"], *stdlib]
    stdout = CaptureText(logs, 1, "<stdout>")
    sys.stdout = stdout
    sys.stderr = CaptureText(logs, 2, "<stderr>")
    set_up_logging(init, stdout)
    set_runtime_variables(init)
    sys.argv = [init["handler"]]
    sys.dont_write_bytecode = True  # the code dir is shared by instances and read-only
    os.set_inheritable(CONTROL_FD, False)
    os.register_at_fork(after_in_child=_close_control_socket)
    note_denied_connects()


def initialize(channel: Channel, init: dict[str, Any], logs: LogBuffer) -> Runner | None:
    started = time.perf_counter()
    out_of_memory = False
    error: dict[str, Any] = {}
    try:
        handler = load_handler(init["handler"])
    except MemoryError:
        out_of_memory = True
    except InitFailure as failure:
        error = failure.error
    except BaseException as exc:  # the module raised at import: SystemExit included
        error = describe(exc, failure_kind(exc))
    else:
        channel.send({"op": "ready", "init_ms": (time.perf_counter() - started) * 1000})
        return Runner(handler)
    if out_of_memory:
        die_of_oom(channel, logs, init["memory_mb"], None, 0.0)
    output, truncated = logs.take()
    header = {"op": "init_error", "error": error, "fatal": True, "logs_truncated": truncated}
    channel.send(header, output)
    return None


def main() -> int:
    channel = Channel(CONTROL_FD)
    frame = channel.read()
    if frame is None:
        return 0
    init = frame[0]
    if init.get("op") != "init":
        return EXIT_PROTOCOL_ERROR
    logs = LogBuffer(init["max_log_bytes"])
    prepare_process(init, logs)
    runner = initialize(channel, init, logs)
    if runner is None:
        return 1
    Instance(channel, init, runner, logs).serve()
    return 0


if __name__ == "__main__":
    # os._exit: neither wait for threads the function left running nor run its atexit hooks;
    # the instance is being thrown away.
    os._exit(main())
