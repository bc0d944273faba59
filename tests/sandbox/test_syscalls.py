"""Seccomp, Landlock and the network namespace: what a sandboxed process may not do."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

from sandlot.sandbox.starter import SandboxStarter

from .conftest import run_to_end

HOSTILE_CALLS = """
import ctypes, errno, json, os, signal, socket, sys
libc = ctypes.CDLL(None, use_errno=True)

def rc(value):
    return "ok" if value >= 0 else errno.errorcode[ctypes.get_errno()]

def sock(family, kind):
    try:
        socket.socket(family, kind).close()
        return "ok"
    except OSError as exc:
        return errno.errorcode[exc.errno]

def kill(pid, sig):
    try:
        os.kill(pid, sig)
        return "ok"
    except OSError as exc:
        return errno.errorcode[exc.errno]

def connect(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
        return "ok"
    except OSError as exc:
        return errno.errorcode.get(exc.errno, str(exc))

def bind():
    try:
        s = socket.socket()
        s.bind(("127.0.0.1", 8080))
        s.listen()
        return "ok"
    except OSError as exc:
        return errno.errorcode[exc.errno]

host_pid, host_port = int(sys.argv[1]), int(sys.argv[2])
print(json.dumps({
    "ptrace": rc(libc.ptrace(16, 1, 0, 0)),  # PTRACE_ATTACH to our init
    "mount": rc(libc.mount(b"none", b"/tmp", b"tmpfs", 0, None)),
    "umount": rc(libc.umount2(b"/tmp", 2)),
    "unshare_user": rc(libc.unshare(0x10000000)),
    "unshare_net": rc(libc.unshare(0x40000000)),
    "setns": rc(libc.setns(0, 0)),
    "bpf": rc(libc.syscall(321, 0, 0, 0)),
    "keyctl": rc(libc.syscall(250, 0, 0, 0, 0, 0)),
    "io_uring_setup": rc(libc.syscall(425, 1, 0)),
    "clone_newpid": rc(libc.syscall(56, 0x20000000 | 17, 0, 0, 0, 0)),
    "clone3": rc(libc.syscall(435, 0, 0)),
    "netlink": sock(16, socket.SOCK_RAW),
    "packet": sock(17, socket.SOCK_RAW),
    "raw_inet": sock(socket.AF_INET, socket.SOCK_RAW),
    "tcp": sock(socket.AF_INET, socket.SOCK_STREAM),
    "kill_host_pid": kill(host_pid, 0),
    "kill_init": kill(1, signal.SIGKILL),
    "connect_host": connect(host_port),
    "bind": bind(),
    # if_nameindex() needs netlink, which is denied; /proc/net/dev shows this netns.
    "interfaces": sorted(l.split(":")[0].strip() for l in open("/proc/net/dev") if ":" in l),
}))
"""


async def test_dangerous_syscalls_fail_with_an_errno(
    starter: SandboxStarter, tmp_path: Path
) -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        args = (str(os.getpid()), str(port))
        outcome = await run_to_end(starter, tmp_path, HOSTILE_CALLS, args=args)
    assert outcome.exit.returncode == 0, outcome.stderr
    calls = json.loads(outcome.stdout)
    for name in (
        "ptrace",
        "mount",
        "umount",
        "unshare_user",
        "unshare_net",
        "setns",
        "bpf",
        "keyctl",
        "io_uring_setup",
        "clone_newpid",
        "raw_inet",
    ):
        assert calls[name] == "EPERM", (name, calls[name])
    assert calls["clone3"] == "ENOSYS"
    assert calls["netlink"] == calls["packet"] == "EAFNOSUPPORT"
    assert calls["tcp"] == "ok"  # a socket may exist; it just cannot reach anything
    assert calls["kill_host_pid"] in ("ESRCH", "EPERM")
    assert calls["kill_init"] == "ok"  # delivered to nothing: pid 1 ignores it...
    assert calls["connect_host"] != "ok"
    assert calls["bind"] == "EACCES"  # Landlock: no TCP bind
    assert calls["interfaces"] == ["lo"]
    assert outcome.stderr == ""  # ...and the script ran to its end
