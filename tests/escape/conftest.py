"""The escape suite: hostile functions deployed and invoked through the real server.

Every test here runs in strict sandbox mode on this host and fails (never skips) when the
host cannot provide it. Besides what each test asserts about the function's view, the
`sandbox_api` fixture checks the host after the app has closed: no process the server
started is left, and no cgroup of the server's sandbox starter remains.
"""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest

from sandlot.config import SandboxMode
from tests.conftest import SANDBOX_MODE, SANDBOX_UID_BASE, Api, LiveServer, open_api, zip_bytes

SANDBOX_CONTROLLERS = ("memory", "pids", "cpu")
__all__ = ["SANDBOX_UID_BASE"]  # this run's range (tests.conftest): group n runs as base + n


def require_strict() -> None:
    assert SANDBOX_MODE is SandboxMode.STRICT, (
        "the escape suite must run in the strict sandbox; this host lacks a layer "
        "(see `sandlot doctor`)"
    )


def sqlite_in(data_dir: Path) -> str:
    """A SQLite database inside the data dir, where `sandlot serve` keeps it by default."""
    return f"sqlite+aiosqlite:///{data_dir / 'sandlot.db'}"


# The host, as seen from outside every sandbox.


def own_cgroup_dirs() -> dict[str, Path]:
    """This process's v1 cgroup directory per sandbox controller (cgroups.py's layout)."""
    mounts: dict[str, Path] = {}
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        pre, _, post = line.partition(" - ")
        fstype, _source, options = post.split()[:3]
        if fstype == "cgroup":
            for option in options.split(","):
                if option in SANDBOX_CONTROLLERS:
                    mounts[option] = Path(pre.split()[4])
    own: dict[str, Path] = {}
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _hierarchy, controllers, path = line.split(":", 2)
        for controller in controllers.split(","):
            if controller in mounts:
                own[controller] = mounts[controller] / path.lstrip("/")
    return own


def sandlot_cgroups(server_pid: int | None = None) -> set[Path]:
    """Every cgroup directory below `<own>/sandlot/starter-<server pid>-*` on each controller
    (the server is this test process unless told otherwise)."""
    server_pid = os.getpid() if server_pid is None else server_pid
    found: set[Path] = set()
    for own in own_cgroup_dirs().values():
        for tree in (own / "sandlot").glob(f"starter-{server_pid}-*"):
            found.add(tree)
            found.update(child for child in tree.iterdir() if child.is_dir())
    return found


def _status(pid: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:  # gone meanwhile
        return fields
    for line in text.splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    return fields


def _start_time(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rpartition(")")[2].split()[19])


def descendants(root: int | None = None) -> dict[int, int | None]:
    """Live (non-zombie) processes below `root` (default: this test process), each with its
    start time, so that a later check cannot mistake a reused pid for a survivor."""
    root = os.getpid() if root is None else root
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            status = _status(entry)
            if status and not status.get("State", "").startswith("Z"):
                parents[int(entry)] = int(status.get("PPid", "0"))
    found: dict[int, int | None] = {}
    for pid in parents:
        ancestor = parents.get(pid)
        seen = 0
        while ancestor is not None and ancestor > 1 and seen < 64:
            if ancestor == root:
                found[pid] = _start_time(pid)
                break
            ancestor = parents.get(ancestor)
            seen += 1
    return found


def still_alive(snapshot: dict[int, int | None]) -> list[int]:
    """The processes of a `descendants()` snapshot that still live (same pid, same start)."""
    return [pid for pid, start in snapshot.items() if _start_time(pid) == start]


def processes_with(marker: str) -> dict[int, int]:
    """Host pid -> real uid of every live process whose command line contains `marker`."""
    found: dict[int, int] = {}
    needle = marker.encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        status = _status(entry)
        if needle in cmdline and status and not status.get("State", "").startswith("Z"):
            found[int(entry)] = int(status["Uid"].split()[0])
    return found


def wait_for(condition: Callable[[], bool], timeout_s: float = 15.0, what: str = "") -> None:
    """Poll `condition` until it holds, failing after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"still not true after {timeout_s} s: {what}")
        time.sleep(0.05)  # polling host state; the kernel offers nothing to wait on


def assert_host_clean() -> None:
    """After the app closed: no process the server started and no cgroup of its starter."""
    wait_for(lambda: not descendants(), what=f"processes left by the server: {descendants()}")
    wait_for(lambda: not sandlot_cgroups(), what=f"cgroups left: {sorted(sandlot_cgroups())}")


@pytest.fixture
async def sandbox_api(tmp_path: Path) -> AsyncIterator[Api]:
    """The real app in strict mode on a SQLite file in its data dir; checks the host after."""
    require_strict()
    assert not descendants(), f"processes left by an earlier test: {descendants()}"
    data_dir = tmp_path / "data"
    async with open_api(data_dir, sqlite_in(data_dir)) as api:
        yield api
    assert_host_clean()


# A real `sandlot serve` process, for what only a separate server process has.


def sync_deploy(
    server: LiveServer, key: str, name: str, files: dict[str, str], **fields: str
) -> None:
    code = {"code": ("code.zip", zip_bytes(files), "application/zip")}
    data = {"name": name, **fields}
    response = httpx.post(
        f"{server.url}/api/v1/functions",
        data=data,
        files=code,
        headers={"Authorization": f"Bearer {key}"},
        timeout=60,
    )
    assert response.status_code == 201, response.text


def sync_invoke(server: LiveServer, key: str, name: str, event: object) -> httpx.Response:
    return httpx.post(
        f"{server.url}/api/v1/functions/{name}/invoke",
        json=event,
        headers={"Authorization": f"Bearer {key}"},
        timeout=60,
    )


def assert_server_left_nothing(server: LiveServer, seen: dict[int, int | None]) -> None:
    """After a live server stopped: none of the processes it had (`seen`, a `descendants()`
    snapshot taken while it ran) is alive, and none of its sandbox cgroups remains."""
    assert server.process.poll() is not None, "stop the server first"
    wait_for(lambda: not still_alive(seen), what=f"server's processes alive: {still_alive(seen)}")
    pid = server.process.pid
    wait_for(lambda: not sandlot_cgroups(pid), what=f"cgroups left: {sandlot_cgroups(pid)}")
