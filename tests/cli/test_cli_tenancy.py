"""`sandlot namespaces`, `sandlot members` and the new `sandlot keys` options, end to end: a
real `sandlot` process against a real server."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sandlot.storage.db import make_engine, make_sessionmaker
from sandlot.storage.tables import UserRow
from tests.cli.test_cli_e2e import Cli
from tests.conftest import LiveServer

pytestmark = pytest.mark.slow


@pytest.fixture
def cli(live_server: LiveServer, tmp_path: Path) -> Cli:
    return Cli(live_server, tmp_path)


def add_users(server: LiveServer, *logins: str) -> None:
    """People on the server's database (the identity part's `sandlot users` makes them)."""

    async def insert() -> None:
        engine = make_engine(f"sqlite+aiosqlite:///{(server.data_dir / 'sandlot.db').resolve()}")
        async with make_sessionmaker(engine).begin() as session:
            for login in logins:
                session.add(
                    UserRow(
                        id=str(uuid.uuid4()),
                        login=login,
                        display_name=login.title(),
                        password_hash="not-a-hash",
                        platform_admin=False,
                        created_at=datetime.now(UTC),
                    )
                )
        await engine.dispose()

    asyncio.run(insert())


def test_namespaces_and_members(cli: Cli, live_server: LiveServer) -> None:
    add_users(live_server, "olivia", "dana")
    cli.ok("namespaces", "create", "team-x", "--display-name", "Team X", "--owner", "olivia")
    listed = cli.json("namespaces", "list", "--json")["items"]
    assert [n["name"] for n in listed] == ["default", "team-x"]
    assert "Team X" in cli.ok("namespaces", "list")
    shown = cli.json("namespaces", "show", "team-x", "--json")
    assert (shown["display_name"], shown["role"]) == ("Team X", "admin")
    renamed = cli.json("namespaces", "rename", "team-x", "The X team", "--json")
    assert renamed["display_name"] == "The X team"

    cli.ok("members", "add", "team-x", "dana", "developer")
    cli.ok("members", "set-role", "team-x", "dana", "viewer")
    members = cli.json("members", "list", "team-x", "--json")["items"]
    assert [(m["login"], m["role"]) for m in members] == [("dana", "viewer"), ("olivia", "owner")]
    assert "olivia" in cli.ok("members", "list", "team-x")
    last = cli.run("members", "remove", "team-x", "olivia")
    assert last.returncode == 1 and "LastNamespaceOwner" in last.stderr
    bad = cli.run("members", "add", "team-x", "olivia", "boss")
    assert bad.returncode == 1 and "InvalidRole" in bad.stderr
    cli.ok("members", "remove", "team-x", "dana")
    assert [m["login"] for m in cli.json("members", "list", "team-x", "--json")["items"]] == [
        "olivia"
    ]

    protected = cli.run("namespaces", "delete", "default", "--yes")
    assert protected.returncode == 1 and "DefaultNamespaceProtected" in protected.stderr
    cli.ok("namespaces", "delete", "team-x", "--yes")
    assert [n["name"] for n in cli.json("namespaces", "list", "--json")["items"]] == ["default"]
    deleted = cli.json("namespaces", "list", "--deleted", "--json")["items"]
    assert [n["name"] for n in deleted if n["deleted_at"]] == ["team-x"]


def test_keys_with_functions_expiry_and_last_use(cli: Cli) -> None:
    created = cli.json(
        "keys",
        "create",
        "--name",
        "deployer",
        "--role",
        "developer",
        "--function",
        "alpha",
        "--function",
        "beta",
        "--expires-in-days",
        "5",
        "--json",
    )
    assert created["functions"] == ["alpha", "beta"] and created["expires_at"]
    table = cli.ok("keys", "list")
    assert "LAST USED" in table and "alpha, beta" in table
    # The limited key sees no function outside its list, and may not make keys (not an owner).
    listed = cli.json("functions", "list", "--json", key=created["key"])
    assert listed["items"] == []
    refused = cli.run("keys", "create", "--name", "x", "--role", "viewer", key=created["key"])
    assert refused.returncode == 1 and "PermissionDenied" in refused.stderr
