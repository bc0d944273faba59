"""The namespaces one group (a function version) shares: its network namespace, and when the
server is not root, the user namespace that owns it.

A network namespace costs ~0.45 ms to create and its teardown is deferred and serialised in the
kernel, so it is made once per group, never per process. What keeps it alive is an open nsfs
file descriptor held by the server: no holder process, no bind mount that could outlive a
crashed server. A short-lived helper (the launcher in `hold` mode) creates the namespaces, brings
`lo` up, and passes the descriptors back over a socket with SCM_RIGHTS; closing them (on
release_group, or when the server exits) frees the namespaces once no process uses them.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass

from sandlot.sandbox import namespaces

INNER_ID = 1000  # the uid and gid a sandboxed process has inside its user namespace
_TIMEOUT_S = 10.0


@dataclass
class GroupNamespaces:
    netns_fd: int
    userns_fd: int | None  # set when the server is unprivileged

    def fds(self) -> list[int]:
        return [self.netns_fd] + ([self.userns_fd] if self.userns_fd is not None else [])

    def close(self) -> None:
        for fd in self.fds():
            with contextlib.suppress(OSError):
                os.close(fd)


def create(launcher: Sequence[str]) -> GroupNamespaces:
    """Create a group's namespaces (blocking, ~20 ms: run it off the event loop)."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    with ours, theirs:
        proc = subprocess.Popen(
            [*launcher, "hold", str(theirs.fileno())],
            pass_fds=[theirs.fileno()],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env={},
            cwd="/",
        )
        theirs.close()
        ours.settimeout(_TIMEOUT_S)
        try:
            message, fds, _flags, _addr = socket.recv_fds(ours, 4096, 2)
        finally:
            _stdout, stderr = proc.communicate(timeout=_TIMEOUT_S)
    if message != b"ok" or not fds:
        for fd in fds:
            os.close(fd)
        detail = (message or stderr).decode(errors="replace").strip()
        raise OSError(f"cannot create the group's network namespace: {detail}")
    return GroupNamespaces(fds[0], fds[1] if len(fds) > 1 else None)


def hold(sock_fd: int) -> None:
    """The helper's side: new namespaces, `lo` up, descriptors to the server, exit."""
    with socket.socket(fileno=sock_fd) as sock:
        try:
            names = ["net"]
            if os.geteuid() == 0:
                namespaces.unshare(namespaces.CLONE_NEWNET)
            else:  # only a user namespace of our own gives the capabilities for the netns
                uid, gid = os.geteuid(), os.getegid()
                namespaces.unshare(namespaces.CLONE_NEWUSER | namespaces.CLONE_NEWNET)
                namespaces.write_id_maps(INNER_ID, uid, gid)
                names.append("user")
            namespaces.bring_loopback_up()
            fds = [os.open(f"/proc/self/ns/{n}", os.O_RDONLY | os.O_CLOEXEC) for n in names]
            socket.send_fds(sock, [b"ok"], fds)
        except OSError as exc:
            sock.sendall(f"{type(exc).__name__}: {exc}".encode())
