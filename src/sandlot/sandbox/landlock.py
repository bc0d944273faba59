"""Landlock by raw system calls: file access, TCP bind/connect and IPC scoping, best effort by ABI.

After `restrict()`, the caller and its future children may only read and execute beneath
`read_exec` paths and do anything beneath `read_write` paths; with ABI >= 4 every TCP bind and
connect is denied, and with ABI >= 6 signals and abstract unix sockets cannot reach processes
outside the domain. Standard library only (imported by the launcher).
"""

from __future__ import annotations

import ctypes
import os
import stat

from sandlot.sandbox import _libc

TYPE_CHECKING = False  # not typing's: the launcher avoids importing typing/collections (~5 ms)
if TYPE_CHECKING:
    from collections.abc import Iterable

EXECUTE = 1 << 0
WRITE_FILE = 1 << 1
READ_FILE = 1 << 2
READ_DIR = 1 << 3
_ABI1_ALL = (1 << 13) - 1  # EXECUTE .. MAKE_SYM
REFER = 1 << 13  # ABI 2
TRUNCATE = 1 << 14  # ABI 3
IOCTL_DEV = 1 << 15  # ABI 5
NET_BIND_TCP = 1 << 0  # ABI 4
NET_CONNECT_TCP = 1 << 1
SCOPE_ABSTRACT_UNIX_SOCKET = 1 << 0  # ABI 6
SCOPE_SIGNAL = 1 << 1
_RULE_PATH_BENEATH = 1
_RULE_NET_PORT = 2  # ABI 4
_CREATE_RULESET_VERSION = 1 << 0

READ_EXEC = EXECUTE | READ_FILE | READ_DIR


class _RulesetAttr(ctypes.Structure):
    _fields_ = [
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    ]


class _PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


class _NetPort(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("port", ctypes.c_uint64)]


def abi_version() -> int:
    """The kernel's Landlock ABI, or 0 when Landlock is missing or disabled."""
    version = _libc.raw_syscall(
        _libc.SYS_LANDLOCK_CREATE_RULESET, None, ctypes.c_size_t(0), _CREATE_RULESET_VERSION
    )
    return max(version, 0)


def handled_for(abi: int) -> tuple[int, int, int, int]:
    """(fs, net, scoped, struct size): everything this ABI can restrict.

    The ruleset struct grew with ABI 4 (net) and 6 (scoped); older kernels reject a larger one.
    """
    fs = _ABI1_ALL | (REFER if abi >= 2 else 0) | (TRUNCATE if abi >= 3 else 0)
    fs |= IOCTL_DEV if abi >= 5 else 0
    net = NET_BIND_TCP | NET_CONNECT_TCP if abi >= 4 else 0
    scoped = SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL if abi >= 6 else 0
    size = 24 if abi >= 6 else 16 if abi >= 4 else 8
    return fs, net, scoped, size


def _add_path_rule(ruleset_fd: int, path: str, access: int, handled_fs: int) -> None:
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except FileNotFoundError:
        return
    try:
        if not stat.S_ISDIR(os.fstat(fd).st_mode):
            # Directory-only rights on a file make add_rule fail with EINVAL.
            access &= EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE | IOCTL_DEV
        rule = _PathBeneath(access & handled_fs, fd)
        res = _libc.raw_syscall(
            _libc.SYS_LANDLOCK_ADD_RULE, ruleset_fd, _RULE_PATH_BENEATH, ctypes.byref(rule), 0
        )
        if res < 0:
            raise OSError(-res, f"landlock_add_rule {path}: {os.strerror(-res)}")
    finally:
        os.close(fd)


def _add_port_rule(ruleset_fd: int, port: int) -> None:
    rule = _NetPort(NET_CONNECT_TCP, port)
    res = _libc.raw_syscall(
        _libc.SYS_LANDLOCK_ADD_RULE, ruleset_fd, _RULE_NET_PORT, ctypes.byref(rule), 0
    )
    if res < 0:
        raise OSError(-res, f"landlock_add_rule port {port}: {os.strerror(-res)}")


def restrict(
    read_exec: Iterable[str],
    read_write: Iterable[str],
    *,
    files: bool = True,
    connect_ports: Iterable[int] | None = (),
) -> int:
    """Restrict the calling thread (and its future children); returns the ABI used.

    `files=False` handles only TCP and scoping: a domain that handles file access also forbids
    every mount, which a zygote's children need for their private /tmp (they add the file
    rules in a layer of their own afterwards). Requires no_new_privs (or CAP_SYS_ADMIN).
    `connect_ports`: the TCP ports a connect may go to (() none, None every port; the
    version's nftables rules decide the addresses). Raises OSError if Landlock is unavailable.
    """
    abi = abi_version()
    if abi < 1:
        raise OSError(38, "Landlock is not available")
    fs, net, scoped, size = handled_for(abi)
    if not files:
        fs, read_exec, read_write = 0, (), ()
    if connect_ports is None:
        net &= ~NET_CONNECT_TCP
    attr = _RulesetAttr(fs, net, scoped)
    ruleset_fd = _libc.raw_syscall(
        _libc.SYS_LANDLOCK_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(size), 0
    )
    if ruleset_fd < 0:
        raise OSError(-ruleset_fd, f"landlock_create_ruleset: {os.strerror(-ruleset_fd)}")
    try:
        for path in read_exec:
            _add_path_rule(ruleset_fd, path, READ_EXEC, fs)
        for path in read_write:
            _add_path_rule(ruleset_fd, path, fs, fs)
        for port in (connect_ports or ()) if net & NET_CONNECT_TCP else ():
            _add_port_rule(ruleset_fd, port)
        res = _libc.raw_syscall(_libc.SYS_LANDLOCK_RESTRICT_SELF, ruleset_fd, 0)
        if res < 0:
            raise OSError(-res, f"landlock_restrict_self: {os.strerror(-res)}")
    finally:
        os.close(ruleset_fd)
    return abi
