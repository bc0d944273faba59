"""The zygote: imports a version's handler once, then forks instances of it. Stdlib only.

Started like the bootstrap (``<base python> -I -S zygote.py``, in the version's sandbox) with
two sockets from the pool:

- fd 3, a stream socket: the bootstrap's own init exchange, unchanged (``init`` ->
  ``ready`` | ``init_error``), so import errors, import output and a MemoryError while
  importing come back exactly as from a single instance. Afterwards it only says, by its
  EOF, that the zygote died.
- fd 4, a SOCK_SEQPACKET socket for fork requests, one JSON datagram each way:

      pool -> zygote  {"op": "fork", "id": int}   + SCM_RIGHTS [instance socket, output pipe]
      zygote -> pool  {"op": "forked", "id": int, "pid": int}   + SCM_RIGHTS [pidfd]
                      {"op": "fork_error", "id": int, "message": str}
                      {"op": "exited", "pid": int, "status": int}   (a wait status)

  The pidfd is how the pool learns the child's host pid (from its fdinfo) and watches it;
  ``pid`` is the child's pid here, which ``exited`` refers to. EOF on fd 4 (the pool shut
  its side for writing) means: fork no more, reap and report the children left, then exit.

A child puts the instance socket on fd 3 and the pipe on fds 1 and 2 (the bootstrap's
layout), leads a new session (so a plain starter can kill its group), applies its per-
instance layers (`layers.py`), reseeds `random`, then waits for the pool's ``init`` frame,
which the pool sends only once the child is in its cgroup with its rlimits, and answers
``ready`` with its setup time. From there it is an ordinary bootstrap instance; the handler
module, its globals and the output printed while importing are inherited from the zygote.

Kept small on purpose: fork time grows with the zygote's heap, so the zygote imports only
C-level modules here (`_socket`, `select`; `signal` rides on the `enum` that `json` loads)
and freezes the GC after its imports so that a child's collections do not touch, and copy,
every inherited object.
"""

from __future__ import annotations

import _socket
import gc
import json
import os
import select
import signal
import struct
import sys
import time

try:  # the server imports this module for its constants, as part of the package
    from . import bootstrap, layers
except ImportError:  # run as a script: the modules next to it (prepare_process takes the
    # directory off sys.path again before the function's code is imported)
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import bootstrap  # type: ignore[no-redef,import-not-found]
    import layers  # type: ignore[no-redef,import-not-found]

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# The C module that `signal` wraps with enums, for the child (see `Forker.child`); no stubs.
_signal: Any = __import__("_signal")
FORK_FD = 4
_SCM_RIGHTS = 1
_EXIT_SETUP_FAILED = 125
_MAX_REQUEST = 64 * 1024


class Forker:
    def __init__(self, init: dict[str, Any], runner: bootstrap.Runner, logs: Any) -> None:
        self.init = init
        self.runner = runner
        self.logs = logs
        self.layers: dict[str, Any] = init.get("fork_layers") or {}
        self.libc = layers.Libc() if self.layers.get("private_tmp") else None
        layers.prepare(self.libc, self.layers)
        self.sock = _socket.socket(fileno=FORK_FD)
        self.wake_r, wake_w = os.pipe()
        os.set_blocking(wake_w, False)
        os.set_blocking(self.wake_r, False)
        signal.set_wakeup_fd(wake_w, warn_on_full_buffer=False)
        self.wake_w = wake_w
        self.children: set[int] = set()
        self.stopping = False
        signal.signal(signal.SIGCHLD, lambda _sig, _frame: None)  # a handler, so the fd wakes us

    def send(self, message: dict[str, Any], fds: tuple[int, ...] = ()) -> None:
        data = json.dumps(message).encode()
        ancillary = [(_socket.SOL_SOCKET, _SCM_RIGHTS, struct.pack(f"{len(fds)}i", *fds))]
        self.sock.sendmsg([data], ancillary if fds else [])

    def serve(self) -> int:
        """Fork on request; once told to stop, stay only to reap (and report) the children."""
        while not (self.stopping and not self.children):
            watched = [self.wake_r] if self.stopping else [FORK_FD, self.wake_r]
            ready = select.select(watched, [], [])[0]
            if self.wake_r in ready:
                self.reap()
            if FORK_FD in ready and not self.request():
                self.stopping = True
        return 0

    def reap(self) -> None:
        try:
            while os.read(self.wake_r, 512):
                pass
        except BlockingIOError:
            pass
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            self.children.discard(pid)
            try:  # noqa: SIM105 - contextlib is one more import for every zygote
                self.send({"op": "exited", "pid": pid, "status": status})
            except OSError:
                pass  # the pool is gone; reaping still matters

    def request(self) -> bool:
        size = _socket.CMSG_LEN(2 * 4)
        data, ancdata, _flags, _addr = self.sock.recvmsg(_MAX_REQUEST, size)
        if not data:
            return False  # the pool closed the socket: stop forking
        fds: list[int] = []
        for level, kind, raw in ancdata:
            if level == _socket.SOL_SOCKET and kind == _SCM_RIGHTS:
                fds += struct.unpack(f"{len(raw) // 4}i", raw[: len(raw) - len(raw) % 4])
        message = json.loads(data)
        try:
            if len(fds) != 2 or message.get("op") != "fork":
                raise ValueError(f"bad fork request: {message!r} with {len(fds)} fds")
            self.fork(message["id"], fds[0], fds[1])
        except Exception as exc:  # the zygote stays up; only this start fails
            self.send({"op": "fork_error", "id": message.get("id"), "message": str(exc)})
        finally:
            for fd in fds:
                os.close(fd)
        return True

    def fork(self, request_id: int, sock_fd: int, out_fd: int) -> None:
        pid = os.fork()
        if pid == 0:
            self.child(sock_fd, out_fd)
        self.children.add(pid)
        pidfd = os.pidfd_open(pid)
        try:
            self.send({"op": "forked", "id": request_id, "pid": pid}, (pidfd,))
        finally:
            os.close(pidfd)

    def child(self, sock_fd: int, out_fd: int) -> None:
        started = time.perf_counter()
        try:
            # The C module, not `signal`: its enum wrappers touch (and so copy) many pages.
            _signal.set_wakeup_fd(-1)
            _signal.signal(_signal.SIGCHLD, _signal.SIG_DFL)
            for fd in (self.wake_r, self.wake_w):
                os.close(fd)
            self.sock.close()
            os.dup2(out_fd, 1)
            os.dup2(out_fd, 2)
            os.dup2(sock_fd, bootstrap.CONTROL_FD, inheritable=False)
            os.close(sock_fd)
            os.close(out_fd)
            os.setsid()
            layers.apply(self.libc, self.layers)
            random = sys.modules.get("random")
            if random is not None:  # inherited state would repeat in every instance
                random.seed()
        except BaseException as exc:
            os.write(2, f"sandlot: instance setup failed: {exc}\n".encode())
            os._exit(_EXIT_SETUP_FAILED)
        os._exit(self.instance((time.perf_counter() - started) * 1000))

    def instance(self, layers_ms: float) -> int:
        channel = bootstrap.Channel(bootstrap.CONTROL_FD)
        frame = channel.read()  # the pool's go: it is in its cgroup now
        if frame is None:
            return 0
        if frame[0].get("op") != "init":
            return bootstrap.EXIT_PROTOCOL_ERROR
        bootstrap.name_log_stream(self.init)  # its own, not the zygote's
        _rehearse(self.init)
        channel.send({"op": "ready", "init_ms": 0.0, "layers_ms": layers_ms})
        bootstrap.Instance(channel, self.init, self.runner, self.logs).serve()
        return 0


def _stand_in(event: Any, context: bootstrap.Context) -> Any:
    return {"event": event, "remaining_ms": context.get_remaining_time_ms()}


def _rehearse(init: dict[str, Any]) -> None:
    """Run one invocation through the bootstrap with a stand-in handler, its reply written
    to a pipe nobody reads. A forked child copies each page of the zygote it first writes
    to (reference counts are writes); this copies the pages that every invocation writes
    while the instance is made, often ahead of need as a spare, instead of during its
    first call. The function's own handler is never called."""
    read_fd, write_fd = os.pipe()
    try:
        channel = bootstrap.Channel(write_fd)
        logs = bootstrap.LogBuffer(init["max_log_bytes"])
        rehearsal = bootstrap.Instance(channel, init, bootstrap.Runner(_stand_in), logs)
        rehearsal.invoke({"id": "rehearsal", "timeout_ms": 1000}, b'{"warm": [1, 2.0, "up"]}')
    finally:
        os.close(read_fd)
        os.close(write_fd)


def _warm_up(init: dict[str, Any]) -> None:
    """Touch once, in the zygote, what every child's first invocation would: those pages
    are then shared, not copied per child."""
    bootstrap.Context("warm-up", init, 1000).get_remaining_time_ms()
    bootstrap.encode_result({"warm": [1, 2.0, "up", None]}, 1024)
    json.loads(b'{"op": "invoke", "id": "x", "timeout_ms": 1, "parts": [4]}')


def main() -> int:
    channel = bootstrap.Channel(bootstrap.CONTROL_FD)
    frame = channel.read()
    if frame is None:
        return 0
    init = frame[0]
    if init.get("op") != "init":
        return bootstrap.EXIT_PROTOCOL_ERROR
    logs = bootstrap.LogBuffer(init["max_log_bytes"])
    bootstrap.prepare_process(init, logs)
    runner = bootstrap.initialize(channel, init, logs)
    if runner is None:
        return 1
    forker = Forker(init, runner, logs)
    _warm_up(init)
    gc.collect()
    gc.freeze()
    return forker.serve()


if __name__ == "__main__":
    os._exit(main())
