"""Hostile functions against processes: bombs, escapees, forbidden calls, the network, output.

Each hostile call fails for the function with its named error (or an OSError the handler
reports back), and afterwards the server answers, another function works, and (checked by
the `sandbox_api` fixture once the app has closed) no process or cgroup is left.
"""

from __future__ import annotations

import asyncio
import socket
import uuid

from tests.conftest import HELLO, Api
from tests.escape.conftest import SANDBOX_UID_BASE, processes_with, wait_for

BOMBS = {
    "main.py": """
import os
import time

def handler(event, context):
    if event == "fork_bomb":
        while True:
            os.fork()
    if event == "holding_fork_bomb":
        parent = os.getpid()
        while True:
            try:
                os.fork()
            except BlockingIOError:
                if os.getpid() == parent:
                    raise
                time.sleep(60)  # the copies keep their pids taken
    if event == "memory_bomb":
        hog = []
        while True:
            hog.append(b"x" * (16 * 1024 * 1024))
    return "fine"
"""
}


async def _server_and_others_fine(api: Api) -> None:
    assert (await api.client.get("/readyz")).status_code == 200
    await api.deploy("hello", HELLO)
    other = await api.invoke("hello", {"name": "after"})
    assert (other.status_code, other.json()) == (200, {"hello": "after"})


async def test_fork_bomb_and_memory_bomb(sandbox_api: Api) -> None:
    await sandbox_api.deploy("bombs", BOMBS, timeout_s="2", memory_mb="256")
    fork_bomb = await sandbox_api.invoke("bombs", "fork_bomb")
    body = fork_bomb.json()
    # Copies whose own fork fails exit at once and free their pids, so the first process may
    # go on forking until its timeout; either way the pids limit held and the group died.
    assert body["error"] in ("FunctionResourceLimit", "FunctionOutOfMemory", "FunctionTimedOut")
    holding = (await sandbox_api.invoke("bombs", "holding_fork_bomb")).json()
    # Copies that hold their pids leave the first process's fork failing: a named limit.
    assert holding["error"] == "FunctionResourceLimit", holding
    assert "pids limit" in holding["detail"]["message"]
    memory_bomb = await sandbox_api.invoke("bombs", "memory_bomb")
    assert (memory_bomb.status_code, memory_bomb.json()["error"]) == (507, "FunctionOutOfMemory")
    assert memory_bomb.json()["detail"]["peak_memory_mb"] <= 257
    fine = await sandbox_api.invoke("bombs", "fine")
    assert (fine.status_code, fine.json()) == (200, "fine")
    await _server_and_others_fine(sandbox_api)


# The grandchild runs a new interpreter whose command line carries the test's marker, so the
# test finds it on the host by /proc, without the function knowing any host pid.
ESCAPEE = {
    "main.py": """
import os, sys, time

def handler(event, context):
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            os.closerange(0, 256)
            os.execv(sys.executable, [sys.executable, "-c", "while True: pass", event])
        os._exit(0)
    os.wait()
    while True:
        time.sleep(1)
"""
}


async def test_detached_child_dies_with_the_timed_out_instance(sandbox_api: Api) -> None:
    marker = f"sandlot-escapee-{uuid.uuid4().hex}"
    await sandbox_api.deploy("escapee", ESCAPEE, timeout_s="3", memory_mb="64")
    call = asyncio.ensure_future(sandbox_api.invoke("escapee", marker))
    found: dict[int, int] = {}

    async def escapee_runs() -> None:
        for _ in range(400):
            found.update(processes_with(marker))
            if found or call.done():
                return
            await asyncio.sleep(0.01)  # polling /proc while the invocation runs

    await escapee_runs()
    assert found, "the detached child never ran (the test would prove nothing)"
    assert all(uid >= SANDBOX_UID_BASE for uid in found.values()), found  # a sandbox uid
    response = await call
    assert (response.status_code, response.json()["error"]) == (504, "FunctionTimedOut")
    wait_for(lambda: not processes_with(marker), what=f"escapee alive: {processes_with(marker)}")
    await _server_and_others_fine(sandbox_api)


FORBIDDEN = {
    "main.py": """
import ctypes, errno, os, signal

libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
PTRACE_ATTACH, PTRACE_TRACEME = 16, 0
CLONE_NEWUSER, CLONE_NEWNS, CLONE_NEWNET, CLONE_NEWPID = 0x10000000, 0x20000, 0x40000000, 0x20000000

def call(result):
    return "ok" if result == 0 else errno.errorcode.get(ctypes.get_errno(), "?")

def attempt(fn):
    try:
        fn()
        return "ok"
    except OSError as exc:
        return errno.errorcode.get(exc.errno, str(exc))

def handler(event, context):
    out = {}
    sibling = os.fork()
    if sibling == 0:
        signal.pause()
        os._exit(0)
    out["ptrace_sibling"] = call(libc.ptrace(PTRACE_ATTACH, sibling, None, None))
    out["ptrace_parent"] = call(libc.ptrace(PTRACE_ATTACH, os.getppid(), None, None))
    out["ptrace_pid1"] = call(libc.ptrace(PTRACE_ATTACH, 1, None, None))
    out["ptrace_traceme"] = call(libc.ptrace(PTRACE_TRACEME, 0, None, None))
    os.kill(sibling, signal.SIGKILL)
    os.waitpid(sibling, 0)
    out["mount_tmpfs"] = call(libc.mount(b"none", b"/tmp", b"tmpfs", 0, None))
    out["mount_proc"] = call(libc.mount(b"proc", b"/tmp", b"proc", 0, None))
    out["umount_usr"] = call(libc.umount2(b"/usr", 2))
    out["chroot"] = attempt(lambda: os.chroot("/tmp"))
    for name, flag in [("user", CLONE_NEWUSER), ("mount", CLONE_NEWNS), ("net", CLONE_NEWNET),
                       ("pid", CLONE_NEWPID)]:
        out["unshare_" + name] = call(libc.unshare(flag))
    out["setns"] = call(libc.setns(os.open("/proc/self/ns/net", os.O_RDONLY), 0))
    out["setuid_root"] = attempt(lambda: os.setuid(0))
    out["kill_pid1"] = attempt(lambda: os.kill(1, signal.SIGKILL))
    out["kill_server"] = attempt(lambda: os.kill(event["server_pid"], signal.SIGKILL))
    # Which pids this process can signal at all (signal 0 only checks).
    reachable = []
    for pid in range(1, 1 << 15):
        if pid != os.getpid():
            try:
                os.kill(pid, 0)
                reachable.append(pid)
            except OSError:
                pass
    out["reachable_pids"] = reachable
    return out
"""
}


async def test_ptrace_mount_unshare_and_signals_are_refused(sandbox_api: Api) -> None:
    import os

    await sandbox_api.deploy("forbidden", FORBIDDEN, timeout_s="5", memory_mb="64")
    response = await sandbox_api.invoke("forbidden", {"server_pid": os.getpid()})
    assert response.status_code == 200, response.text
    out = response.json()
    for key in ("ptrace_sibling", "ptrace_parent", "ptrace_pid1", "ptrace_traceme"):
        assert out[key] == "EPERM", (key, out)
    for key in ("mount_tmpfs", "mount_proc", "umount_usr", "chroot", "setns"):
        assert out[key] == "EPERM", (key, out)
    assert out["setuid_root"] in ("EPERM", "EINVAL")  # EINVAL: no root in its user namespace
    for key in ("unshare_user", "unshare_mount", "unshare_net", "unshare_pid"):
        assert out[key] == "EPERM", (key, out)
    assert out["kill_server"] == "ESRCH"  # the host's pids do not exist in its pid namespace
    # Landlock's signal scoping confines an instance to its own processes: not even the
    # sandbox's init (pid 1) or its version's zygote can be signalled.
    assert out["kill_pid1"] == "EPERM"
    assert out["reachable_pids"] == [], out["reachable_pids"]
    assert (await sandbox_api.invoke("forbidden", {"server_pid": 1})).status_code == 200
    await _server_and_others_fine(sandbox_api)


NETWORK = {
    "main.py": """
import errno, socket

def attempt(fn):
    try:
        return "ok: " + repr(fn())
    except OSError as exc:
        return errno.errorcode.get(exc.errno, str(exc))

def tcp(host, port):
    with socket.create_connection((host, port), timeout=2) as sock:
        return sock.getpeername()

def udp(host, port):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        return sock.sendto(b"escaped", (host, port))

def handler(event, context):
    port = event["port"]
    return {
        "tcp_loopback": attempt(lambda: tcp("127.0.0.1", port)),
        "tcp_localhost": attempt(lambda: tcp("localhost", port)),
        "tcp_v6": attempt(lambda: tcp("::1", port)),
        "udp_loopback": attempt(lambda: udp("127.0.0.1", port)),
        "raw": attempt(lambda: socket.socket(socket.AF_INET, socket.SOCK_RAW, 1)),
        "netlink": attempt(lambda: socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)),
        "packet": attempt(lambda: socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)),
        "interfaces": [line.split(":")[0].strip()
                       for line in open("/proc/self/net/dev").read().splitlines()[2:]],
    }
"""
}


async def test_host_loopback_ports_are_unreachable(sandbox_api: Api) -> None:
    with (
        socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener,
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp,
    ):
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        udp.bind(("127.0.0.1", port))
        listener.setblocking(False)
        udp.setblocking(False)
        await sandbox_api.deploy("net", NETWORK, timeout_s="5", memory_mb="64")
        response = await sandbox_api.invoke("net", {"port": port})
        assert response.status_code == 200, response.text
        out = response.json()
        # Landlock denies TCP connect outright; even without it the sandbox's own loopback
        # has nothing listening.
        for key in ("tcp_loopback", "tcp_localhost", "tcp_v6"):
            assert out[key] in ("EACCES", "EPERM", "ECONNREFUSED", "ENETUNREACH"), (key, out)
        # The datagram leaves on the sandbox's own loopback and arrives nowhere on the host.
        assert out["udp_loopback"].startswith("ok") or out["udp_loopback"] in ("EACCES", "EPERM")
        for key in ("raw", "netlink", "packet"):
            assert out[key] in ("EPERM", "EAFNOSUPPORT", "EACCES"), (key, out)
        assert out["interfaces"] == ["lo"]
        # Loopback delivery is synchronous: anything sent would already be queued here.
        try:
            connection, _ = listener.accept()
        except BlockingIOError:
            connection = None
        assert connection is None, "the function connected to a host port"
        try:
            datagram = udp.recv(64)
        except BlockingIOError:
            datagram = None
        assert datagram is None, "the function's datagram reached the host"
    await _server_and_others_fine(sandbox_api)


CHATTY = {
    "main.py": """
import os, sys

def handler(event, context):
    chunk = "y" * (1024 * 1024)
    for _ in range(event):
        print(chunk)
    for _ in range(event):  # around the capture, straight into the output pipe
        os.write(1, chunk.encode())
    return {"printed_mb": 2 * event}
"""
}


async def test_huge_output_is_capped_with_the_marker(sandbox_api: Api) -> None:
    await sandbox_api.deploy("chatty", CHATTY, timeout_s="10", memory_mb="128")
    response = await sandbox_api.invoke("chatty", 40)
    assert (response.status_code, response.json()) == (200, {"printed_mb": 80})
    invocation = response.headers["x-sandlot-invocation-id"]
    record = (await sandbox_api.client.get(f"/api/v1/invocations/{invocation}")).json()
    assert record["logs_truncated"] is True
    logs = (await sandbox_api.client.get(f"/api/v1/invocations/{invocation}/logs")).text
    limit = sandbox_api.settings.max_log_bytes
    assert len(logs.encode()) <= limit + 1024
    assert f"[sandlot: output truncated after {limit} bytes]" in logs
    again = await sandbox_api.invoke("chatty", 0)
    assert (again.status_code, again.json()) == (200, {"printed_mb": 0})
    await _server_and_others_fine(sandbox_api)
