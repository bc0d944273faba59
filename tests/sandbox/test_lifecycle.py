"""Start, fds, kill, cleanup and groups: nothing outlives a sandbox or leaks between groups."""

from __future__ import annotations

import json
import os
import signal
import socket
from pathlib import Path

import pytest

from sandlot.sandbox.spec import ProcessHandle
from sandlot.sandbox.starter import SandboxSetupError, SandboxStarter
from tests.conftest import SANDBOX_UID_BASE

from .conftest import make_spec, run_to_end, write_script

# Forks a grandchild that leaves the session and holds fd 4 open forever; the script itself
# reports on fd 3 and then either waits or exits at once ("exit").
ESCAPER = """
import os, sys, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        time.sleep(600)
    os._exit(0)
os.close(4)
os.write(3, b"r")
if sys.argv[1:] != ["exit"]:
    time.sleep(600)
"""


def _read_eof(sock: socket.socket) -> bytes:
    sock.settimeout(60)
    return sock.recv(1)


async def _start_escaper(
    starter: SandboxStarter, tmp_path: Path, *args: str
) -> tuple[ProcessHandle, socket.socket, socket.socket]:
    control, control_child = socket.socketpair()
    alive, alive_child = socket.socketpair()
    spec = make_spec(
        write_script(tmp_path, ESCAPER),
        pass_fds={3: control_child.fileno(), 4: alive_child.fileno()},
        args=args,
    )
    handle = await starter.start(spec)
    control_child.close()
    alive_child.close()
    assert control.recv(1) == b"r"
    return handle, control, alive


async def test_kill_ends_setsid_and_double_forked_children(
    starter: SandboxStarter, tmp_path: Path
) -> None:
    handle, control, alive = await _start_escaper(starter, tmp_path)
    assert handle.poll() is None
    handle.kill()
    exit_info = await handle.wait()
    assert exit_info.signal == signal.SIGKILL
    assert _read_eof(alive) == b""  # every holder of fd 4 is dead
    await handle.cleanup()
    handle.kill()  # idempotent, never raises
    await handle.cleanup()
    control.close()
    alive.close()


async def test_target_exit_ends_everything_it_started(
    starter: SandboxStarter, tmp_path: Path
) -> None:
    handle, control, alive = await _start_escaper(starter, tmp_path, "exit")
    assert await handle.wait() == type(await handle.wait())(returncode=0, signal=None)
    assert _read_eof(alive) == b""
    await handle.cleanup()
    control.close()
    alive.close()


def _cgroup_dirs(starter: SandboxStarter) -> list[Path]:
    tree = starter._cgroups
    assert tree is not None
    return [
        d for base in tree.bases.values() if base.exists() for d in base.iterdir() if d.is_dir()
    ]


def _pids_with_uid(uid: int) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}").st_uid == uid:
                    pids.append(int(entry))
            except FileNotFoundError:
                continue
    return pids


async def test_cleanup_leaves_no_cgroup_and_no_process(
    starter: SandboxStarter, tmp_path: Path
) -> None:
    handle, control, alive = await _start_escaper(starter, tmp_path)
    assert _cgroup_dirs(starter)
    host_uid = starter._groups["g1"].host_id
    assert host_uid is not None and _pids_with_uid(host_uid)
    await handle.cleanup()
    # Only spares are left (made ahead for the next start; they never held a process).
    spares = {d for cgroup in starter._spare_cgroups.items() for d in cgroup.dirs.values()}
    assert set(_cgroup_dirs(starter)) == spares
    assert _pids_with_uid(host_uid) == []
    bases = list(starter._cgroups.bases.values()) if starter._cgroups else []
    await starter.close()
    assert not any(base.exists() for base in bases)
    control.close()
    alive.close()


async def test_setup_failure_raises_and_leaves_nothing(
    starter: SandboxStarter, tmp_path: Path
) -> None:
    spec = make_spec(write_script(tmp_path, "pass"))
    broken = type(spec)(**{**spec.__dict__, "argv": ["/nonexistent/python"]})
    with pytest.raises(SandboxSetupError, match="nonexistent"):
        await starter.start(broken)
    spares = {d for cgroup in starter._spare_cgroups.items() for d in cgroup.dirs.values()}
    assert set(_cgroup_dirs(starter)) == spares


IDENTITY = """
import json, os, socket
print(json.dumps({
    "uid": os.getuid(), "gid": os.getgid(), "pid": os.getpid(),
    "uid_map": open("/proc/self/uid_map").read().split(),
    "netns": os.readlink("/proc/self/ns/net"),
    "hostname": socket.gethostname(),
    "status": {k: v.strip() for k, v in (l.split(":", 1) for l in open("/proc/self/status"))},
    "fd3": os.read(3, 5).decode(),
}))
"""


async def _identity(starter: SandboxStarter, tmp_path: Path, group: str) -> dict[str, object]:
    ours, theirs = socket.socketpair()
    ours.sendall(b"hello")
    outcome = await run_to_end(
        starter, tmp_path, IDENTITY, group=group, pass_fds={3: theirs.fileno()}
    )
    theirs.close()
    ours.close()
    assert outcome.exit.returncode == 0, outcome.stderr
    result: dict[str, object] = json.loads(outcome.stdout)
    return result


async def test_identity_privileges_and_groups(starter: SandboxStarter, tmp_path: Path) -> None:
    first = await _identity(starter, tmp_path, "g1")
    again = await _identity(starter, tmp_path, "g1")
    other = await _identity(starter, tmp_path, "g2")
    assert first["fd3"] == "hello"
    assert (first["uid"], first["gid"], first["pid"], first["hostname"]) == (
        1000,
        1000,
        2,
        "sandbox",
    )
    status = first["status"]
    assert isinstance(status, dict)
    for caps in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
        assert int(status[caps], 16) == 0, caps
    assert status["NoNewPrivs"] == "1"
    assert status["Seccomp"] == "2"
    # One network namespace and host uid per group, distinct between groups.
    assert first["netns"] == again["netns"] != other["netns"]
    assert first["uid_map"] == again["uid_map"] != other["uid_map"]
    assert int(first["uid_map"][1]) >= SANDBOX_UID_BASE  # type: ignore[index]
    await starter.release_group("g1")
    await starter.release_group("g2")
    assert starter._groups == {}
