"""`sandlot serve --role api` refuses, in one line and with exit code 2, what a cluster cannot
run on: SQLite, and no (or a short) cluster secret; it writes nothing before that."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import POSTGRES_URL


def _serve(data_dir: Path, *args: str, **env_vars: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SANDLOT_")}
    env.update({"SANDLOT_DATA_DIR": str(data_dir), "COLUMNS": "300", **env_vars})
    return subprocess.run(
        [sys.executable, "-m", "sandlot.cli.main", "serve", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("args", "env_vars", "says"),
    [
        (["--role", "api"], {}, "needs PostgreSQL"),
        ([], {"SANDLOT_ROLE": "api"}, "needs PostgreSQL"),
        (["--role", "api"], {"SANDLOT_DATABASE_URL": POSTGRES_URL}, "SANDLOT_CLUSTER_SECRET"),
        (
            ["--role", "api"],
            {"SANDLOT_DATABASE_URL": POSTGRES_URL, "SANDLOT_CLUSTER_SECRET": "too short"},
            "(this one has 9)",
        ),
    ],
)
def test_role_api_refuses_what_a_cluster_cannot_run_on(
    tmp_path: Path, args: list[str], env_vars: dict[str, str], says: str
) -> None:
    data_dir = tmp_path / "data"
    done = _serve(data_dir, *args, **env_vars)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and says in lines[0], done.stderr
    assert "sandlot serve --role api" in lines[0]
    assert not data_dir.exists()


def test_an_unknown_role_is_a_usage_error(tmp_path: Path) -> None:
    done = _serve(tmp_path / "data", "--role", "worker")
    assert done.returncode == 2
    assert "'worker' is not one of 'all', 'api'" in done.stderr
