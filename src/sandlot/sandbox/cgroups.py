"""Per-process cgroups for memory (no swap), pids and CPU, on cgroup v1 or v2.

Cgroups are created below the server's own cgroup on each hierarchy (`/proc/self/cgroup`),
so that a server confined by systemd (Delegate=yes), a container or a CI job stays within its
own limits and never needs write access elsewhere. Layout: `<own>/sandlot/<tree>/<name>`, where
`<tree>` belongs to one starter (so that two servers never collide, and stale trees of dead
servers can be swept).

The launcher joins the cgroup itself (it writes 0 to each `cgroup.procs`) before it builds the
sandbox, so everything it starts is accounted and killed with it. Used only by the server.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from sandlot.sandbox.spec import ResourceReport, SandboxLimits

V1_CONTROLLERS = ("memory", "pids", "cpu")
_CPU_PERIOD_US = 100_000
_MB = 1024 * 1024


# Plain os calls, not pathlib's text files: a cold start reads and writes a dozen of these,
# and the io layers cost more than the kernel's side.
def _read(path: Path) -> str:
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        chunks = []
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
        return b"".join(chunks).decode()
    finally:
        os.close(fd)


def _write(path: Path, value: object) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.write(fd, str(value).encode())
    finally:
        os.close(fd)


def _keyed(path: Path) -> dict[str, int]:
    """Parse 'key value' lines (memory.events, pids.events, memory.oom_control)."""
    out: dict[str, int] = {}
    with contextlib.suppress(OSError):
        for line in _read(path).splitlines():
            key, _, value = line.partition(" ")
            with contextlib.suppress(ValueError):
                out[key] = int(value)
    return out


def _mounts() -> tuple[dict[str, Path], Path | None]:
    """Mount points of v1 controllers and of the v2 hierarchy, from /proc/self/mountinfo."""
    v1: dict[str, Path] = {}
    v2: Path | None = None
    for line in _read(Path("/proc/self/mountinfo")).splitlines():
        pre, _, post = line.partition(" - ")
        mount_point = Path(pre.split()[4])
        fstype, _source, options = post.split()[:3]
        if fstype == "cgroup2" and (v2 is None or str(mount_point) == "/sys/fs/cgroup"):
            v2 = mount_point
        elif fstype == "cgroup":
            for option in options.split(","):
                if option in V1_CONTROLLERS:
                    v1[option] = mount_point
    return v1, v2


def _own_paths() -> tuple[dict[str, str], str | None]:
    """This process's cgroup path per v1 controller, and its v2 path."""
    v1: dict[str, str] = {}
    v2: str | None = None
    for line in _read(Path("/proc/self/cgroup")).splitlines():
        hierarchy, controllers, path = line.split(":", 2)
        if hierarchy == "0":
            v2 = path
        for controller in controllers.split(","):
            v1[controller] = path
    return v1, v2


@dataclass
class Cgroup:
    """One process's cgroup: a directory per v1 controller, or one v2 directory."""

    version: int
    dirs: Mapping[str, Path]  # controller (or "unified") -> directory

    @property
    def procs_files(self) -> list[str]:
        return [str(d / "cgroup.procs") for d in self.dirs.values()]

    @property
    def oom_control(self) -> str | None:
        """v1: the file the launcher watches, to kill the whole group when the OOM killer acts."""
        return str(self.dirs["memory"] / "memory.oom_control") if self.version == 1 else None

    def _dir(self, controller: str) -> Path:
        return self.dirs["unified"] if self.version == 2 else self.dirs[controller]

    def set_limits(self, limits: SandboxLimits) -> None:
        memory = limits.memory_mb * _MB
        quota = max(1000, int(limits.cpus * _CPU_PERIOD_US))
        if self.version == 2:
            d = self.dirs["unified"]
            _write(d / "memory.max", memory)
            if (d / "memory.swap.max").exists():
                _write(d / "memory.swap.max", 0)
            _write(d / "memory.oom.group", 1)  # the OOM killer takes the whole sandbox
            _write(d / "pids.max", limits.pids)
            _write(d / "cpu.max", f"{quota} {_CPU_PERIOD_US}")
            return
        mem = self.dirs["memory"]
        _write(mem / "memory.limit_in_bytes", memory)
        if (mem / "memory.memsw.limit_in_bytes").exists():  # memory+swap = memory: no swap
            _write(mem / "memory.memsw.limit_in_bytes", memory)
        _write(self.dirs["pids"] / "pids.max", limits.pids)
        _write(self.dirs["cpu"] / "cpu.cfs_period_us", _CPU_PERIOD_US)
        _write(self.dirs["cpu"] / "cpu.cfs_quota_us", quota)

    def rename(self, name: str) -> None:
        """Give a spare (made before its process existed) the name of its process, so that
        an operator can tell whose cgroup it is. v1 only: v2 has no rename, and keeps the
        spare's name."""
        if self.version != 1:
            return
        dirs = dict(self.dirs)
        for key, old in self.dirs.items():
            new = old.with_name(name)
            old.rename(new)
            dirs[key] = new
        self.dirs = dirs

    def add(self, pid: int) -> None:
        """Move a process (by host pid) into this cgroup on every hierarchy."""
        for procs in self.procs_files:
            _write(Path(procs), pid)

    def members(self) -> list[int]:
        try:
            return [int(p) for p in _read(self._dir("pids") / "cgroup.procs").split()]
        except OSError:
            return []

    def kill(self) -> bool:
        """Send SIGKILL to every member once; True when the group was already empty.

        v2 has cgroup.kill, which the kernel applies atomically (fork races included). v1 has
        none: a pass may miss a child forked meanwhile, so callers repeat until empty. The
        launcher's pid namespace makes that converge: its init is a member, and when it dies
        the kernel kills the rest of the namespace and no new fork succeeds there.
        """
        kill_file = self.dirs.get("unified", Path("/nonexistent")) / "cgroup.kill"
        if self.version == 2 and kill_file.exists():
            with contextlib.suppress(OSError):
                _write(kill_file, 1)
            return not self.members()
        members = self.members()
        for pid in members:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        return not members

    def report(self) -> ResourceReport:
        if self.version == 2:
            d = self.dirs["unified"]
            events = _keyed(d / "memory.events")
            peak = _read(d / "memory.peak").strip() if (d / "memory.peak").exists() else None
            pids_events = _keyed(d / "pids.events")
            return ResourceReport(
                oom_killed=events.get("oom_kill", 0) > 0 or events.get("oom_group_kill", 0) > 0,
                peak_memory_bytes=int(peak) if peak else None,
                pids_limit_hit=pids_events.get("max", 0) > 0,
            )
        mem = self.dirs["memory"]
        try:
            peak_v1: int | None = int(_read(mem / "memory.max_usage_in_bytes"))
        except (OSError, ValueError):
            peak_v1 = None
        return ResourceReport(
            oom_killed=_keyed(mem / "memory.oom_control").get("oom_kill", 0) > 0,
            peak_memory_bytes=peak_v1,
            pids_limit_hit=_keyed(self.dirs["pids"] / "pids.events").get("max", 0) > 0,
        )

    def exists(self) -> bool:
        return any(d.is_dir() for d in self.dirs.values())

    def remove(self) -> bool:
        """rmdir every directory; False while members are still exiting (EBUSY)."""
        done = True
        for d in self.dirs.values():
            try:
                d.rmdir()
            except FileNotFoundError:
                pass
            except OSError:
                done = False
        return done


class CgroupUnavailable(Exception):
    """No writable memory+pids+cpu controllers for this process (v1 or v2)."""


@dataclass
class CgroupTree:
    """The directories under which one starter creates its cgroups."""

    version: int
    bases: Mapping[str, Path]

    @classmethod
    def create(cls, tree: str) -> CgroupTree:
        v1_mounts, v2_mount = _mounts()
        own_v1, own_v2 = _own_paths()
        if v2_mount is not None and own_v2 is not None:
            own = v2_mount / own_v2.lstrip("/")
            controllers = set(_read_or_empty(own / "cgroup.controllers").split())
            if set(V1_CONTROLLERS) <= controllers:
                return cls(2, {"unified": _prepare_v2(own, tree)})
        if set(V1_CONTROLLERS) <= set(v1_mounts):
            bases: dict[str, Path] = {}
            for controller in V1_CONTROLLERS:
                own = v1_mounts[controller] / own_v1.get(controller, "/").lstrip("/")
                bases[controller] = _mkdirs(own / "sandlot" / tree)
            return cls(1, bases)
        raise CgroupUnavailable(
            f"no memory, pids and cpu controllers (v1: {sorted(v1_mounts)}, v2: {v2_mount})"
        )

    def new(self, name: str, limits: SandboxLimits) -> Cgroup:
        dirs: dict[str, Path] = {}
        cgroup = Cgroup(self.version, dirs)
        try:
            for key, base in self.bases.items():
                (base / name).mkdir()
                dirs[key] = base / name
            cgroup.set_limits(limits)
        except BaseException:
            cgroup.remove()
            raise
        return cgroup

    def children(self) -> list[Cgroup]:
        """The cgroups made in this tree that still exist (one name on every hierarchy)."""
        names = {
            child.name
            for base in self.bases.values()
            if base.is_dir()
            for child in base.iterdir()
            if child.is_dir()
        }
        return [
            Cgroup(self.version, {k: b / name for k, b in self.bases.items()}) for name in names
        ]

    def exists(self) -> bool:
        return any(base.is_dir() for base in self.bases.values())

    def remove(self) -> None:
        for base in self.bases.values():
            with contextlib.suppress(OSError):
                base.rmdir()
            with contextlib.suppress(OSError):  # `sandlot/` too, unless another starter uses it
                base.parent.rmdir()


def _read_or_empty(path: Path) -> str:
    try:
        return _read(path)
    except OSError:
        return ""


def _mkdirs(path: Path) -> Path:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CgroupUnavailable(f"cannot create {path}: {exc.strerror}") from exc
    return path


def _prepare_v2(own: Path, tree: str) -> Path:
    """Enable the controllers for our subtree.

    v2's "no internal processes" rule forbids enabling controllers for the children of a cgroup
    that holds processes (EBUSY). If the server's own cgroup does, the server's processes move
    into a leaf `<own>/server` first, the layout systemd's Delegate= expects.
    """
    wanted = " ".join(f"+{c}" for c in V1_CONTROLLERS)
    try:
        _write(own / "cgroup.subtree_control", wanted)
    except OSError:
        leaf = _mkdirs(own / "server")
        for pid in _read_or_empty(own / "cgroup.procs").split():
            with contextlib.suppress(OSError):
                _write(leaf / "cgroup.procs", pid)
        try:
            _write(own / "cgroup.subtree_control", wanted)
        except OSError as exc:
            raise CgroupUnavailable(f"cannot enable controllers in {own}: {exc}") from exc
    sandlot = _mkdirs(own / "sandlot")
    try:
        _write(sandlot / "cgroup.subtree_control", wanted)
    except OSError as exc:
        raise CgroupUnavailable(f"cannot enable controllers in {sandlot}: {exc}") from exc
    base = _mkdirs(sandlot / tree)
    _write(base / "cgroup.subtree_control", wanted)
    return base


def sweep_stale_trees(tree_prefix: str = "starter-") -> None:
    """Remove empty cgroup trees left by starters whose server process has died."""
    v1_mounts, v2_mount = _mounts()
    own_v1, own_v2 = _own_paths()
    roots: list[Path] = []
    if v2_mount is not None and own_v2 is not None:
        roots.append(v2_mount / own_v2.lstrip("/") / "sandlot")
    for controller, mount in v1_mounts.items():
        roots.append(mount / own_v1.get(controller, "/").lstrip("/") / "sandlot")
    for root in roots:
        for tree in root.glob(f"{tree_prefix}*") if root.is_dir() else ():
            pid = tree.name.removeprefix(tree_prefix).split("-")[0]
            if pid.isdigit() and not Path(f"/proc/{pid}").exists():
                for child in tree.iterdir():
                    if child.is_dir():
                        with contextlib.suppress(OSError):
                            child.rmdir()
                with contextlib.suppress(OSError):
                    tree.rmdir()


def cpu_capacity() -> float:
    """How many CPUs this process may use: the CPUs it may run on, capped by the CPU quota
    of its own cgroup and of every ancestor (v1 cpu controller, or v2 cpu.max). A worker
    says it in its heartbeat, so calls spread before it is CPU-bound."""
    capacity = float(len(os.sched_getaffinity(0)))
    try:
        mounts, unified = _mounts()
        own, own_v2 = _own_paths()
    except (OSError, ValueError, IndexError):
        return capacity
    if "cpu" in mounts and "cpu" in own:
        capacity = min(capacity, _v1_quota(mounts["cpu"], own["cpu"]))
    elif unified is not None and own_v2 is not None:
        capacity = min(capacity, _v2_quota(unified, own_v2))
    return capacity


def _ancestors(mount: Path, path: str) -> list[Path]:
    parts = [p for p in path.split("/") if p]
    return [mount.joinpath(*parts[:depth]) for depth in range(len(parts), -1, -1)]


def _v1_quota(mount: Path, path: str) -> float:
    found = float("inf")
    for directory in _ancestors(mount, path):
        with contextlib.suppress(OSError, ValueError):
            quota = int(_read(directory / "cpu.cfs_quota_us"))
            period = int(_read(directory / "cpu.cfs_period_us"))
            if quota > 0 and period > 0:
                found = min(found, quota / period)
    return found


def _v2_quota(mount: Path, path: str) -> float:
    found = float("inf")
    for directory in _ancestors(mount, path):
        with contextlib.suppress(OSError, ValueError):
            quota, period = _read(directory / "cpu.max").split()[:2]
            if quota != "max" and int(period) > 0:
                found = min(found, int(quota) / int(period))
    return found
