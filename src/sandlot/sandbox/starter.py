"""`SandboxStarter`: the `spec.Starter` that runs each process in every sandbox layer.

Per start the server only does cheap work on its event loop thread: take a cgroup made
ahead in a thread (`spares.py`), write the plan to a memfd, and fork+exec the launcher
(subprocess uses vfork, so no Python runs in a forked copy of this multi-threaded process).
Only there: a launcher dies with the thread that forked it (see `launcher.py`), and the loop's
thread outlives every process the starter starts. What a crash leaves anyway is recorded in
the run dir and ended by the next start (`leftovers.py`).
Everything that needs a single-threaded process happens in the launcher. Per group (function
version) it takes a network namespace made ahead, off the loop, and picks a host uid.

Zygotes (`ProcessSpec.zygote`) get every layer before their imports, with two changes that
let their children mount a private /tmp (see `seccomp` and `landlock.restrict`); `adopt()`
then gives each forked child its own cgroup and rlimits from the outside, by host pid, before
the pool lets it run function code. A cgroup write from the server is the only placement
that does not depend on code inside the sandbox, which has run the function's imports.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import re
import secrets
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from sandlot.domain.errors import ServiceUnavailable
from sandlot.sandbox import groupns
from sandlot.sandbox.adopted import AdoptedProcess, host_pid
from sandlot.sandbox.cgroups import Cgroup, CgroupTree, CgroupUnavailable, sweep_stale_trees
from sandlot.sandbox.egress_group import EgressAttachment, attach_egress
from sandlot.sandbox.egress_net import EgressNetwork
from sandlot.sandbox.handle import SandboxHandle
from sandlot.sandbox.launcher import system_paths
from sandlot.sandbox.leftovers import (
    TREE_PREFIX,
    CgroupSweeper,
    OwnershipRecord,
    end_previous_run,
)
from sandlot.sandbox.plan import LaunchPlan
from sandlot.sandbox.seccomp import compile_bpf, compile_instance_bpf
from sandlot.sandbox.spares import Spares
from sandlot.sandbox.spec import (
    DEFAULT_UID_BASE,
    UID_COUNT,
    ForkLayers,
    ProcessHandle,
    ProcessSpec,
    SandboxLimits,
)

_SAFE_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")
# Spares (see `spares.py`): enough cgroups per limits for a burst of cold starts while the
# refill thread catches up, and network namespaces for the next new versions.
_SPARE_CGROUPS = 6
_SPARE_GROUPS = 2
# How often cgroup directories that could not be removed at once are tried again.
_SWEEP_INTERVAL_S = 10.0

log = logging.getLogger(__name__)


class SandboxSetupError(ServiceUnavailable):
    """The sandbox could not be built for a process (a host or configuration problem)."""


def launcher_command() -> list[str]:
    """How to run the launcher: this interpreter, isolated (-I) and without site (-S).

    -S skips site-packages and .pth processing (a few ms and other packages' import hooks);
    the launcher needs only the standard library and this package's directory.
    """
    package_root = str(Path(__file__).resolve().parents[2])
    boot = (
        f"import sys; sys.path.insert(0, {package_root!r}); "
        "from sandlot.sandbox.launcher import main; main(sys.argv[1:])"
    )
    return [sys.executable, "-I", "-S", "-c", boot]


@dataclass
class _Group:
    ns: groupns.GroupNamespaces
    host_id: int | None  # root: the group's own unprivileged host uid and gid
    egress: EgressAttachment | None = None  # a veth, rules and a resolver (see egress_net)


class SandboxStarter:
    """Starts processes in namespaces, a read-only root, cgroups, seccomp and Landlock.

    `run_dir` holds an empty directory on which each launcher mounts its new root (in its own
    mount namespace: the host never sees the mounts). As root, each group gets a host uid from
    `uid_base + [0, uid_count)`; unprivileged, only the server's own uid can be mapped.
    `require_cgroups=False` lets an unprivileged server without delegated cgroups run with
    every other layer (no memory, pids or CPU limits): strict mode never does that.
    """

    name = "sandbox"
    moves_paths = True  # each process has a mount namespace and a root of its own

    def __init__(
        self,
        run_dir: Path,
        *,
        uid_base: int = DEFAULT_UID_BASE,
        uid_count: int = UID_COUNT,
        require_cgroups: bool = True,
        landlock: bool = True,
        setup_timeout_s: float = 10.0,
        sweep_interval_s: float = _SWEEP_INTERVAL_S,
        egress: EgressNetwork | None = None,
        egress_hosts_file: Path | None = None,
    ) -> None:
        self._privileged = os.geteuid() == 0
        self._uid_base, self._uid_count = uid_base, uid_count
        self._landlock = landlock
        self._setup_timeout_s = setup_timeout_s
        run = Path(run_dir).resolve()
        self._root_dir = run / "sandbox-root"
        self._root_dir.mkdir(parents=True, exist_ok=True, mode=0o755)
        # Before any uid is handed out: end what the last run on this run dir left behind.
        self._record = OwnershipRecord(run / "owned")
        left = end_previous_run(self._record.previous())
        self._sweeper = CgroupSweeper(left.trees)
        self._sweep_interval_s = sweep_interval_s
        self._sweep_task: asyncio.Task[None] | None = None
        self._bpf = compile_bpf().hex()
        self._zygote_bpf = compile_bpf(zygote=True).hex()
        self._instance_bpf = compile_instance_bpf()
        self._launcher = launcher_command()
        self._cgroups = self._make_cgroup_tree(require_cgroups)
        self._record.begin(carried=left)
        if self._cgroups is not None:
            self._record.add_tree(self._cgroups)
        self._cgroup_names = itertools.count(1)
        self._spare_cgroups: Spares[SandboxLimits, Cgroup] = Spares(
            self._make_cgroup, _free_cgroup, depth=_SPARE_CGROUPS
        )
        self._spare_groups: Spares[None, groupns.GroupNamespaces] = Spares(
            lambda _key: groupns.create(self._launcher),
            groupns.GroupNamespaces.close,
            depth=_SPARE_GROUPS,
            max_keys=1,
        )
        self._groups: dict[str, _Group] = {}
        self._group_locks: dict[str, asyncio.Lock] = {}
        # Uids that a process of the last run still holds are never handed out by this one.
        self._used_slots = {u - uid_base for u in left.uids if 0 <= u - uid_base < uid_count}
        self._live: set[SandboxHandle | AdoptedProcess] = set()
        # Replaces this run dir's nftables table: a crashed run's rules go before any new one.
        self._egress, self._egress_hosts = egress, egress_hosts_file
        self._denied_released: dict[str, int] = {}  # a counter outlives its group
        if egress is not None:
            egress.start()
        self._closed = False

    @property
    def egress(self) -> EgressNetwork | None:
        return self._egress

    def egress_denied(self, group: str) -> int:
        """Denied packets of a group so far (its kernel counter; blocking: run in a thread)."""
        return self.egress_denied_counts().get(group, 0)

    def egress_denied_counts(self) -> dict[str, int]:
        """Denied packets per group, released groups included: one `nft` call (~5 ms)."""
        counts = dict(self._denied_released)
        if self._egress is None:
            return counts
        by_index = self._egress.denied_counts()
        for name, group in self._groups.items():
            if group.egress is not None:
                counts[name] = counts.get(name, 0) + by_index.get(group.egress.link.index, 0)
        return counts

    @staticmethod
    def _make_cgroup_tree(required: bool) -> CgroupTree | None:
        with contextlib.suppress(OSError):
            sweep_stale_trees(TREE_PREFIX)
        try:
            return CgroupTree.create(f"{TREE_PREFIX}{os.getpid()}-{secrets.token_hex(3)}")
        except CgroupUnavailable as exc:
            if required:
                raise SandboxSetupError(f"cgroups are not usable: {exc}") from exc
            return None

    @property
    def has_cgroups(self) -> bool:
        return self._cgroups is not None

    async def start(self, spec: ProcessSpec) -> ProcessHandle:
        if self._closed:
            raise SandboxSetupError("the sandbox starter is closed")
        if not _SAFE_NAME.match(spec.name):
            raise ValueError(f"unsafe process name for cgroups: {spec.name!r}")
        self._keep_sweeping()
        group = await self._group(spec)
        cgroup = self._cgroup(spec.name, spec.limits)
        try:
            proc, status_r = self._spawn(spec, group, cgroup)
        except BaseException:
            if cgroup is not None:
                cgroup.remove()
            raise
        handle = SandboxHandle(proc, cgroup, self._forget)
        self._live.add(handle)
        try:
            error = await _read_status(status_r, self._setup_timeout_s)
        except BaseException:
            await handle.cleanup()
            raise
        if error:
            await handle.cleanup()
            raise SandboxSetupError(f"sandbox setup failed: {error}", name=spec.name)
        return handle

    def _spawn(
        self, spec: ProcessSpec, group: _Group, cgroup: Cgroup | None
    ) -> tuple[subprocess.Popen[bytes], int]:
        status_r, status_w = os.pipe()
        plan = LaunchPlan(
            argv=list(spec.argv),
            env=dict(spec.env),
            cwd=str(spec.cwd),
            ro_paths=[str(p) for p in spec.ro_paths],
            mounts=[(str(m.source), m.target, m.copy) for m in spec.mounts],
            fd_map=dict(spec.pass_fds),
            status_fd=status_w,
            parent_pid=os.getpid(),
            netns_fd=group.ns.netns_fd,
            userns_fd=group.ns.userns_fd,
            root_dir=str(self._root_dir),
            inner_id=groupns.INNER_ID,
            host_id=group.host_id,
            tmp_mb=spec.limits.tmp_mb,
            open_files=spec.limits.open_files,
            file_size_mb=spec.limits.file_size_mb,
            cgroup_procs=cgroup.procs_files if cgroup else [],
            oom_control=cgroup.oom_control if cgroup else None,
            seccomp_bpf=self._zygote_bpf if spec.zygote else self._bpf,
            landlock=self._landlock,
            landlock_files=not spec.zygote,
            keep_orphans=spec.zygote,
            nameserver=str(group.egress.link.host_addr) if group.egress else None,
            connect_ports=spec.egress.connect_ports() if spec.egress else [],
        )
        plan_fd = plan.write_memfd()
        try:
            proc = subprocess.Popen(
                [*self._launcher, "run", str(plan_fd)],
                pass_fds=sorted({plan_fd, status_w, *group.ns.fds(), *spec.pass_fds.values()}),
                stdin=subprocess.DEVNULL,
                # Like PlainStarter: no fd given means /dev/null, never the server's own output.
                stdout=subprocess.DEVNULL if spec.stdout_fd is None else spec.stdout_fd,
                stderr=subprocess.DEVNULL if spec.stderr_fd is None else spec.stderr_fd,
                env={},
                cwd="/",
            )
        except BaseException:
            os.close(status_r)
            raise
        finally:
            os.close(plan_fd)
            os.close(status_w)
        return proc, status_r

    def fork_layers(self, spec: ProcessSpec) -> ForkLayers:
        return ForkLayers(
            private_tmp=True,
            inner_id=groupns.INNER_ID,
            tmp_mb=spec.limits.tmp_mb,
            seccomp_bpf=self._instance_bpf,
            read_exec=[
                *(str(p) for p in spec.ro_paths),
                *(m.target for m in spec.mounts),
                *system_paths(),
            ],
            read_write=["/tmp", "/dev/null"],  # noqa: S108 - the instance's own /tmp
            landlock=self._landlock,
            rebind=[  # mounts' targets are Sandlot's fixed places, never below /tmp
                str(p)
                for p in spec.ro_paths
                if Path(p).is_relative_to("/tmp")  # noqa: S108
            ],
        )

    async def adopt(self, pidfd: int, name: str, limits: SandboxLimits) -> AdoptedProcess:
        """Move a zygote's child into a new cgroup of its own.

        The cgroup is a spare made ahead (see `spares.py`) and renamed here; the
        cgroup.procs writes run in a thread. The child waits for the pool's go before it
        runs any function code.
        rlimits are per process already: the child inherits the values the launcher set on
        the zygote before its imports (core, file size, open files; identical for every
        instance of a version), and nothing in the sandbox may raise a hard limit. Setting
        them again from here would need CAP_SYS_RESOURCE over another uid, and change nothing.
        """
        try:
            if self._closed:
                raise SandboxSetupError("the sandbox starter is closed")
            pid = host_pid(pidfd)
            cgroup = self._cgroup(name, limits)
        except BaseException:
            os.close(pidfd)
            raise
        handle = AdoptedProcess(pid, pidfd, cgroup, self._forget)
        self._live.add(handle)
        try:
            if cgroup is not None:
                # In a thread: on v1 a cgroup.procs write waits for an RCU grace period now
                # and then (measured p99 ~14 ms), which would stall every other request.
                await asyncio.to_thread(cgroup.add, pid)
        except BaseException:
            await handle.cleanup()
            raise
        return handle

    def _make_cgroup(self, limits: SandboxLimits) -> Cgroup:
        """Blocking; runs in the spares' thread, or on the loop when no spare is ready. The
        name says only that it is ours: it is made before the process it will hold exists."""
        assert self._cgroups is not None
        return self._cgroups.new(f"c{next(self._cgroup_names)}", limits)

    def _cgroup(self, name: str, limits: SandboxLimits) -> Cgroup | None:
        if self._cgroups is None:
            return None
        cgroup = self._spare_cgroups.take(limits) or self._make_cgroup(limits)
        try:
            cgroup.rename(f"{name}-{next(self._cgroup_names)}")
        except BaseException:
            cgroup.remove()
            raise
        return cgroup

    async def _group(self, spec: ProcessSpec) -> _Group:
        name = spec.group
        lock = self._group_locks.setdefault(name, asyncio.Lock())
        async with lock:
            group = self._groups.get(name)
            if group is None:
                ns = self._spare_groups.take(None) or await self._new_namespaces()
                try:
                    egress = await self._attach_egress(ns, spec)
                except BaseException:
                    ns.close()
                    raise
                group = _Group(ns, self._allocate_host_id(), egress)
                self._groups[name] = group
            return group

    async def _attach_egress(
        self, ns: groupns.GroupNamespaces, spec: ProcessSpec
    ) -> EgressAttachment | None:
        if spec.egress is None:
            return None
        if self._egress is None:  # never run a policy open: refuse instead
            raise SandboxSetupError(
                "this server does not enforce network egress (see `sandlot doctor`)",
                name=spec.name,
            )
        try:
            return await attach_egress(self._egress, ns.netns_fd, spec.egress, self._egress_hosts)
        except OSError as exc:
            raise SandboxSetupError(f"egress setup failed: {exc}", name=spec.name) from exc

    async def _new_namespaces(self) -> groupns.GroupNamespaces:
        """No spare was ready (the first group, or a burst of new versions): make one now."""
        creating = asyncio.ensure_future(asyncio.to_thread(groupns.create, self._launcher))
        try:
            return await asyncio.shield(creating)
        except asyncio.CancelledError:  # the namespaces still arrive: close them then
            creating.add_done_callback(_close_orphan_group)
            raise

    def _allocate_host_id(self) -> int | None:
        if not self._privileged:
            return None
        free = next((s for s in range(self._uid_count) if s not in self._used_slots), None)
        if free is None:
            raise SandboxSetupError("no free sandbox uid: raise uid_count")
        self._used_slots.add(free)
        self._record.add_uid(self._uid_base + free)  # before any process runs as it
        return self._uid_base + free

    async def release_group(self, group: str) -> None:
        released = self._groups.pop(group, None)
        self._group_locks.pop(group, None)
        if released is None:
            return
        if released.egress is not None:
            final = await asyncio.to_thread(released.egress.network.denied_counts)
            count = final.get(released.egress.link.index, 0)
            if count:
                self._denied_released[group] = self._denied_released.get(group, 0) + count
            await released.egress.close()
        released.ns.close()  # running processes keep the netns alive until they exit
        if released.host_id is not None:
            self._used_slots.discard(released.host_id - self._uid_base)

    def _forget(self, handle: SandboxHandle | AdoptedProcess) -> None:
        """A handle's cleanup is over; a cgroup whose members outlived it is swept later."""
        self._live.discard(handle)
        if handle.cgroup is not None and handle.cgroup.exists():
            self._sweeper.add(handle.cgroup)

    def _keep_sweeping(self) -> None:
        if self._sweep_task is None and not self._closed:
            self._sweep_task = asyncio.create_task(
                self._sweep_loop(), name="sandlot-cgroup-sweeper"
            )

    async def _sweep_loop(self) -> None:
        while True:
            await asyncio.sleep(self._sweep_interval_s)
            try:
                await self.sweep_leftovers()
            except Exception:  # one bad round must not end the loop for good
                log.exception("cgroup sweep failed")

    async def sweep_leftovers(self) -> int:
        """One round of the sweeper (see `leftovers.CgroupSweeper`); returns what is pending."""
        return await asyncio.to_thread(self._sweeper.run_once)

    async def close(self) -> None:
        self._closed = True
        if self._sweep_task is not None:
            self._sweep_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweep_task
        await self._spare_cgroups.close()
        await self._spare_groups.close()
        for handle in list(self._live):
            await handle.cleanup()
        for name in list(self._groups):
            await self.release_group(name)
        pending = await self.sweep_leftovers()
        if self._cgroups is not None:
            self._cgroups.remove()
        gone = not pending and (self._cgroups is None or not self._cgroups.exists())
        if self._egress is not None:
            await asyncio.to_thread(self._egress.stop)
        self._record.close(everything_gone=gone)
        with contextlib.suppress(OSError):
            self._root_dir.rmdir()


def _free_cgroup(cgroup: Cgroup) -> None:
    cgroup.remove()  # a spare never held a process: nothing to drain


def _close_orphan_group(done: asyncio.Future[groupns.GroupNamespaces]) -> None:
    if not done.cancelled() and done.exception() is None:
        done.result().close()


async def _read_status(fd: int, timeout_s: float) -> str:
    """Read the launcher's status pipe to EOF: empty means the target was exec'd."""
    loop = asyncio.get_running_loop()
    os.set_blocking(fd, False)
    chunks: list[bytes] = []
    done: asyncio.Future[None] = loop.create_future()

    def on_readable() -> None:
        try:
            chunk = os.read(fd, 4096)
        except BlockingIOError:
            return
        if chunk:
            chunks.append(chunk)
        elif not done.done():
            done.set_result(None)

    loop.add_reader(fd, on_readable)
    try:
        await asyncio.wait_for(done, timeout_s)
    except TimeoutError:
        chunks.append(f"no answer from the launcher within {timeout_s} s".encode())
    finally:
        loop.remove_reader(fd)
        os.close(fd)
    return b"".join(chunks).decode(errors="replace")
