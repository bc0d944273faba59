"""`sandlot login` against a real server: the stored key file is 0600 and used by the next
command, `--namespace` reaches the server, `sandlot logout` revokes the key, `sandlot users`
manages people; and nothing the run used (passwords, session tokens) is in the server's log."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import ADMIN_KEY, LiveServer, start_server, stop_server

ADMIN_PASSWORD = "live-admin-password"
ALICE_PASSWORD = "alice in wonderland"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    live = start_server(tmp_path / "data", {"SANDLOT_BOOTSTRAP_ADMIN_PASSWORD": ADMIN_PASSWORD})
    try:
        yield live
    finally:
        stop_server(live)


def _cli(
    server: LiveServer, config: Path, *args: str, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("SANDLOT_API_KEY", "SANDLOT_NAMESPACE")
    }
    env.update(
        SANDLOT_URL=server.url,
        XDG_CONFIG_HOME=str(config),
        SANDLOT_DATA_DIR=str(config / "no-data-dir"),  # no admin.key to fall back on
    )
    return subprocess.run(
        [sys.executable, "-m", "sandlot.cli.main", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def test_login_stores_a_0600_key_that_the_next_command_uses(
    server: LiveServer, tmp_path: Path
) -> None:
    config = tmp_path / "config"
    without = _cli(server, config, "functions", "list")
    assert without.returncode == 1 and "sandlot login" in without.stderr
    signed = _cli(server, config, "login", stdin=f"admin\n{ADMIN_PASSWORD}\n")
    assert signed.returncode == 0, signed.stderr
    assert "namespace default" in signed.stdout
    path = config / "sandlot" / "credentials.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    stored = json.loads(path.read_text())["servers"][server.url.lower()]
    assert stored["default"] == "default"
    key = stored["keys"]["default"]["key"]
    assert (_cli(server, config, "functions", "list")).returncode == 0

    # Users through the CLI, passwords from stdin.
    made = _cli(server, config, "users", "create", "alice", stdin=f"{ALICE_PASSWORD}\n")
    assert made.returncode == 0, made.stderr
    weak = _cli(server, config, "users", "create", "bob", stdin="short\n")
    assert weak.returncode == 1 and "WeakPassword" in weak.stderr + weak.stdout
    listed = _cli(server, config, "users", "list", "--json")
    assert [u["login"] for u in json.loads(listed.stdout)["items"]] == ["admin", "alice"]
    assert _cli(server, config, "users", "disable", "alice").returncode == 0
    refused = _cli(server, config, "login", "--user", "alice", stdin=f"{ALICE_PASSWORD}\n")
    assert refused.returncode == 1 and "Unauthenticated" in refused.stderr + refused.stdout
    assert _cli(server, config, "users", "enable", "alice").returncode == 0
    reset = _cli(server, config, "users", "reset-password", "alice", stdin="a new password!\n")
    assert reset.returncode == 0, reset.stderr

    # --namespace is sent on every request: one that does not exist is a named 404.
    elsewhere = _cli(server, config, "--namespace", "nowhere", "functions", "list")
    assert elsewhere.returncode == 1 and "NamespaceNotFound" in elsewhere.stderr + elsewhere.stdout

    # Logging out revokes the key on the server and forgets it here.
    out = _cli(server, config, "logout")
    assert out.returncode == 0, out.stderr
    assert "default" not in json.loads(path.read_text())["servers"].get(server.url.lower(), {})
    gone = httpx.get(f"{server.url}/api/v1/functions", headers={"Authorization": f"Bearer {key}"})
    assert gone.status_code == 401

    # An existing key stored with --key works the same way; logging out forgets it but
    # does not revoke it (it was not made by `sandlot login`).
    given = _cli(server, config, "login", "--key", stdin=f"{ADMIN_KEY}\n")
    assert given.returncode == 0, given.stderr
    assert (_cli(server, config, "functions", "list")).returncode == 0
    assert _cli(server, config, "logout").returncode == 0
    kept = httpx.get(
        f"{server.url}/api/v1/functions", headers={"Authorization": f"Bearer {ADMIN_KEY}"}
    )
    assert kept.status_code == 200
    assert (_cli(server, config, "functions", "list")).returncode == 1

    # `login -n NAMESPACE --user NAME` reads only the password from stdin.
    again = _cli(
        server, config, "login", "-n", "default", "--user", "admin", stdin=f"{ADMIN_PASSWORD}\n"
    )
    assert again.returncode == 0, again.stderr
    assert (_cli(server, config, "-n", "default", "functions", "list")).returncode == 0

    # Nothing secret reached the server's log: not the passwords, not a session token.
    log = server.log_path.read_text(errors="replace")
    for secret in (ADMIN_PASSWORD, ALICE_PASSWORD, "a new password!", key):
        assert secret not in log


def test_secure_cookie_behind_a_trusted_https_proxy(server: LiveServer) -> None:
    body = {"login": "admin", "password": ADMIN_PASSWORD}
    plain = httpx.post(f"{server.url}/api/v1/auth/login", json=body)
    assert plain.status_code == 200 and "secure" not in plain.headers["set-cookie"].lower()
    # Uvicorn trusts X-Forwarded-Proto from its forwarded_allow_ips (127.0.0.1 by default).
    proxied = httpx.post(
        f"{server.url}/api/v1/auth/login", json=body, headers={"X-Forwarded-Proto": "https"}
    )
    assert proxied.status_code == 200 and "secure" in proxied.headers["set-cookie"].lower()
    token = proxied.cookies.get("sandlot_session") or plain.cookies.get("sandlot_session")
    assert token
    wrong = httpx.post(
        f"{server.url}/api/v1/auth/login", json={"login": "admin", "password": "not-it-at-all"}
    )
    assert wrong.status_code == 401
    metrics = httpx.get(f"{server.url}/metrics", headers={"Authorization": f"Bearer {ADMIN_KEY}"})
    assert metrics.status_code == 200 and "sandlot_auth_failures_total" in metrics.text
    log = server.log_path.read_text(errors="replace")
    for everything in (log, metrics.text):
        assert ADMIN_PASSWORD not in everything and token not in everything
        assert "not-it-at-all" not in everything
