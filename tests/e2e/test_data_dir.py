"""The data dir as real `sandlot serve` processes use it: one server at a time, owner only."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.conftest import HELLO, free_port, start_server, stop_server
from tests.escape.conftest import own_cgroup_dirs, require_strict, sync_deploy, sync_invoke

pytestmark = pytest.mark.slow

# Readers of a WAL database write their read marks into the -shm file: not a change of state.
_SHARED_MEMORY = "sandlot.db-shm"


def _snapshot(root: Path) -> dict[str, tuple[int, int, int]]:
    """Every path below `root` with its mode, size and modification time."""
    found: dict[str, tuple[int, int, int]] = {}
    for path in [root, *root.rglob("*")]:
        if path.name != _SHARED_MEMORY:
            info = path.lstat()
            found[str(path)] = (info.st_mode, info.st_size, info.st_mtime_ns)
    return found


def _cgroups_of(pid: int) -> list[Path]:
    """Cgroup directories that any Sandlot starter or probe of process `pid` made."""
    return [
        tree for own in own_cgroup_dirs().values() for tree in (own / "sandlot").glob(f"*-{pid}-*")
    ]


def _serve(data_dir: Path) -> tuple[int, int, str]:
    """Run `sandlot serve` to its end: (its pid, exit code, stderr)."""
    command = [sys.executable, "-m", "sandlot.cli.main", "serve", "--port", str(free_port())]
    with subprocess.Popen(
        [*command, "--data-dir", str(data_dir)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "COLUMNS": "300"},
    ) as process:
        try:
            _, stderr = process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            raise
        return process.pid, process.returncode, stderr


def test_a_second_server_on_the_data_dir_refuses_and_touches_nothing(tmp_path: Path) -> None:
    require_strict()
    data_dir = tmp_path / "data"
    first = start_server(data_dir)
    try:
        sync_deploy(first, first.api_key, "hello", HELLO)
        assert sync_invoke(first, first.api_key, "hello", {"name": "a"}).status_code == 200
        # Readers flush the history first: nothing of the call is still to be written.
        headers = {"Authorization": f"Bearer {first.api_key}"}
        httpx.get(f"{first.url}/api/v1/invocations", headers=headers).raise_for_status()
        before = _snapshot(data_dir)
        pid, code, stderr = _serve(data_dir)
        assert code == 1, stderr
        assert f"pid {first.process.pid}" in stderr and "in use by another Sandlot server" in stderr
        assert "Traceback" not in stderr
        assert _snapshot(data_dir) == before
        assert _cgroups_of(pid) == []  # nor did it probe or sweep the host's cgroups
        # The first server still starts new sandboxes (a new function: a cold start).
        sync_deploy(first, first.api_key, "other", HELLO)
        cold = sync_invoke(first, first.api_key, "other", {"name": "b"})
        assert (cold.status_code, cold.json()) == (200, {"hello": "b"})
        assert cold.headers["x-sandlot-cold-start"] == "true"
        assert httpx.get(f"{first.url}/readyz", timeout=5).status_code == 200
    finally:
        assert stop_server(first), first.log_path.read_text()
    # Once the first has stopped, the data dir is free again.
    again = start_server(data_dir)
    stop_server(again)


def test_data_dir_and_database_are_private_and_functions_still_run(tmp_path: Path) -> None:
    require_strict()
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o755)
    data_dir.chmod(0o755)  # an older install, or a umask that let others in
    server = start_server(data_dir)
    try:
        sync_deploy(server, server.api_key, "hello", HELLO)
        response = sync_invoke(server, server.api_key, "hello", {"name": "private"})
        assert (response.status_code, response.json()) == (200, {"hello": "private"})
        assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
        database = data_dir / "sandlot.db"
        for path in (database, Path(f"{database}-wal"), Path(f"{database}-shm")):
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    finally:
        assert stop_server(server), server.log_path.read_text()
