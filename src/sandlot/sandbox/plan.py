"""What the server tells the launcher: one JSON document, read from an inherited memfd.

A memfd rather than argv or the environment: it holds the function's environment (secrets),
which must not show in /proc/<pid>/cmdline, and it has no pipe-buffer size limit.

Encoded with `marshal`, not JSON: both ends are the same interpreter (the server's), and
`json` (with `re`) would add ~5 ms to every sandboxed start; for the same reason this is a
plain class, not a dataclass (`dataclasses` and `inspect`: ~8 ms).
"""

from __future__ import annotations

import marshal
import os


class LaunchPlan:
    def __init__(
        self,
        *,
        argv: list[str],
        env: dict[str, str],
        cwd: str,
        ro_paths: list[str],
        fd_map: dict[int, int],
        status_fd: int,
        parent_pid: int,
        netns_fd: int,
        userns_fd: int | None,
        root_dir: str,
        inner_id: int,
        host_id: int | None,
        tmp_mb: int,
        open_files: int,
        file_size_mb: int,
        cgroup_procs: list[str],
        oom_control: str | None,
        seccomp_bpf: str,
        landlock: bool,
        hostname: str = "sandbox",
        landlock_files: bool = True,
        keep_orphans: bool = False,
        nameserver: str | None = None,
        connect_ports: list[int] | None = None,
        mounts: list[tuple[str, str, bool]] | None = None,
    ) -> None:
        self.argv = argv
        self.env = env
        self.cwd = cwd
        self.ro_paths = ro_paths
        # (host source, in-sandbox target, copy into a tmpfs rather than bind): spec.Mount.
        self.mounts = mounts or []
        # Child fd number -> the launcher's fd that becomes it (inherited at the same number).
        self.fd_map = fd_map
        # CLOEXEC pipe to the server: an error text, or EOF once the target is exec'd.
        self.status_fd = status_fd
        self.parent_pid = parent_pid  # the server: the launcher dies with it
        self.netns_fd = netns_fd  # the group's network namespace, kept open by the server
        self.userns_fd = userns_fd  # unprivileged only: the group's user ns, joined first
        self.root_dir = root_dir  # an empty directory to mount the new root on
        self.inner_id = inner_id  # the uid/gid the process has inside its user namespace
        self.host_id = host_id  # root only: the unprivileged host uid/gid to become
        self.tmp_mb = tmp_mb
        self.open_files = open_files
        self.file_size_mb = file_size_mb
        self.cgroup_procs = cgroup_procs  # cgroup.procs files to join
        self.oom_control = oom_control  # v1: watched to kill the whole group on OOM
        self.seccomp_bpf = seccomp_bpf  # hex BPF program; empty: no seccomp (probe only)
        self.landlock = landlock
        self.hostname = hostname
        # A zygote: file rules are left to its children (see landlock.restrict), and init
        # outlives the target while the instances it forked run.
        self.landlock_files = landlock_files
        self.keep_orphans = keep_orphans
        # Egress (see egress_net): the resolver for /etc/resolv.conf, and the TCP ports Landlock
        # lets the process connect to (None: every port). Without egress (no nameserver): none.
        self.nameserver = nameserver
        self.connect_ports = connect_ports if nameserver else []

    def encode(self) -> bytes:
        return marshal.dumps(vars(self))

    @classmethod
    def decode(cls, raw: bytes) -> LaunchPlan:
        return cls(**marshal.loads(raw))  # noqa: S302 - written by our own server, same interpreter

    @property
    def seccomp_program(self) -> bytes:
        return bytes.fromhex(self.seccomp_bpf)

    def write_memfd(self) -> int:
        """A CLOEXEC memfd holding this plan, positioned at its start."""
        fd = os.memfd_create("sandlot-plan", os.MFD_CLOEXEC)
        os.write(fd, self.encode())
        os.lseek(fd, 0, os.SEEK_SET)
        return fd


def read_plan(fd: int) -> LaunchPlan:
    chunks = []
    while chunk := os.read(fd, 1 << 16):
        chunks.append(chunk)
    os.close(fd)
    return LaunchPlan.decode(b"".join(chunks))
