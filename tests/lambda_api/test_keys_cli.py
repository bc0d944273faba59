"""`sandlot keys create` prints the key as the AWS tools take it, and that pair works with the
AWS CLI: for a key made through the server, and for an offline key written to its database."""

from __future__ import annotations

import configparser
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import LiveServer
from tests.lambda_api.conftest import AwsCli, KeyPair, lambda_client


def _sandlot(server: LiveServer, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SANDLOT_")}
    env.update(SANDLOT_URL=server.url, SANDLOT_API_KEY=server.api_key, COLUMNS="300")
    done = subprocess.run(
        [sys.executable, "-m", "sandlot.cli.main", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done


def _profile(stderr: str) -> configparser.SectionProxy:
    block = stderr[stderr.index("[sandlot]") :].split("\n\n")[0]
    parsed = configparser.ConfigParser()
    parsed.read_string(block)
    return parsed["sandlot"]


def test_keys_create_prints_a_profile_the_aws_cli_uses(
    server: LiveServer, aws: AwsCli, tmp_path: Path
) -> None:
    done = _sandlot(server, "keys", "create", "--name", "aws-cli", "--role", "viewer")
    key = done.stdout.strip()  # stdout is the key alone, as before
    assert key.startswith("sl_") and "\n" not in key
    profile = _profile(done.stderr)
    assert profile["aws_secret_access_key"] == key
    assert key.startswith(profile["aws_access_key_id"] + "_")
    assert f"--endpoint-url {server.url}" in done.stderr
    assert "region = us-east-1" in done.stderr
    aws.pair = KeyPair(profile["aws_access_key_id"], key)
    assert aws.json("list-functions")["Functions"] == []


def test_an_offline_key_signs_too(server: LiveServer, database_url: str) -> None:
    # Sealed by the command itself, with the data dir's secrets key that the server holds.
    done = _offline(server, database_url)
    key = done.stdout.strip()
    profile = _profile(done.stderr)
    pair = KeyPair(profile["aws_access_key_id"], key)
    assert lambda_client(server, pair).list_functions()["Functions"] == []


def _offline(server: LiveServer, database_url: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SANDLOT_")}
    env.update(SANDLOT_DATABASE_URL=database_url, COLUMNS="300")
    command = [sys.executable, "-m", "sandlot.cli.main", "--data-dir", str(server.data_dir)]
    done = subprocess.run(
        [*command, "keys", "create", "--offline", "--role", "admin", "--name", "rescue"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done
