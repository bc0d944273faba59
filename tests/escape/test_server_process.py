"""Hostile functions against a real `sandlot serve` process: its environment, its files, its pid.

A separate server process matters here: its environment holds secrets, it wrote admin.key
on its first start, and "the server survives" means a process that is still running.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import httpx

from tests.conftest import HELLO, start_server, stop_server
from tests.escape.conftest import (
    assert_server_left_nothing,
    descendants,
    require_strict,
    sync_deploy,
    sync_invoke,
)

SNOOP = """
import os, signal

def read(path):
    try:
        with open(path, "rb") as fh:
            return fh.read(65536).decode("latin-1")
    except OSError as exc:
        return "!" + type(exc).__name__

def handler(event, context):
    out = {"environ": dict(os.environ), "proc": {}}
    for pid in ["self", "1", *sorted(p for p in os.listdir("/proc") if p.isdigit())]:
        for name in ("environ", "cmdline"):
            out["proc"][pid + "/" + name] = read("/proc/" + pid + "/" + name)
    out["files"] = {path: read(path) for path in event["paths"]}
    for target in (event["server_pid"], 1):
        try:
            os.kill(target, signal.SIGKILL)
            out["kill_" + str(target)] = "sent"
        except OSError as exc:
            out["kill_" + str(target)] = type(exc).__name__
    return out
"""

# What `worker.launcher.instance_env` gives a function with no variables of its own.
FUNCTION_ENV = (
    *("PATH", "HOME", "LANG", "TMPDIR", "PYTHONDONTWRITEBYTECODE", "PYTHONUNBUFFERED"),
    *("SANDLOT_FUNCTION_NAME", "SANDLOT_FUNCTION_VERSION", "SANDLOT_MEMORY_MB"),
    # Lambda's runtime variables (worker.launcher.lambda_env and the bootstrap's own).
    *("AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_VERSION", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE"),
    *("AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME", "AWS_REGION"),
    *("AWS_DEFAULT_REGION", "AWS_EXECUTION_ENV", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR"),
    *("_HANDLER", "TZ"),
    *("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"),
)

BOMB = """
import os

def handler(event, context):
    if event == "fork":
        while True:
            os.fork()
    hog = []
    while True:
        hog.append(b"x" * (16 * 1024 * 1024))
"""


def test_server_secrets_files_and_pid_are_out_of_reach(tmp_path: Path) -> None:
    require_strict()
    secret = f"sandlot-server-secret-{uuid.uuid4().hex}"
    data_dir = tmp_path / "data"
    # No bootstrap key: the server generates one and saves it to admin.key, as on a first start.
    server = start_server(
        data_dir,
        extra_env={"SANDLOT_BOOTSTRAP_API_KEY": "", "SANDLOT_ESCAPE_TEST_SECRET": secret},
    )
    seen: dict[int, int | None] = {}
    try:
        key = (data_dir / "admin.key").read_text().strip()
        assert key and (data_dir / "sandlot.db").is_file()
        sync_deploy(server, key, "snoop", {"main.py": SNOOP}, timeout_s="10", memory_mb="64")
        paths = [
            str(data_dir.resolve() / "admin.key"),
            str(data_dir.resolve() / "sandlot.db"),
            str(server.log_path),
            f"/proc/{server.process.pid}/environ",
        ]
        response = sync_invoke(
            server, key, "snoop", {"paths": paths, "server_pid": server.process.pid}
        )
        assert response.status_code == 200, response.text
        out = response.json()
        for needle in (secret, key, "SANDLOT_BOOTSTRAP_API_KEY", "SANDLOT_DATABASE", "sqlite"):
            assert needle not in response.text, needle
        assert all(value.startswith("!") for value in out["files"].values()), out["files"]
        assert sorted(out["environ"]) == sorted(FUNCTION_ENV)
        assert out["proc"]["1/environ"] == "!PermissionError"  # its own init, not the host's
        assert out[f"kill_{server.process.pid}"] == "ProcessLookupError"
        # Bombs end as named errors for the function, never for the server.
        sync_deploy(server, key, "bomb", {"main.py": BOMB}, timeout_s="2", memory_mb="128")
        fork = sync_invoke(server, key, "bomb", "fork").json()["error"]
        # Copies whose own fork fails exit and free their pids, so the first process may fork
        # on until its timeout (see test_processes.py); the pids limit held either way.
        assert fork in ("FunctionResourceLimit", "FunctionOutOfMemory", "FunctionTimedOut")
        assert sync_invoke(server, key, "bomb", "memory").json()["error"] == "FunctionOutOfMemory"
        assert server.process.poll() is None, "the server died"
        assert httpx.get(f"{server.url}/readyz", timeout=5).status_code == 200
        sync_deploy(server, key, "hello", HELLO)
        assert sync_invoke(server, key, "hello", {"name": "x"}).json() == {"hello": "x"}
        seen = descendants(server.process.pid)
        assert seen, "the server's sandbox processes should be visible while it runs"
    finally:
        clean = stop_server(server)
    assert clean, server.log_path.read_text()
    assert_server_left_nothing(server, seen)
    assert os.environ.get("SANDLOT_ESCAPE_TEST_SECRET") is None
