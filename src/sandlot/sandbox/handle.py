"""A sandboxed process as the pool sees it: the launcher's pid, exit, kill, report, cleanup.

The launcher (see `launcher.py`) exits the way its target did, so the launcher's exit is the
process's exit. Waiting uses a pidfd on the event loop: no thread and no SIGCHLD handler.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
from collections.abc import Callable

from sandlot.sandbox.cgroups import Cgroup
from sandlot.sandbox.spec import ExitInfo, ResourceReport

_LAUNCHER_GRACE_S = 5.0  # for the launcher to exit once its namespace is dead
_CGROUP_DRAIN_S = 10.0  # for killed members to leave the cgroup so it can be removed


def _exit_info(returncode: int) -> ExitInfo:
    if returncode < 0:
        return ExitInfo(returncode=None, signal=-returncode)
    return ExitInfo(returncode=returncode, signal=None)


class SandboxHandle:
    """Implements `spec.ProcessHandle` for a process started by `SandboxStarter`."""

    def __init__(
        self,
        proc: subprocess.Popen[bytes],
        cgroup: Cgroup | None,
        on_cleanup: Callable[[SandboxHandle], None],
    ) -> None:
        self._proc = proc
        self._cgroup = cgroup
        self._on_cleanup = on_cleanup
        self._pidfd: int | None = os.pidfd_open(proc.pid)
        self._exited: asyncio.Future[None] | None = None
        self._report: ResourceReport | None = None
        self._cleaned = False

    @property
    def cgroup(self) -> Cgroup | None:
        return self._cgroup

    @property
    def pid(self) -> int:
        return self._proc.pid

    def poll(self) -> ExitInfo | None:
        code = self._proc.poll()
        return None if code is None else _exit_info(code)

    async def wait(self) -> ExitInfo:
        while (info := self.poll()) is None:
            await asyncio.shield(self._exit_future())
        return info

    def _exit_future(self) -> asyncio.Future[None]:
        """One future per handle, resolved when the pidfd says the launcher has exited."""
        if self._exited is None or self._exited.done():
            loop = asyncio.get_running_loop()
            future: asyncio.Future[None] = loop.create_future()
            self._exited = future
            pidfd = self._pidfd
            if pidfd is None:
                future.set_result(None)
                return future

            def on_exit() -> None:
                loop.remove_reader(pidfd)
                if not future.done():
                    future.set_result(None)

            loop.add_reader(pidfd, on_exit)
        return self._exited

    def kill(self) -> None:
        """SIGKILL the cgroup's members (the pid namespace's init among them), then tell the
        launcher, which kills the namespace's init if it still lives and exits like it."""
        with contextlib.suppress(Exception):
            if self._cgroup is not None and not self._cleaned:
                for _ in range(3):  # v1 has no cgroup.kill; see Cgroup.kill
                    if self._cgroup.kill():
                        break
        with contextlib.suppress(Exception):
            if self._proc.poll() is None:
                self._proc.send_signal(signal.SIGTERM)

    def report(self) -> ResourceReport:
        if self._report is not None:
            return self._report
        if self._cgroup is None:
            return ResourceReport()
        return self._cgroup.report()

    async def cleanup(self) -> None:
        """Kill, reap the launcher, drain and remove the cgroup. Idempotent."""
        if self._cleaned:
            return
        self.kill()
        try:
            await asyncio.wait_for(self.wait(), _LAUNCHER_GRACE_S)
        except TimeoutError:
            self._proc.kill()  # its init dies with it (parent-death signal), and so the ns
            await self.wait()
        if self._cgroup is not None:
            await self._drain_cgroup(self._cgroup)
        self._close_pidfd()
        self._cleaned = True
        self._on_cleanup(self)

    async def _drain_cgroup(self, cgroup: Cgroup) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + _CGROUP_DRAIN_S
        # The kernel signals nothing when a cgroup empties (short of inotify on v2's
        # cgroup.events), so poll briefly: members are already SIGKILLed.
        while not cgroup.kill() and loop.time() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.005)
        self._report = cgroup.report()  # before the files vanish
        while not cgroup.remove() and loop.time() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.005)

    def _close_pidfd(self) -> None:
        if self._pidfd is not None:
            if self._exited is not None and not self._exited.done():
                with contextlib.suppress(Exception):
                    asyncio.get_running_loop().remove_reader(self._pidfd)
            os.close(self._pidfd)
            self._pidfd = None
