"""`PlainStarter`: function processes as ordinary child processes, with rlimits only.

This is the insecure development mode: the process shares the host's filesystem, network
and user, so it only suits code you trust. It exists so that Sandlot runs on any Linux box
and so the runtime pool can be tested without privileges.

How a process starts, and why:

- `os.posix_spawn`, not `subprocess`: it maps fds to other numbers (the control socket
  must be fd 3 in the child) without a `preexec_fn`, which is unsafe in a threaded server.
- posix_spawn has no "chdir" action, so spawning happens on one dedicated thread that has
  its own working directory (`unshare(CLONE_FS)`): changing it never moves the server's.
- `setsid`, so the process leads a new process group and `kill()` ends all it started.
  A grandchild that calls setsid itself escapes; only the sandboxed starter's cgroup
  catches those.
- rlimits are set with `prlimit(pid)` right after the spawn. The bootstrap waits for its
  init frame before it imports any function code, and the pool sends that only once
  `start()` has returned, so no function code ever runs without its limits.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import resource
import signal
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sandlot.sandbox.adopted import AdoptedProcess, host_pid
from sandlot.sandbox.spec import ExitInfo, ForkLayers, ProcessSpec, ResourceReport, SandboxLimits

_CLONE_FS = 0x200
_MIB = 1024 * 1024


def _private_working_directory() -> None:
    """Give the spawning thread a cwd of its own (threads share one by default)."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(_CLONE_FS) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"unshare(CLONE_FS): {os.strerror(errno)}")


def _inheritable_fds() -> list[int]:
    fds = []
    for entry in os.listdir("/proc/self/fd"):
        try:
            if os.get_inheritable(int(entry)):
                fds.append(int(entry))
        except OSError:  # the listing's own fd, already closed
            continue
    return fds


def _file_actions(spec: ProcessSpec) -> list[tuple[Any, ...]]:
    actions: list[tuple[Any, ...]] = [(os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0)]
    for target, source in ((1, spec.stdout_fd), (2, spec.stderr_fd)):
        if source is None:
            actions.append((os.POSIX_SPAWN_OPEN, target, os.devnull, os.O_WRONLY, 0))
        else:
            actions.append((os.POSIX_SPAWN_DUP2, source, target))
    actions += [(os.POSIX_SPAWN_DUP2, src, dst) for dst, src in spec.pass_fds.items()]
    # Python opens fds non-inheritable, but C libraries may not: close whatever else would
    # leak into the function (a database connection, the server's listening socket).
    targets = {0, 1, 2, *spec.pass_fds}
    actions += [(os.POSIX_SPAWN_CLOSE, fd) for fd in _inheritable_fds() if fd not in targets]
    return actions


def _rlimits(limits: SandboxLimits, memory: bool = True) -> list[tuple[int, int]]:
    common = [
        (resource.RLIMIT_CORE, 0),
        (resource.RLIMIT_FSIZE, limits.file_size_mb * _MIB),
        (resource.RLIMIT_NOFILE, limits.open_files),
    ]
    if not memory:  # a cgroup limits memory
        return common
    return [
        *common,
        # RLIMIT_DATA, not RLIMIT_AS. Since Linux 4.7 RLIMIT_DATA counts the private writable
        # memory a process can fill (heap, anonymous mmap, thread stacks), while RLIMIT_AS
        # counts every reservation too: shared libraries, guard pages and glibc's 64 MiB
        # per-thread malloc arenas, so any threaded function would hit it far below its
        # memory size. Past either limit an allocation fails with ENOMEM, which Python raises
        # as MemoryError: the bootstrap reports it instead of the kernel's OOM killer
        # striking. RLIMIT_NPROC is left alone: it counts every process of the uid.
        (resource.RLIMIT_DATA, limits.memory_mb * _MIB),
    ]


def apply_rlimits(pid: int, limits: SandboxLimits, *, memory: bool = True) -> None:
    """Set a process's rlimits from outside; `memory=False` when a cgroup limits memory."""
    for which, value in _rlimits(limits, memory):
        _, hard = resource.getrlimit(which)  # the child inherited ours; never try to raise it
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)
        try:
            resource.prlimit(pid, which, (value, value))
        except ProcessLookupError:
            return  # it already died; the handle reports how


def _exit_info(status: int) -> ExitInfo:
    code = os.waitstatus_to_exitcode(status)
    if code < 0:
        return ExitInfo(returncode=None, signal=-code)
    return ExitInfo(returncode=code, signal=None)


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _spawn(spec: ProcessSpec) -> tuple[int, int]:
    """Runs on the spawn thread: start the process, open its pidfd, apply the rlimits."""
    os.chdir(spec.cwd)
    pid = os.posix_spawn(
        spec.argv[0],
        list(spec.argv),
        dict(spec.env),
        file_actions=_file_actions(spec),
        setsid=True,
        # Python ignores these two; ignored signals stay ignored across exec.
        setsigdef=(signal.SIGPIPE, signal.SIGXFSZ),
    )
    try:
        pidfd = os.pidfd_open(pid)
        apply_rlimits(pid, spec.limits)
    except BaseException:
        _kill_group(pid)
        os.waitpid(pid, 0)
        raise
    return pid, pidfd


class PlainProcess:
    """A `ProcessHandle` for a child started by `PlainStarter`."""

    def __init__(
        self, pid: int, pidfd: int, on_reaped: Callable[[PlainProcess], None] | None = None
    ) -> None:
        self._pid = pid
        self._pidfd = pidfd
        self._exit: ExitInfo | None = None
        self._peak_memory: int | None = None
        self._waiter: asyncio.Future[ExitInfo] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._on_reaped = on_reaped

    @property
    def pid(self) -> int:
        return self._pid

    def poll(self) -> ExitInfo | None:
        if self._exit is None and self._has_exited():
            self._reap()
        return self._exit

    async def wait(self) -> ExitInfo:
        exit_info = self.poll()
        if exit_info is not None:
            return exit_info
        if self._waiter is None:
            self._loop = asyncio.get_running_loop()
            self._waiter = self._loop.create_future()
            self._loop.add_reader(self._pidfd, self._on_pidfd_readable)
        # Shielded: one caller giving up must not cancel the wait of the others.
        return await asyncio.shield(self._waiter)

    def kill(self) -> None:
        if self._exit is None:
            _kill_group(self._pid)

    def report(self) -> ResourceReport:
        # A plain process has no cgroup, so the kernel cannot say whether it hit a limit.
        return ResourceReport(peak_memory_bytes=self._peak_memory)

    async def cleanup(self) -> None:
        self.kill()
        await self.wait()

    def _has_exited(self) -> bool:
        # WNOWAIT: look without reaping, so the group can still be killed safely below.
        flags = os.WEXITED | os.WNOHANG | os.WNOWAIT
        try:
            return os.waitid(os.P_PID, self._pid, flags) is not None
        except ChildProcessError:
            return True

    def _reap(self) -> None:
        # Until the leader is reaped its pid, and so the group id, cannot be reused: kill
        # what is left of the group now, never after the reap.
        _kill_group(self._pid)
        try:
            _, status, usage = os.wait4(self._pid, 0)
            self._exit = _exit_info(status)
            self._peak_memory = usage.ru_maxrss * 1024
        except ChildProcessError:  # reaped by someone else: how it ended is lost
            self._exit = ExitInfo(returncode=-1, signal=None)
        self._close_pidfd()
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(self._exit)
        if self._on_reaped is not None:
            self._on_reaped(self)

    def _on_pidfd_readable(self) -> None:
        self.poll()

    def _close_pidfd(self) -> None:
        if self._pidfd < 0:
            return
        if self._loop is not None and not self._loop.is_closed():
            self._loop.remove_reader(self._pidfd)
        os.close(self._pidfd)
        self._pidfd = -1


class PlainStarter:
    """`Starter` for the insecure development mode: ordinary processes with rlimits."""

    def __init__(self) -> None:
        self._executor: ThreadPoolExecutor | None = None
        self._live: set[PlainProcess] = set()
        self._adopted: set[AdoptedProcess] = set()

    @property
    def name(self) -> str:
        return "plain"

    @property
    def moves_paths(self) -> bool:
        return False  # no mount namespace: a process sees the host's paths as they are

    async def start(self, spec: ProcessSpec) -> PlainProcess:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(
                max_workers=1,
                thread_name_prefix="sandlot-spawn",
                initializer=_private_working_directory,
            )
        loop = asyncio.get_running_loop()
        spawned = loop.run_in_executor(self._executor, _spawn, spec)
        try:
            pid, pidfd = await asyncio.shield(spawned)
        except asyncio.CancelledError:
            spawned.add_done_callback(_discard_orphan)
            raise
        process = PlainProcess(pid, pidfd, on_reaped=self._live.discard)
        self._live.add(process)
        return process

    def egress_denied_counts(self) -> dict[str, int]:
        return {}  # nothing is enforced here, so nothing is denied

    async def release_group(self, group: str) -> None:
        """Plain processes share nothing per group."""

    def fork_layers(self, spec: ProcessSpec) -> ForkLayers:
        """Nothing per child beyond rlimits: plain processes share the host's /tmp anyway."""
        return ForkLayers()

    async def adopt(self, pidfd: int, name: str, limits: SandboxLimits) -> AdoptedProcess:
        """rlimits only; the child leads its own process group, which `kill()` ends."""
        try:
            pid = host_pid(pidfd)
        except BaseException:
            os.close(pidfd)
            raise
        process = AdoptedProcess(pid, pidfd, None, self._adopted.discard)
        self._adopted.add(process)
        apply_rlimits(pid, limits)
        return process

    async def close(self) -> None:
        for process in list(self._live):
            await process.cleanup()
        for adopted in list(self._adopted):
            await adopted.cleanup()
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None


def _discard_orphan(spawned: asyncio.Future[tuple[int, int]]) -> None:
    """A start whose caller was cancelled mid-spawn: nobody will ever use that process."""
    if spawned.cancelled() or spawned.exception() is not None:
        return
    pid, pidfd = spawned.result()
    _kill_group(pid)
    os.waitpid(pid, 0)
    os.close(pidfd)
