"""`AdoptedProcess`: the handle of an instance that a zygote forked, for either starter.

The server is not the process's parent, so it cannot reap it or read its exit status: it
watches a pidfd (which the zygote sent it) for the exit, and the zygote, which reaps its
children, reports the status through `exited()`. If the zygote is gone by then, the status
is unknown and reported as code -1. Killing goes through the instance's own cgroup when
sandboxed (every process it started is a member, setsid'd ones included), else through its
process group (the child called setsid).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import select
import signal
from collections.abc import Callable

from sandlot.sandbox.cgroups import Cgroup
from sandlot.sandbox.spec import ExitInfo, ResourceReport

_STATUS_WAIT_S = 1.0  # for the zygote's report once the pidfd says the process ended
_UNKNOWN_EXIT = ExitInfo(returncode=-1, signal=None)
_CGROUP_DRAIN_S = 10.0


def host_pid(pidfd: int) -> int:
    """The pid, in the server's pid namespace, of the process a pidfd refers to."""
    with open(f"/proc/self/fdinfo/{pidfd}") as fh:
        for line in fh:
            if line.startswith("Pid:"):
                pid = int(line.split()[1])
                if pid > 0:
                    return pid
    raise ProcessLookupError("the forked process has already been reaped")


async def drain_cgroup(cgroup: Cgroup) -> ResourceReport:
    """Kill the cgroup's members until it is empty, read its report, and remove it."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + _CGROUP_DRAIN_S
    # The kernel signals nothing when a v1 cgroup empties, so poll briefly: members are
    # already SIGKILLed.
    while not cgroup.kill() and loop.time() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.005)
    report = cgroup.report()  # before the files vanish
    # rmdir of a v1 memory cgroup can block for a while: never on the event loop.
    while not await asyncio.to_thread(cgroup.remove) and loop.time() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.005)
    return report


class AdoptedProcess:
    """Implements `spec.AdoptedHandle`."""

    def __init__(
        self,
        pid: int,
        pidfd: int,
        cgroup: Cgroup | None,
        on_cleanup: Callable[[AdoptedProcess], None],
    ) -> None:
        self._pid = pid
        self._pidfd = pidfd
        self._cgroup = cgroup
        self._on_cleanup = on_cleanup
        self._exit: ExitInfo | None = None
        self._status: asyncio.Future[None] | None = None
        self._ended: asyncio.Future[None] | None = None
        self._report: ResourceReport | None = None
        self._cleaned = False

    @property
    def cgroup(self) -> Cgroup | None:
        return self._cgroup

    @property
    def pid(self) -> int:
        return self._pid

    def exited(self, info: ExitInfo) -> None:
        if self._exit is None:
            self._exit = info
        if self._status is not None and not self._status.done():
            self._status.set_result(None)

    def _has_ended(self) -> bool:
        if self._pidfd < 0:
            return True
        return bool(select.select([self._pidfd], [], [], 0)[0])

    def poll(self) -> ExitInfo | None:
        if self._exit is not None:
            return self._exit
        return _UNKNOWN_EXIT if self._has_ended() else None

    async def wait(self) -> ExitInfo:
        if self._exit is not None:
            return self._exit
        await asyncio.shield(self._end_future())
        if self._exit is None:
            if self._status is None:
                self._status = asyncio.get_running_loop().create_future()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._status), _STATUS_WAIT_S)
        return self._exit or _UNKNOWN_EXIT

    def _end_future(self) -> asyncio.Future[None]:
        if self._ended is None:
            loop = asyncio.get_running_loop()
            ended: asyncio.Future[None] = loop.create_future()
            self._ended = ended
            pidfd = self._pidfd
            if pidfd < 0:
                ended.set_result(None)
                return ended

            def on_end() -> None:
                loop.remove_reader(pidfd)
                if not ended.done():
                    ended.set_result(None)

            loop.add_reader(pidfd, on_end)
        return self._ended

    def kill(self) -> None:
        if self._cgroup is not None and not self._cleaned:
            # One pass: a child forked meanwhile is caught by `cleanup`, which kills until the
            # cgroup is empty (v1 has no cgroup.kill; see Cgroup.kill).
            with contextlib.suppress(Exception):
                self._cgroup.kill()
            return
        if self._pidfd >= 0 and not self._has_ended():
            with contextlib.suppress(OSError):
                signal.pidfd_send_signal(self._pidfd, signal.SIGKILL)
            # Its group: while the leader is unreaped, the group id cannot be reused.
            with contextlib.suppress(OSError):
                os.killpg(self._pid, signal.SIGKILL)

    def report(self) -> ResourceReport:
        if self._report is not None:
            return self._report
        return self._cgroup.report() if self._cgroup is not None else ResourceReport()

    async def cleanup(self) -> None:
        """Kill, wait for the end, drain and remove the cgroup. Idempotent."""
        if self._cleaned:
            return
        self.kill()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._reaped(), _CGROUP_DRAIN_S)
        if self._cgroup is not None:
            self._report = await drain_cgroup(self._cgroup)
        self._close_pidfd()
        self._cleaned = True
        self._on_cleanup(self)

    async def _reaped(self) -> None:
        """Until the zygote (or, if it is gone, init) has reaped the process: nothing of it
        may be left once cleanup returns, not even a zombie."""
        await self.wait()
        while os.path.exists(f"/proc/{self._pid}"):  # noqa: ASYNC110, ASYNC240 - a stat; no event for a reap
            await asyncio.sleep(0.005)

    def _close_pidfd(self) -> None:
        if self._pidfd < 0:
            return
        if self._ended is not None and not self._ended.done():
            with contextlib.suppress(Exception):
                asyncio.get_running_loop().remove_reader(self._pidfd)
        os.close(self._pidfd)
        self._pidfd = -1
