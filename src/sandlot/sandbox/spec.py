"""What to run and which limits to apply: the seam between the runtime pool and a starter.

A starter turns a `ProcessSpec` into a running process and a `ProcessHandle` to watch and
kill it. `plain.PlainStarter` runs an ordinary child process with rlimits only (the
insecure development mode); the sandboxed starter adds namespaces, a minimal read-only
root, cgroups, seccomp and Landlock. Both take the same spec. Its `ro_paths` are host paths
that the sandbox mounts at the same place inside its root; its `mounts` put a host path at
another place (the function's code at /var/task), which only a starter that `moves_paths`
can do: the plain starter runs processes in the host's own file system.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from sandlot.sandbox.egress_rules import EgressGrants

# As root, each group (function version) runs as its own host uid from a base up.
DEFAULT_UID_BASE = 100_000
UID_COUNT = 65_536


class NetworkPolicy(enum.StrEnum):
    NONE = "none"  # loopback only, in a network namespace of its own


@dataclass(frozen=True)
class SandboxLimits:
    memory_mb: int
    pids: int = 64
    cpus: float = 1.0
    tmp_mb: int = 64
    open_files: int = 1024
    file_size_mb: int = 512


@dataclass(frozen=True)
class Mount:
    """A host path shown read-only at `target` inside the sandbox, and nowhere else.

    `copy`: a size-capped tmpfs holding a copy of `source` (a directory), made once per
    sandbox, instead of a bind. A bind shows its source's path inside its file system in
    /proc/self/mountinfo (the 4th field); a copy shows "/". For small trees only (the
    function's code, the bootstrap): the copy is memory charged to the process's cgroup.
    """

    source: Path
    target: str
    copy: bool = False


@dataclass(frozen=True)
class ProcessSpec:
    """One process to start.

    `name` is unique among live processes and safe to use in file names (cgroups, mounts).
    `group` is shared by every process of one function version (a network namespace, a uid).
    `pass_fds` maps a file descriptor number in the child to one in the caller, e.g. {3: sock}.
    `ro_paths` are host paths that the process may read (interpreter, bootstrap, code,
    dependencies); nothing else of the host is visible when sandboxed. `mounts` (sandboxed
    only, see `Starter.moves_paths`) are host paths shown at other places; `argv`, `cwd` and
    the Landlock rules then name their in-sandbox paths.
    `egress` is the same for every process of a group: what its network namespace may reach.
    `zygote` marks a process that forks instances (see `ForkLayers`): its sandbox lets each
    child mount a private /tmp, and lives on until the last child has exited.
    """

    name: str
    group: str
    argv: Sequence[str]
    env: Mapping[str, str]
    cwd: Path
    ro_paths: Sequence[Path]
    limits: SandboxLimits
    network: NetworkPolicy = NetworkPolicy.NONE
    pass_fds: Mapping[int, int] = field(default_factory=dict)
    stdout_fd: int | None = None
    stderr_fd: int | None = None
    zygote: bool = False
    egress: EgressGrants | None = None  # None: no network beyond loopback (the default)
    mounts: Sequence[Mount] = ()


@dataclass(frozen=True)
class ForkLayers:
    """What a child forked by a zygote applies to itself before it serves, and why.

    A zygote runs the function's module code, so every layer that guards the host is applied
    to the zygote before that code runs, and children inherit it. What is left per child is
    what separates the instances of one version from each other: a private /tmp (a new user
    and mount namespace and a fresh tmpfs), then a Landlock layer for files and signals, no
    capabilities and `seccomp_bpf`, which takes back the namespace and mount calls the
    zygote's filter left open for that. Empty (`private_tmp=False`): plain processes.
    """

    private_tmp: bool = False
    inner_id: int = 0
    tmp_mb: int = 64
    seccomp_bpf: bytes = b""
    read_exec: Sequence[str] = ()  # with the process's ro_paths
    read_write: Sequence[str] = ()
    landlock: bool = False
    rebind: Sequence[str] = ()  # read-only paths below /tmp, bound again over the new tmpfs


@dataclass(frozen=True)
class ExitInfo:
    """How a process ended: exactly one of `returncode` or `signal` is set."""

    returncode: int | None
    signal: int | None


@dataclass(frozen=True)
class ResourceReport:
    """What the kernel says about a process's limits, read after it ended or was killed."""

    oom_killed: bool = False
    peak_memory_bytes: int | None = None
    pids_limit_hit: bool = False


class ProcessHandle(Protocol):
    @property
    def pid(self) -> int: ...

    def poll(self) -> ExitInfo | None:
        """The exit if the process has ended, without blocking."""

    async def wait(self) -> ExitInfo:
        """Wait for the process to end."""

    def kill(self) -> None:
        """Kill the process and everything it started. Idempotent; never raises."""

    def report(self) -> ResourceReport: ...

    async def cleanup(self) -> None:
        """Kill, reap and remove what was set up for the process (cgroups, mounts)."""


class AdoptedHandle(ProcessHandle, Protocol):
    """A process that a zygote forked: the starter limits and kills it, but only its parent
    (the zygote) can reap it, so the zygote reports how it ended through `exited`."""

    def exited(self, info: ExitInfo) -> None: ...


class Starter(Protocol):
    """Starts processes from specs. One per pool; long-lived."""

    @property
    def name(self) -> str: ...

    @property
    def moves_paths(self) -> bool:
        """Whether `ProcessSpec.mounts` can show host paths elsewhere (a mount namespace)."""
        ...

    async def start(self, spec: ProcessSpec) -> ProcessHandle: ...

    async def release_group(self, group: str) -> None:
        """Free what was shared by one group (its network namespace) once it has no process."""

    def egress_denied_counts(self) -> dict[str, int]:
        """Connection attempts its egress rules denied, per group, since the start."""

    def fork_layers(self, spec: ProcessSpec) -> ForkLayers:
        """The per-child layers for instances forked from a zygote started with `spec`."""

    async def adopt(self, pidfd: int, name: str, limits: SandboxLimits) -> AdoptedHandle:
        """Take charge of a process forked by a zygote, known by a pidfd (which the handle
        then owns): its own cgroup and rlimits before it runs any function code."""

    async def close(self) -> None: ...
