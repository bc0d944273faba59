"""Schemathesis against the real server's OpenAPI document: every check, every phase.

Bounded by examples per operation and steps per stateful scenario (schemathesis.toml), not
by time, so that a run tests the same amount on a fast and a slow machine; the seed is
fixed so that a failure reproduces (set SANDLOT_SCHEMATHESIS_SEED to explore others).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.conftest import ADMIN_KEY, start_server, stop_server, zip_bytes

pytestmark = pytest.mark.slow

HERE = Path(__file__).parent
REPO = HERE.parents[1]
ECHO = {"main.py": "def handler(event, context):\n    return event\n"}
SEED = os.environ.get("SANDLOT_SCHEMATHESIS_SEED", "20261201")
# The run's own budget; a hang past it is a failure, not a stuck CI job. It grows with the
# API (77 operations; on PostgreSQL the run took over 120 s, the suite's default timeout).
RUN_TIMEOUT_S = 480


def _prepare(url: str) -> dict[str, str]:
    """Deploy the function the invoke calls reach; make the admin key the run uses."""
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}) as admin:
        deployed = admin.post(
            "/api/v1/functions",
            data={"name": "echo"},
            files={"code": ("code.zip", zip_bytes(ECHO), "application/zip")},
        )
        assert deployed.status_code == 201, deployed.text
        key = admin.post("/api/v1/keys", json={"name": "schemathesis", "role": "admin"})
        assert key.status_code == 201, key.text
    created: dict[str, str] = key.json()
    return created


@pytest.mark.timeout(RUN_TIMEOUT_S + 120)  # the server's start and the run itself
async def test_schemathesis_finds_nothing(tmp_path: Path, database_url: str) -> None:
    # Its auth checks send a wrong key to every route: under the default limit (30 a minute
    # per address) the rest of the run would only meet 429s, and test nothing else.
    env = {"SANDLOT_DATABASE_URL": database_url, "SANDLOT_AUTH_FAILURE_LIMIT": "100000/minute"}
    server = start_server(tmp_path / "data", env)
    try:
        key = _prepare(server.url)
        command = [
            str(Path(sys.executable).with_name("schemathesis")),
            "--config-file",
            str(HERE / "schemathesis.toml"),
            "run",
            f"{server.url}/openapi.json",
            "--checks",
            "all",
            "--phases",
            "examples,coverage,fuzzing,stateful",
            "--seed",
            SEED,
            "--header",
            f"Authorization: Bearer {key['key']}",
            "--no-color",
        ]
        env = {
            **os.environ,
            "PYTHONPATH": str(REPO),
            "SANDLOT_SCHEMATHESIS_KEY_ID": key["id"],
        }
        run = subprocess.run(
            command,
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT_S,
            check=False,
        )
        report = run.stdout + run.stderr
        assert run.returncode == 0, report[-20_000:]
        counted = re.search(r"(\d+) generated, (\d+) passed", report)
        assert counted is not None, report[-5_000:]
        assert counted.group(1) == counted.group(2) and int(counted.group(1)) > 500, counted[0]
        # It ran with its own key to the end: the key still works.
        with httpx.Client(base_url=server.url) as client:
            still = client.get("/api/v1/keys", headers={"Authorization": f"Bearer {key['key']}"})
            assert still.status_code == 200, still.text
    finally:
        stop_server(server)
