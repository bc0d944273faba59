"""Nothing left behind: what a function leaves running never outlives a crash of its server,
and the next start on the data dir ends whatever the last run left, and only that."""

from __future__ import annotations

import signal
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import HELLO, LiveServer, start_server, stop_server
from tests.escape.conftest import (
    SANDBOX_UID_BASE,
    assert_server_left_nothing,
    descendants,
    own_cgroup_dirs,
    processes_with,
    require_strict,
    sandlot_cgroups,
    still_alive,
    sync_deploy,
    sync_invoke,
    wait_for,
)

pytestmark = pytest.mark.slow

# Returns at once and leaves a detached grandchild behind (its own session, reparented to
# the sandbox's init), whose command line carries the test's marker.
LEAVER = {
    "main.py": """
import os, sys

def handler(event, context):
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            os.closerange(0, 256)
            os.execv(sys.executable, [sys.executable, "-c", "import time; time.sleep(3600)", event])
        os._exit(0)
    os.wait()
    return "left one behind"
"""
}
# An interpreter any uid may run (the venv's base interpreter may live under /root).
SYSTEM_PYTHON = "/usr/bin/python3"


def _crash(server: LiveServer) -> None:
    server.process.send_signal(signal.SIGKILL)
    server.process.wait()


def test_a_crashed_server_takes_what_its_functions_left_running(tmp_path: Path) -> None:
    require_strict()
    data_dir = tmp_path / "data"
    marker = f"sandlot-leftover-{uuid.uuid4().hex}"
    server = start_server(data_dir)
    try:
        sync_deploy(server, server.api_key, "leaver", LEAVER)
        answer = sync_invoke(server, server.api_key, "leaver", marker)
        assert (answer.status_code, answer.json()) == (200, "left one behind")
        wait_for(lambda: bool(processes_with(marker)), what="the detached process never ran")
        left = processes_with(marker)
        assert all(uid >= SANDBOX_UID_BASE for uid in left.values()), left
        seen = descendants(server.process.pid)
    finally:
        _crash(server)
    # kill -9 of the server, and nothing else: its function processes go with it.
    wait_for(lambda: not processes_with(marker), what=f"still alive: {processes_with(marker)}")
    wait_for(lambda: not still_alive(seen), what=f"still alive: {still_alive(seen)}")
    # The next start removes the crashed run's cgroups and works as before.
    restarted = start_server(data_dir)
    try:
        assert not sandlot_cgroups(server.process.pid)
        sync_deploy(restarted, restarted.api_key, "hello", HELLO)
        assert sync_invoke(restarted, restarted.api_key, "hello", {}).json() == {"hello": "world"}
        seen = descendants(restarted.process.pid)
    finally:
        assert stop_server(restarted), restarted.log_path.read_text()
    assert_server_left_nothing(restarted, seen)


def _cgroups_of(server_pid: int) -> dict[str, dict[str, Path]]:
    """name -> controller -> directory, of each cgroup in a server's sandbox starter tree."""
    found: dict[str, dict[str, Path]] = {}
    for controller, own in own_cgroup_dirs().items():
        for tree in (own / "sandlot").glob(f"starter-{server_pid}-*"):
            for child in tree.iterdir():
                if child.is_dir():
                    found.setdefault(child.name, {})[controller] = child
    return found


def _uid(pid: int) -> int | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    return int(next(line for line in status.splitlines() if line.startswith("Uid:")).split()[1])


def _pids_in(cgroup: dict[str, Path]) -> list[int]:
    try:  # spare cgroups are renamed or removed meanwhile; they hold nobody anyway
        return [int(pid) for pid in (cgroup["pids"] / "cgroup.procs").read_text().split()]
    except (OSError, KeyError):
        return []


def _members(server_pid: int) -> dict[int, int | None]:
    """Host pid -> real uid of each process in the cgroups of a server's sandbox starter."""
    cgroups = _cgroups_of(server_pid).values()
    return {pid: _uid(pid) for cgroup in cgroups for pid in _pids_in(cgroup)}


@pytest.fixture
def planted() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Processes the test starts itself; killed and reaped at the end, whatever happened."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        process.kill()
        process.wait()


def _plant(uid: int, marker: str, into: dict[str, Path] | None = None) -> subprocess.Popen[bytes]:
    """A process running as `uid`, moved into the cgroup `into` (on every controller)."""
    as_uid = ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups"]
    process = subprocess.Popen(
        [*as_uid, SYSTEM_PYTHON, "-c", "import time; time.sleep(3600)", marker], cwd="/"
    )
    for directory in (into or {}).values():
        (directory / "cgroup.procs").write_text(str(process.pid))
    return process


def _warm(server: LiveServer, deploy: bool = True) -> tuple[int, dict[int, int | None]]:
    """Call a function (deployed first); (the uid its sandbox runs as, its cgroups' members)."""
    if deploy:
        sync_deploy(server, server.api_key, "hello", HELLO)
    assert sync_invoke(server, server.api_key, "hello", {}).status_code == 200
    members = _members(server.process.pid)
    uids = {uid for uid in members.values() if uid is not None and uid >= SANDBOX_UID_BASE}
    assert len(uids) == 1, members
    return uids.pop(), members


def test_a_restart_ends_what_the_last_run_of_its_data_dir_left_and_only_that(
    tmp_path: Path, planted: list[subprocess.Popen[bytes]]
) -> None:
    require_strict()
    ours, neighbour = start_server(tmp_path / "ours"), start_server(tmp_path / "neighbour")
    try:
        uid, _ = _warm(ours)
        # Two servers of one test run share its uid range: the neighbour's first group runs
        # as the same uid, and must survive whatever this data dir's restart does.
        neighbour_uid, members = _warm(neighbour)
        assert neighbour_uid == uid
        # Its sandboxes (with start times, so that a reused pid cannot pass for one).
        everything = descendants(neighbour.process.pid)
        neighbours_sandboxes = {pid: everything[pid] for pid in members if pid in everything}
        assert neighbours_sandboxes
        # What the kernel's parent-death signal cannot reach, as a crash may leave it: a
        # process in one of the run's cgroups, and one running as its uid in none.
        marker = f"sandlot-leftover-{uuid.uuid4().hex}"
        cgroup = next(c for c in _cgroups_of(ours.process.pid).values() if _pids_in(c))
        planted.append(_plant(uid, marker, into=cgroup))
        planted.append(_plant(uid, marker))
        crashed = ours.process.pid
        _crash(ours)
        wait_for(lambda: len(processes_with(marker)) == 2, what="both planted processes run")
        assert all(process.poll() is None for process in planted)
        restarted = start_server(tmp_path / "ours")
        try:
            # Ended before the server was ready, so before it could hand out any uid.
            assert [process.poll() for process in planted] == [-signal.SIGKILL] * 2
            assert not sandlot_cgroups(crashed)
            assert sorted(still_alive(neighbours_sandboxes)) == sorted(neighbours_sandboxes)
            again = sync_invoke(neighbour, neighbour.api_key, "hello", {})
            assert again.headers["x-sandlot-cold-start"] == "false"
            # The restarted server hands the same uid out again, to a working function.
            assert _warm(restarted, deploy=False)[0] == uid
        finally:
            assert stop_server(restarted), restarted.log_path.read_text()
    finally:
        for server in (ours, neighbour):
            if server.process.poll() is None:
                stop_server(server)
