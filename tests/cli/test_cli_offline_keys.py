"""`sandlot keys create --offline`: the way back in when no admin key is left."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.conftest import LiveServer, start_server, stop_server

pytestmark = pytest.mark.slow


def _offline_key(data_dir: Path, database_url: str, name: str) -> tuple[str, str]:
    """Run the command with no server URL and no key at all: (the key, what went to stderr)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SANDLOT_")}
    env.update({"SANDLOT_DATABASE_URL": database_url, "COLUMNS": "300"})
    command = [sys.executable, "-m", "sandlot.cli.main", "--data-dir", str(data_dir), "keys"]
    done = subprocess.run(
        [*command, "create", "--offline", "--role", "admin", "--name", name],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip(), done.stderr


def _admin_works(server: LiveServer, key: str) -> bool:
    listed = httpx.get(f"{server.url}/api/v1/keys", headers={"Authorization": f"Bearer {key}"})
    return listed.status_code == 200 and any(
        k["name"] == "rescue" and k["role"] == "admin" for k in listed.json()["items"]
    )


def test_offline_admin_key_before_during_and_after_a_server(
    tmp_path: Path, database_url: str
) -> None:
    data_dir = tmp_path / "data"
    # Before any server ever ran here: it makes the database and the namespace.
    first, said = _offline_key(data_dir, database_url, "rescue")
    assert first.startswith("sl_") and "running" not in said
    server = start_server(data_dir, extra_env={"SANDLOT_DATABASE_URL": database_url})
    try:
        assert _admin_works(server, first)
        # With the server running: it goes ahead, says so, and the key works at once.
        during, said = _offline_key(data_dir, database_url, "rescue")
        assert f"pid {server.process.pid}" in said and "running" in said
        assert _admin_works(server, during)
    finally:
        assert stop_server(server), server.log_path.read_text()
    after, _ = _offline_key(data_dir, database_url, "rescue")
    server = start_server(data_dir, extra_env={"SANDLOT_DATABASE_URL": database_url})
    try:
        assert all(_admin_works(server, key) for key in (first, during, after))
    finally:
        stop_server(server)
