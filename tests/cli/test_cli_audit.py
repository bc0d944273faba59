"""`sandlot audit` against a real server, and the offline key's event."""

from __future__ import annotations

import getpass
import json
import socket
from pathlib import Path

import httpx
import pytest

from sandlot.domain.audit import AuditFilter
from sandlot.storage.audit import AuditRepo
from sandlot.storage.db import Database
from tests.cli.test_cli_e2e import Cli, function_folder, unique
from tests.cli.test_cli_offline_keys import _offline_key
from tests.conftest import LiveServer

pytestmark = pytest.mark.slow


def test_audit_prints_who_changed_what(live_server: LiveServer, tmp_path: Path) -> None:
    cli = Cli(live_server, tmp_path)
    name = unique("audited")
    folder = function_folder(tmp_path, "def handler(event, context):\n    return 1\n")
    cli.ok("deploy", str(folder), "--name", name)
    made = cli.json("keys", "create", "--name", "ci", "--role", "invoker", "--json")
    cli.ok("keys", "revoke", made["id"])

    table = cli.ok("audit")
    lines = table.splitlines()
    assert lines[0].split() == [
        "WHEN",
        "ACTOR",
        "ACTION",
        "TARGET",
        "NAMESPACE",
        "ADDRESS",
        "DETAIL",
    ]
    revoke, create = lines[1], lines[2]  # newest first
    assert "key.revoke" in revoke and f"key:{made['id']}" in revoke and "127.0.0.1" in revoke
    assert "key.create" in create and '"role": "invoker"' in create
    assert any("function.create" in line and f"function:{name}" in line for line in lines)
    assert made["key"] not in table

    only_functions = cli.json("audit", "--action", "function.", "--json")["items"]
    assert [event["action"] for event in only_functions] == ["function.create"]
    assert only_functions[0]["detail"]["version"] == 1
    recent = cli.json("audit", "--since", "10m", "--limit", "2", "--json")
    assert len(recent["items"]) == 2 and recent["next_cursor"]
    older = cli.json("audit", "--cursor", recent["next_cursor"], "--json")["items"]
    assert older and older[0]["id"] < recent["items"][-1]["id"]
    assert cli.json("audit", "--until", "2000-01-01", "--json")["items"] == []
    bad = cli.run("audit", "--since", "yesterday")
    assert bad.returncode != 0 and "neither a duration" in bad.stderr

    invoker = httpx.post(
        f"{live_server.url}/api/v1/keys",
        json={"name": "reader", "role": "invoker"},
        headers={"Authorization": f"Bearer {live_server.api_key}"},
    ).json()["key"]
    refused = cli.run("audit", key=invoker)
    assert refused.returncode == 1 and "PermissionDenied" in refused.stderr
    server_log = live_server.log_path.read_text(errors="replace")
    assert made["key"] not in server_log and invoker not in server_log


async def test_an_offline_key_is_audited(tmp_path: Path, database_url: str) -> None:
    key, _ = _offline_key(tmp_path / "data", database_url, "rescue")
    database = Database(database_url)
    try:
        async with database.sessions() as session:
            page = await AuditRepo(session).page(AuditFilter(), limit=10, cursor=None)
    finally:
        await database.dispose()
    events = {event.action: event for event in page.items}
    assert set(events) == {"namespace.create", "key.create"}  # no server had made it yet
    made = events["key.create"]
    assert made.actor == f"offline:{getpass.getuser()}"
    assert made.address == f"local:{socket.gethostname()}" and made.key_id is None
    assert made.detail is not None and made.detail["name"] == "rescue"
    assert key not in json.dumps(made.detail) and made.namespace == "default"
