"""The pool's side of one running zygote: its fork channel, and the exits it reports.

The zygote process itself is an `Instance` for its init exchange (so an import error is a
`StartFailed` exactly as for a single instance), and its fork channel is a SOCK_SEQPACKET
socket read on the event loop with `recvmsg`, because file descriptors travel on it both ways
(see `sandlot.worker.inside.zygote` for the messages). Nothing here blocks: a fork request
is one `sendmsg` of a few bytes, its answer a future.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import socket
import struct
import time
from typing import Any

from sandlot.sandbox.spec import AdoptedHandle, ExitInfo
from sandlot.worker.instance import Instance
from sandlot.worker.interface import VersionSpec

_MAX_MESSAGE = 64 * 1024
_FDS_SPACE = socket.CMSG_SPACE(struct.calcsize("i"))


class ZygoteDied(Exception):
    """The zygote's fork channel closed: it died, or was stopped."""


def _exit_info(status: int) -> ExitInfo:
    code = os.waitstatus_to_exitcode(status)
    return ExitInfo(returncode=None, signal=-code) if code < 0 else ExitInfo(code, None)


class ZygoteProcess:
    """A live zygote. `fork()` returns a pidfd and the child's pid inside the sandbox."""

    def __init__(self, process: Instance, fork_sock: socket.socket, spec: VersionSpec) -> None:
        self.process = process  # initialised: its handler is imported
        self.spec = spec
        self.last_used = time.monotonic()
        self.forks = 0
        self.charge_mb = 0  # against the worker's memory budget, once it is ready
        self._sock = fork_sock
        self._sock.setblocking(False)
        self._loop = asyncio.get_running_loop()
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[tuple[int, int]]] = {}
        self._children: dict[int, AdoptedHandle] = {}
        self._early_exits: dict[int, ExitInfo] = {}
        self._closed = False
        self._stopping = False
        self._loop.add_reader(self._sock.fileno(), self._on_readable)

    @property
    def alive(self) -> bool:
        return not self._closed and not self._stopping and self.process.alive

    async def fork(self, instance_sock: socket.socket, output_fd: int) -> tuple[int, int]:
        """Ask for a child serving `instance_sock`; the caller keeps and closes its fds."""
        if not self.alive:
            raise ZygoteDied("the zygote is not running")
        request_id = next(self._ids)
        waiter: asyncio.Future[tuple[int, int]] = self._loop.create_future()
        self._waiting[request_id] = waiter
        message = json.dumps({"op": "fork", "id": request_id}).encode()
        try:
            socket.send_fds(self._sock, [message], [instance_sock.fileno(), output_fd])
            return await waiter
        except OSError as exc:  # EPIPE, ECONNRESET; the datagram is tiny: never EAGAIN
            self._fail(ZygoteDied(f"the zygote's fork channel failed: {exc}"))
            raise ZygoteDied(str(exc)) from exc
        finally:
            self._waiting.pop(request_id, None)

    def track(self, pid: int, handle: AdoptedHandle) -> None:
        """Route the exit the zygote reports for `pid` (its own pid space) to `handle`."""
        early = self._early_exits.pop(pid, None)
        if early is not None:
            handle.exited(early)
        else:
            self._children[pid] = handle

    def stop(self) -> None:
        """Shut the fork channel for writing: the zygote forks no more, and exits once it has
        reaped (and reported) the children it forked, which run on meanwhile."""
        if self._stopping or self._closed:
            return
        self._stopping = True
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_WR)

    def _on_readable(self) -> None:
        while not self._closed:
            try:
                data, ancdata, _flags, _addr = self._sock.recvmsg(_MAX_MESSAGE, _FDS_SPACE)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                self._fail(ZygoteDied(f"the zygote's fork channel failed: {exc}"))
                return
            fds = _fds_of(ancdata)
            if not data:
                self._fail(ZygoteDied("the zygote exited"))
                return
            try:
                self._handle(json.loads(data), fds)
            except (ValueError, KeyError, TypeError):
                for fd in fds:
                    os.close(fd)
                self._fail(ZygoteDied("the zygote broke its protocol"))

    def _handle(self, message: dict[str, Any], fds: list[int]) -> None:
        op = message["op"]
        if op == "exited":
            pid, info = int(message["pid"]), _exit_info(int(message["status"]))
            handle = self._children.pop(pid, None)
            if handle is not None:
                handle.exited(info)
            else:
                self._early_exits[pid] = info
            return
        waiter = self._waiting.get(int(message["id"]))
        if op == "forked" and len(fds) == 1 and waiter is not None and not waiter.done():
            self.forks += 1
            waiter.set_result((fds[0], int(message["pid"])))
            return
        for fd in fds:
            os.close(fd)
        if waiter is not None and not waiter.done():
            waiter.set_exception(ZygoteDied(f"the zygote could not fork: {message.get('message')}"))

    def _fail(self, error: ZygoteDied) -> None:
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(Exception):
            self._loop.remove_reader(self._sock.fileno())
        self._sock.close()
        for waiter in self._waiting.values():
            if not waiter.done():
                waiter.set_exception(error)


def _fds_of(ancdata: list[tuple[int, int, bytes]]) -> list[int]:
    fds: list[int] = []
    for level, kind, raw in ancdata:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            usable = len(raw) - len(raw) % 4
            fds += struct.unpack(f"{usable // 4}i", raw[:usable])
    return fds
