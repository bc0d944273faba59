"""The Lambda API's tests: a real `sandlot serve` on either database, driven by boto3 and the
AWS CLI, both unmodified (their own signer, their own parsers).

Neither ever reads the user's ~/.aws: every test points AWS_CONFIG_FILE and
AWS_SHARED_CREDENTIALS_FILE at files of its own and clears the other AWS_* variables.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import httpx
import pytest
from botocore.config import Config

from tests.conftest import ADMIN_KEY, LiveServer, start_server, stop_server

if TYPE_CHECKING:
    from mypy_boto3_lambda import LambdaClient

REGION = "us-east-1"
AWS_CLI = Path(sys.executable).with_name("aws")
# The bootstrap admin key's pair: its access key id is `sl_<prefix>`.
ADMIN_PAIR = ("sl_testadmin", ADMIN_KEY)


@dataclass(frozen=True)
class KeyPair:
    """A Sandlot key as the AWS tools take it."""

    access_key_id: str
    secret: str  # the whole Sandlot key
    id: str = ""


@pytest.fixture(autouse=True)
def _own_aws_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture
def server(tmp_path: Path, database_url: str) -> Iterator[LiveServer]:
    live = start_server(tmp_path / "data", {"SANDLOT_DATABASE_URL": database_url})
    try:
        yield live
    finally:
        stop_server(live)


def lambda_client(server: LiveServer, pair: KeyPair | tuple[str, str]) -> LambdaClient:
    """boto3's own Lambda client against the server; no retries, so that a test sees the
    first answer (a 429 or 5xx would otherwise be retried by botocore)."""
    access, secret = (pair.access_key_id, pair.secret) if isinstance(pair, KeyPair) else pair
    client: LambdaClient = boto3.session.Session().client(
        "lambda",
        endpoint_url=server.url,
        region_name=REGION,
        aws_access_key_id=access,
        aws_secret_access_key=secret,
        config=Config(retries={"max_attempts": 1, "mode": "standard"}),
    )
    return client


def admin_client(server: LiveServer) -> LambdaClient:
    return lambda_client(server, ADMIN_PAIR)


def make_key(
    server: LiveServer,
    *,
    role: str = "developer",
    functions: list[str] | None = None,
    bearer: str = ADMIN_KEY,
    namespace: str | None = None,
) -> KeyPair:
    """A new key through /api/v1 (sealed for SigV4 as every new key is)."""
    body: dict[str, Any] = {"name": f"lambda-{role}", "role": role}
    if functions is not None:
        body["functions"] = functions
    headers = {"Authorization": f"Bearer {bearer}"}
    if namespace is not None:
        headers["X-Sandlot-Namespace"] = namespace
    answer = httpx.post(f"{server.url}/api/v1/keys", json=body, headers=headers, timeout=30)
    assert answer.status_code == 201, answer.text
    made = answer.json()
    access = made.get("aws_access_key_id") or f"sl_{made['prefix']}"
    return KeyPair(access, made["key"], made["id"])


def make_namespace(server: LiveServer, name: str) -> KeyPair:
    """A second namespace and an admin key of its own."""
    headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
    made = httpx.post(
        f"{server.url}/api/v1/namespaces", json={"name": name}, headers=headers, timeout=30
    )
    assert made.status_code == 201, made.text
    return make_key(server, role="admin", namespace=name)


@dataclass
class AwsCli:
    """`aws lambda ...` against the server, with a profile in this test's own files."""

    server: LiveServer
    home: Path
    pair: KeyPair | tuple[str, str]

    def __call__(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        access, secret = (
            (self.pair.access_key_id, self.pair.secret)
            if isinstance(self.pair, KeyPair)
            else self.pair
        )
        credentials = self.home / "aws-credentials"
        credentials.write_text(
            f"[sandlot]\naws_access_key_id = {access}\naws_secret_access_key = {secret}\n"
        )
        config = self.home / "aws-config"
        config.write_text(f"[profile sandlot]\nregion = {REGION}\noutput = json\n")
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(
            AWS_CONFIG_FILE=str(config),
            AWS_SHARED_CREDENTIALS_FILE=str(credentials),
            AWS_PROFILE="sandlot",
            AWS_EC2_METADATA_DISABLED="true",
            AWS_MAX_ATTEMPTS="1",
            AWS_PAGER="",
        )
        done = subprocess.run(
            [str(AWS_CLI), "lambda", *args, "--endpoint-url", self.server.url],
            capture_output=True,
            text=True,
            env=env,
            cwd=self.home,
            timeout=120,
        )
        if check:
            assert done.returncode == 0, f"aws lambda {args[0]}: {done.stderr}"
        return done

    def json(self, *args: str) -> Any:
        return json.loads(self(*args).stdout or "null")


@pytest.fixture
def aws(server: LiveServer, tmp_path: Path) -> AwsCli:
    home = tmp_path / "aws-home"
    home.mkdir()
    return AwsCli(server, home, ADMIN_PAIR)
