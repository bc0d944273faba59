"""Linux namespaces: create, join, map ids, and give a new network namespace its loopback.

Standard library only (imported by the launcher). Every function acts on the calling process,
which must be single-threaded for the user namespace calls: only the launcher calls them.
"""

from __future__ import annotations

import fcntl
import os
import struct

from sandlot.sandbox import _libc
from sandlot.sandbox._libc import (
    CLONE_NEWCGROUP,
    CLONE_NEWIPC,
    CLONE_NEWNET,
    CLONE_NEWNS,
    CLONE_NEWPID,
    CLONE_NEWUSER,
    CLONE_NEWUTS,
)

__all__ = [
    "CLONE_NEWCGROUP",
    "CLONE_NEWIPC",
    "CLONE_NEWNET",
    "CLONE_NEWNS",
    "CLONE_NEWPID",
    "CLONE_NEWUSER",
    "CLONE_NEWUTS",
    "bring_loopback_up",
    "enter_new_user_namespace",
    "join",
    "set_hostname",
    "unshare",
]

_SIOCGIFFLAGS = 0x8913
_SIOCSIFFLAGS = 0x8914
_IFF_UP = 0x1


def unshare(flags: int) -> None:
    _libc.unshare(flags)


def join(fd: int, nstype: int) -> None:
    """setns into the namespace that `fd` (an nsfs file) refers to."""
    _libc.setns(fd, nstype)


def write_id_maps(inner_id: int, host_uid: int, host_gid: int, pid: str = "self") -> None:
    """Map one inner id to the caller's host ids.

    Written from inside the new namespace, an unprivileged process may map exactly its own
    euid/egid, and only after denying setgroups (else it could drop groups used as deny ACLs).
    """
    for name, data in (
        ("setgroups", "deny"),
        ("uid_map", f"{inner_id} {host_uid} 1\n"),
        ("gid_map", f"{inner_id} {host_gid} 1\n"),
    ):
        with open(f"/proc/{pid}/{name}", "w") as fh:
            fh.write(data)


def enter_new_user_namespace(inner_id: int) -> None:
    """unshare(CLONE_NEWUSER) and map `inner_id` to the caller's current host uid and gid."""
    host_uid, host_gid = os.geteuid(), os.getegid()
    unshare(CLONE_NEWUSER)
    write_id_maps(inner_id, host_uid, host_gid)


def set_hostname(name: str) -> None:
    _libc.sethostname(name)


def bring_loopback_up() -> None:
    """A new network namespace has `lo` down; bring it up (needs CAP_NET_ADMIN over the netns)."""
    import socket  # only the group helper needs it; the launcher's hot path does not

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sH22x", b"lo", 0)
        current = fcntl.ioctl(sock.fileno(), _SIOCGIFFLAGS, request)
        flags = struct.unpack("16sH22x", current)[1]
        fcntl.ioctl(sock.fileno(), _SIOCSIFFLAGS, struct.pack("16sH22x", b"lo", flags | _IFF_UP))
