"""The seccomp policy: a deny-list compiled once with libseccomp, installed as raw BPF.

Compiling needs libseccomp (through `pyseccomp`), which only the server's environment has; the
launcher runs with `-I -S` and no site-packages, so the server compiles the policy once per
starter and the launcher installs the resulting BPF program with a plain prctl. That also keeps
libseccomp's ~ms of rule compilation off every start.

A zygote's filter (`zygote=True`) leaves two doors open, narrowly, so that each instance it
forks can mount a private /tmp: `unshare` with exactly CLONE_NEWUSER|CLONE_NEWNS, and `mount`
with no flag above MS_BIND|MS_NOSUID|MS_NODEV (a new tmpfs, and binds that put read-only
paths under /tmp back on top of it: no MS_REC, MS_MOVE or propagation change). Each child
closes them again with `compile_instance_bpf()` right after. The zygote's own user namespace
holds no capability, so only a nested namespace, where every mount inherited from above is
locked, gains anything from them.

Denied calls fail with an errno (EPERM, EAFNOSUPPORT or ENOSYS where that is the signal libc
expects); nothing is killed, so a function sees an ordinary OSError.
"""

from __future__ import annotations

import ctypes
import errno
import os

from sandlot.sandbox import _libc

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs the launcher ~3 ms
if TYPE_CHECKING:
    from typing import Any

# Each fails with EPERM.
DENIED = (
    *("mount", "umount2", "pivot_root", "chroot", "mount_setattr"),
    *("fsopen", "fsconfig", "fsmount", "fspick", "move_mount", "open_tree"),  # new mount API
    *("unshare", "setns"),  # clone/clone3 with namespace flags: below
    # Other processes' memory and file descriptors.
    *("ptrace", "process_vm_readv", "process_vm_writev", "pidfd_getfd", "kcmp"),
    # Kernel attack surface: BPF, keyrings, modules, kexec, perf, userfaultfd, io_uring (whose
    # operations seccomp cannot see).
    *("bpf", "keyctl", "add_key", "request_key", "perf_event_open", "userfaultfd"),
    *("kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module"),
    *("io_uring_setup", "io_uring_enter", "io_uring_register"),
    # Host-wide state: clocks, swap, accounting, reboot, kernel log, quotas.
    *("clock_settime", "clock_adjtime", "settimeofday", "adjtimex", "reboot", "syslog"),
    *("swapon", "swapoff", "acct", "quotactl", "quotactl_fd", "vhangup"),
    # Escapes through file handles, and obsolete or NUMA calls nothing here needs.
    *("open_by_handle_at", "name_to_handle_at", "lookup_dcookie", "fanotify_init"),
    *("iopl", "ioperm", "nfsservctl", "uselib", "ustat", "sysfs", "personality"),
    *("move_pages", "mbind", "set_mempolicy", "migrate_pages"),
)

NAMESPACE_FLAGS = (
    0x00020000,  # CLONE_NEWNS
    0x02000000,  # CLONE_NEWCGROUP
    0x04000000,  # CLONE_NEWUTS
    0x08000000,  # CLONE_NEWIPC
    0x10000000,  # CLONE_NEWUSER
    0x20000000,  # CLONE_NEWPID
    0x40000000,  # CLONE_NEWNET
)
# Literal numbers: importing `socket` would cost the launcher ~5 ms.
AF_UNIX, AF_INET, AF_INET6 = 1, 2, 10
SOCK_RAW = 3
ALLOWED_FAMILIES = (AF_UNIX, AF_INET, AF_INET6)
_SOCK_TYPE_MASK = 0xF
_SOCK_PACKET = 10  # obsolete link-level type
_TIOCSTI = 0x5412  # push bytes into a terminal's input queue
_TIOCLINUX = 0x541C


def _add(filt: Any, sc: Any, action: int, name: str, *args: Any) -> None:
    try:  # noqa: SIM105 - contextlib would slow every launcher start (this module is imported)
        filt.add_rule(action, name, *args)
    except (OSError, ValueError, RuntimeError):
        pass  # a call this architecture or libseccomp version does not know: nothing to deny


def _deny_foreign_families(filt: Any, sc: Any) -> None:
    """socket()/socketpair() of any family but unix/inet/inet6 (netlink, packet, vsock...)."""
    eafnosupport = sc.ERRNO(errno.EAFNOSUPPORT)
    low, high = min(ALLOWED_FAMILIES), max(ALLOWED_FAMILIES)
    for call in ("socket", "socketpair"):
        _add(filt, sc, eafnosupport, call, sc.Arg(0, sc.LT, low))
        _add(filt, sc, eafnosupport, call, sc.Arg(0, sc.GT, high))
        for family in range(low + 1, high):
            if family not in ALLOWED_FAMILIES:
                _add(filt, sc, eafnosupport, call, sc.Arg(0, sc.EQ, family))


PRIVATE_TMP_UNSHARE = 0x10000000 | 0x00020000  # CLONE_NEWUSER | CLONE_NEWNS
PRIVATE_TMP_MOUNT_FLAGS = 4096 | 2 | 4  # MS_BIND | MS_NOSUID | MS_NODEV, at most
_PRIVATE_TMP_CALLS = ("mount", "unshare")


def build_filter(*, zygote: bool = False) -> Any:
    """The policy as a pyseccomp SyscallFilter (imported here: only the server has it)."""
    import pyseccomp as sc

    filt = sc.SyscallFilter(defaction=sc.ALLOW)
    # Another architecture's calling convention (i386 via int 0x80, x32) would bypass the
    # table below; refuse it with ENOSYS rather than libseccomp's default of killing.
    filt.set_attr(sc.Attr.ACT_BADARCH, sc.ERRNO(errno.ENOSYS))
    eperm = sc.ERRNO(errno.EPERM)
    for name in DENIED:
        if not (zygote and name in _PRIVATE_TMP_CALLS):
            _add(filt, sc, eperm, name)
    if zygote:
        _add(filt, sc, eperm, "unshare", sc.Arg(0, sc.NE, PRIVATE_TMP_UNSHARE))
        _add(filt, sc, eperm, "mount", sc.Arg(3, sc.GT, PRIVATE_TMP_MOUNT_FLAGS))
    # clone3 passes its flags in memory that seccomp cannot read: ENOSYS makes glibc fall back
    # to clone(), whose flags can be checked.
    _add(filt, sc, sc.ERRNO(errno.ENOSYS), "clone3")
    for flag in NAMESPACE_FLAGS:
        _add(filt, sc, eperm, "clone", sc.Arg(0, sc.MASKED_EQ, flag, flag))
    _deny_foreign_families(filt, sc)
    for family in (AF_INET, AF_INET6):  # raw IP: crafted packets, sniffing on lo
        for kind in (SOCK_RAW, _SOCK_PACKET):
            family_is = sc.Arg(0, sc.EQ, family)
            _add(
                filt, sc, eperm, "socket", family_is, sc.Arg(1, sc.MASKED_EQ, _SOCK_TYPE_MASK, kind)
            )
    for request in (_TIOCSTI, _TIOCLINUX):
        _add(filt, sc, eperm, "ioctl", sc.Arg(1, sc.EQ, request))
    return filt


def compile_bpf(*, zygote: bool = False) -> bytes:
    """The policy as a BPF program (an array of 8-byte sock_filter instructions)."""
    return _export(build_filter(zygote=zygote))


def compile_instance_bpf() -> bytes:
    """What a zygote's child stacks on the zygote's filter once its /tmp is mounted."""
    import pyseccomp as sc

    filt = sc.SyscallFilter(defaction=sc.ALLOW)
    filt.set_attr(sc.Attr.ACT_BADARCH, sc.ERRNO(errno.ENOSYS))
    for name in _PRIVATE_TMP_CALLS:
        _add(filt, sc, sc.ERRNO(errno.EPERM), name)
    return _export(filt)


def _export(filt: Any) -> bytes:
    fd = os.memfd_create("sandlot-seccomp", os.MFD_CLOEXEC)
    try:
        with os.fdopen(os.dup(fd), "rb") as fh:
            filt.export_bpf(fh)
        size = os.lseek(fd, 0, os.SEEK_END)
        return os.pread(fd, size, 0)
    finally:
        os.close(fd)


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def install_bpf(program: bytes) -> None:
    """Install a BPF program on the calling thread. Requires no_new_privs (or CAP_SYS_ADMIN)."""
    if not program or len(program) % 8:
        raise ValueError("a seccomp program is a non-empty array of 8-byte instructions")
    buffer = ctypes.create_string_buffer(program, len(program))
    prog = _SockFprog(len(program) // 8, ctypes.cast(buffer, ctypes.c_void_p))
    _libc.prctl(_libc.PR_SET_SECCOMP, _libc.SECCOMP_MODE_FILTER, ctypes.addressof(prog))
