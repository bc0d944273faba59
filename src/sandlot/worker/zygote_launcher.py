"""`ZygoteLauncher`: instances forked from a per-version zygote (the default launcher).

Per version, one zygote: `<base python> -I -S zygote.py` started through the pool's
`Starter` like any instance (`ProcessSpec.zygote`), which imports the bootstrap, the handler
module and its dependencies, then forks instances on request. What is per zygote and what
per instance:

- per zygote, before any function code runs (by the starter): user, pid, mount, ipc, uts and
  the group's network namespace, the read-only minimal root, rlimits, no capabilities,
  no_new_privs, seccomp, Landlock (TCP, scoping); the cgroup of the zygote itself (its
  imports must fit the function's memory size). Plain mode: a plain process with rlimits;
- per instance, inside the child (`inside/layers.py`): a private size-capped /tmp in a new
  user and mount namespace, no capabilities, a Landlock layer for files and signals, a
  seccomp filter closing the mount calls again, a reseeded `random`, its own session;
- per instance, from the server (`Starter.adopt`): its own cgroup (memory = memory_mb with
  no swap, pids, CPU) and rlimits, applied by host pid before the pool sends the child its
  go (the bootstrap's `init` frame): no instance runs function code outside its limits.
  The host pid comes from a pidfd the zygote sends with its answer (read from the pidfd's
  fdinfo, which the kernel translates to our pid namespace); the same pidfd tells when the
  instance ended, and the zygote, its parent, reports the exit status.

Why the server, not the zygote, moves the child into its cgroup: the zygote has run the
function's module code, so nothing it does can be trusted to hold a limit; a cgroup fd
passed in would also need the cgroup chowned to the sandbox's uid on v1.

Lifetimes: a crash, OOM or timeout of an instance kills only its cgroup. A zygote that
dies leaves its instances running (its init outlives it, see `sandbox/launcher.py`); the
next start drops it and starts a new one, only a start in flight fails. Retiring a version
or deleting its function stops its zygote (it exits at EOF on its fork channel); its sandbox
and group are released once its last instance is gone. A zygote whose version has had no
instance for the version's keep-alive is stopped by the reaper.

Memory (see `capacity.py`): a ready zygote is charged what its imports took at their peak
(its cgroup's high-water mark; the process's own in plain mode), since it runs no call and
its cgroup bounds it anyway. The charge cannot be known before the zygote has started, so a
first start may overshoot the budget by one zygote; the next start that needs room evicts.
Under pressure the pool evicts idle instances first, then `evict()` here: spares of other
versions, then zygotes of versions with no instance, least recently used first.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
from collections.abc import Callable, Collection
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from sandlot.config import Settings
from sandlot.sandbox.spec import ProcessHandle, SandboxLimits, Starter
from sandlot.worker import failures
from sandlot.worker.capacity import Capacity
from sandlot.worker.inside import zygote as inside_zygote
from sandlot.worker.instance import Instance, StartFailed
from sandlot.worker.interface import VersionSpec
from sandlot.worker.inventory import Kept
from sandlot.worker.launcher import (
    FILE_SECRETS_NEED_SANDBOX,
    ProcessLauncher,
    StartTimes,
    connect_instance,
    group_name,
    init_message,
    init_timeout_s,
    process_name,
)
from sandlot.worker.spares import SpareInstances
from sandlot.worker.zygote import ZygoteDied, ZygoteProcess

ZYGOTE_PATH = Path(inside_zygote.__file__).resolve()
# A forked child has its init from the zygote; the pool's `init` frame is only its go, sent
# once the child is in its cgroup.
_GO = {"op": "init"}
_Key = tuple[str, int]


class ZygoteLauncher:
    """Implements `launcher.Launcher`; `zygote_pid()` is for tests and inspection."""

    def __init__(self, starter: Starter, settings: Settings, capacity: Capacity) -> None:
        self._starter = starter
        self._settings = settings
        self._capacity = capacity
        self._processes = ProcessLauncher(starter, settings)
        self._serial = 0
        self._zygotes: dict[_Key, ZygoteProcess] = {}
        self._locks: dict[_Key, asyncio.Lock] = {}
        self._draining: dict[_Key, set[ZygoteProcess]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._spares = SpareInstances(self._spare, capacity, settings.spare_instances)

    def zygote(self, key: _Key) -> ZygoteProcess | None:
        return self._zygotes.get(key)

    # starting instances

    async def launch(
        self, spec: VersionSpec, register: Callable[[Instance], None]
    ) -> tuple[Instance, StartTimes]:
        times = StartTimes()
        spare = await self._spares.take(spec.key)
        zygote = self._zygotes.get(spec.key)
        if spare is not None and zygote is not None and zygote.alive:
            # Forked, adopted and initialised ahead of this call: no fork or layers time.
            zygote.last_used = time.monotonic()
            register(spare)
            self._spares.refill(spec)
            return spare, times
        if spare is not None:
            await spare.close()  # its zygote is gone: stopping, or dead
        zygote = await self._running_zygote(spec, times)
        zygote.last_used = time.monotonic()
        began = time.perf_counter()
        instance, forked = await self._fork(zygote, spec)
        times.fork_ms = (forked - began) * 1000
        register(instance)
        await instance.initialize(dict(_GO), init_timeout_s(spec))
        # From the fork's answer to the child's ready: its cgroup, rlimits and own layers.
        times.layers_ms = (time.perf_counter() - forked) * 1000
        self._spares.refill(spec)
        return instance, times

    async def prepare(self, spec: VersionSpec) -> StartTimes:
        """Start the version's zygote (its handler imported) and keep it, or find it running."""
        times = StartTimes()
        zygote = await self._running_zygote(spec, times)
        zygote.last_used = time.monotonic()  # its keep-alive counts from the check
        return times

    async def _spare(self, spec: VersionSpec) -> Instance:
        """The next instance of a version with traffic, made before a call asks for it."""
        zygote = self._zygotes.get(spec.key)
        if zygote is None or not zygote.alive:
            raise ZygoteDied("the version has no running zygote")
        instance, _ = await self._fork(zygote, spec)
        try:
            await instance.initialize(dict(_GO), init_timeout_s(spec))
        except BaseException:
            await instance.close()
            raise
        return instance

    async def _fork(self, zygote: ZygoteProcess, spec: VersionSpec) -> tuple[Instance, float]:
        """A child of `zygote`, adopted into its own cgroup; returns it and when it was forked."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        read_fd, write_fd = os.pipe()
        handle: ProcessHandle | None = None
        try:
            try:
                pidfd, pid = await zygote.fork(theirs, write_fd)
            finally:
                theirs.close()
                os.close(write_fd)
            forked = time.perf_counter()
            limits = SandboxLimits(
                memory_mb=spec.memory_mb,
                pids=self._settings.pids_max,
                cpus=self._settings.instance_cpus,
                tmp_mb=spec.tmp_mb,
            )
            name = self._name(spec)
            adopted = await self._starter.adopt(pidfd, name, limits)
            handle = adopted
            zygote.track(pid, adopted)
        except BaseException as exc:
            ours.close()
            os.close(read_fd)
            if handle is not None:
                await handle.cleanup()
            if isinstance(exc, ZygoteDied):
                self._drop(spec.key, zygote)
                error = failures.stopped(f"its version's zygote died while forking it ({exc})")
                raise StartFailed(error, "", False) from exc
            raise
        instance = await connect_instance(name, spec, adopted, ours, read_fd, self._settings)
        return instance, forked

    def _name(self, spec: VersionSpec) -> str:
        self._serial += 1
        return process_name(spec, self._serial)

    # zygotes

    async def _running_zygote(self, spec: VersionSpec, times: StartTimes) -> ZygoteProcess:
        zygote = self._zygotes.get(spec.key)
        if zygote is not None and zygote.alive:
            return zygote
        try:
            return await self._new_zygote(spec, times)
        except BaseException:
            # A zygote that failed to import leaves nothing running: free its group (network
            # namespace, uid) now, or every failed version would hold one until shutdown.
            await self._release_if_free(spec.key, spec)
            raise

    async def _new_zygote(self, spec: VersionSpec, times: StartTimes) -> ZygoteProcess:
        async with self._locks.setdefault(spec.key, asyncio.Lock()):
            zygote = self._zygotes.get(spec.key)
            if zygote is not None:
                if zygote.alive:
                    return zygote
                self._drop(spec.key, zygote)  # it died: start another
            began = time.perf_counter()
            zygote, times.init_ms = await self._start_zygote(spec)
            times.zygote_ms = (time.perf_counter() - began) * 1000
            zygote.charge_mb = _peak_mb(zygote.process.handle)
            self._capacity.charge(zygote.charge_mb, instances=0)
            self._zygotes[spec.key] = zygote
            return zygote

    async def _start_zygote(self, spec: VersionSpec) -> tuple[ZygoteProcess, float]:
        name = self._name(spec) + "-zygote"
        if spec.secret_files and not self._mounts_per_child(spec, name):
            raise StartFailed(failures.stopped(FILE_SECRETS_NEED_SANDBOX), "", False)
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        fork_ours, fork_theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        read_fd, write_fd = os.pipe()
        base = self._processes.process_spec(spec, name, theirs.fileno(), write_fd)
        process_spec = replace(
            base,
            argv=[*base.argv[:-1], self._processes.places(spec).script(ZYGOTE_PATH)],
            pass_fds={**base.pass_fds, inside_zygote.FORK_FD: fork_theirs.fileno()},
            zygote=True,
        )
        try:
            handle = await self._starter.start(process_spec)
        except BaseException:
            for sock in (ours, fork_ours):
                sock.close()
            os.close(read_fd)
            raise
        finally:
            for sock in (theirs, fork_theirs):
                sock.close()
            os.close(write_fd)
        try:
            process = await connect_instance(name, spec, handle, ours, read_fd, self._settings)
        except BaseException:
            fork_ours.close()
            raise
        init = init_message(spec, self._settings, self._processes.places(spec))
        init["fork_layers"] = _layers_message(self._starter, process_spec)
        if spec.secret_files:
            # Each child mounts them in its own /run/secrets (see inside/layers.py).
            init["fork_layers"]["secret_files"] = dict(spec.secret_files)
        try:
            init_ms = await process.initialize(init, init_timeout_s(spec))
        except BaseException:
            fork_ours.close()
            await process.close()
            raise
        return ZygoteProcess(process, fork_ours, spec), init_ms

    def _mounts_per_child(self, spec: VersionSpec, name: str) -> bool:
        """Whether each child mounts a /tmp (and so /run/secrets) of its own: sandboxed."""
        probe = self._processes.process_spec(spec, name, -1, -1)
        return self._starter.fork_layers(probe).private_tmp

    def _drop(self, key: _Key, zygote: ZygoteProcess) -> None:
        """Stop a zygote; clean its sandbox up once every instance it forked is gone."""
        if self._zygotes.get(key) is zygote:
            del self._zygotes[key]
            self._spares.discard(key)
            self._capacity.refund(zygote.charge_mb, instances=0)
        if zygote in self._draining.get(key, set()):
            return
        zygote.stop()
        self._draining.setdefault(key, set()).add(zygote)
        task = asyncio.ensure_future(self._drain(key, zygote))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _drain(self, key: _Key, zygote: ZygoteProcess) -> None:
        try:
            # A sandboxed zygote's handle ends when its init does: after the last instance.
            await zygote.process.handle.wait()
            await zygote.process.close()
        finally:
            draining = self._draining.get(key, set())
            draining.discard(zygote)
            if not draining:
                self._draining.pop(key, None)
            await self._release_if_free(key, zygote.spec)

    async def _release_if_free(self, key: _Key, spec: VersionSpec) -> None:
        lock = self._locks.get(key)
        if key in self._zygotes or key in self._draining or (lock is not None and lock.locked()):
            return
        self._locks.pop(key, None)
        await self._starter.release_group(group_name(spec))

    # the pool's notices

    async def version_unused(self, spec: VersionSpec) -> None:
        """The group lives as long as a zygote of the version does; see `_drain`."""

    async def retire(self, function_id: str, version: int | None = None) -> None:
        for key, zygote in list(self._zygotes.items()):
            if key[0] == function_id and version in (None, key[1]):
                self._drop(key, zygote)

    def evict(self, keep: _Key | None, in_use: Collection[_Key]) -> bool:
        """Stop one thing to make room for a start of `keep`: the oldest spare of another
        version, else the least recently used zygote of a version not `in_use` (those with an
        instance or a call in flight), else `keep`'s own spare. False when nothing could go."""
        if self._spares.evict_oldest(keep):
            return True
        unused = [z for key, z in self._zygotes.items() if key != keep and key not in in_use]
        if unused:
            zygote = min(unused, key=lambda z: z.last_used)
            self._drop(zygote.spec.key, zygote)
            return True
        return keep is not None and self._spares.discard(keep)

    async def reap(self, in_use: Collection[_Key]) -> None:
        now = time.monotonic()
        for key, zygote in list(self._zygotes.items()):
            idle = now - zygote.last_used >= zygote.spec.keep_alive_s
            if not zygote.alive or (key not in in_use and idle):
                self._drop(key, zygote)

    def kept(self) -> list[Kept]:
        spares = self._spares.counts()
        kept = [
            Kept(zygote.spec, zygote=True, spares=spares.pop(key, (zygote.spec, 0))[1])
            for key, zygote in self._zygotes.items()
        ]
        return kept + [Kept(spec, spares=count) for spec, count in spares.values()]

    async def close(self) -> None:
        for key, zygote in list(self._zygotes.items()):
            self._drop(key, zygote)
        await self._spares.close()
        for draining in list(self._draining.values()):
            for zygote in list(draining):
                zygote.process.kill("the worker shut down")
        while self._tasks:
            with contextlib.suppress(Exception):
                await asyncio.gather(*self._tasks)


def _peak_mb(handle: ProcessHandle) -> int:
    peak = handle.report().peak_memory_bytes or _high_water_bytes(handle.pid)
    return max(1, -(-peak // (1024 * 1024)))


def _high_water_bytes(pid: int) -> int:
    """The process's peak resident size (VmHWM), for a zygote without a cgroup."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def _layers_message(starter: Starter, process_spec: Any) -> dict[str, Any]:
    layers = asdict(starter.fork_layers(process_spec))
    layers["seccomp_bpf"] = layers["seccomp_bpf"].hex()
    layers["read_exec"] = list(layers["read_exec"])
    layers["read_write"] = list(layers["read_write"])
    return layers
