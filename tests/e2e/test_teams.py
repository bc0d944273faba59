"""Issue 10's whole story on a real server process, on SQLite and PostgreSQL: the platform
admin signs in, makes two namespaces and a person in each; each person deploys and invokes in
their own namespace only; quotas stop one namespace with named errors while the other goes on;
a function reads a secret that no answer, log line, audit event, metric or database row
reveals; and the audit log holds all of it."""

from __future__ import annotations

import asyncio
import hashlib
import io
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.conftest import LiveServer, start_server, stop_server

ADMIN_PASSWORD = "platform admin passphrase 1"
PASSWORDS = {"alice": "alice's long passphrase", "bob": "bob's long passphrase"}
SECRET_VALUE = "pg-password-7f3a91c2e4"
READER = (
    "import hashlib, os\n"
    "def handler(event, context):\n"
    "    value = os.environ['DB_PASSWORD']\n"
    "    print('connecting with', value)\n"
    "    return {'sha256': hashlib.sha256(value.encode()).hexdigest()}\n"
)
HELLO = "def handler(event, context):\n    return {'hello': 'world'}\n"


def _zip(source: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("main.py", source)
    return buffer.getvalue()


class Person:
    """A signed-in browser session: the cookie, and the CSRF token sent on every change.
    Every answer it gets is kept, so the test can search them all for what must not leak."""

    def __init__(self, url: str, login: str, password: str, seen: list[str]) -> None:
        self.client = httpx.Client(base_url=url, timeout=120)
        self.seen = seen
        answer = self.client.post("/api/v1/auth/login", json={"login": login, "password": password})
        assert answer.status_code == 200, answer.text
        self.token = answer.cookies["sandlot_session"]
        self.csrf = answer.json()["csrf_token"]
        self.seen.append(answer.text)

    def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"X-CSRF-Token": self.csrf, **kwargs.pop("headers", {})}
        answer = self.client.request(method, path, headers=headers, **kwargs)
        self.seen.append(answer.text)
        return answer

    def deploy(self, name: str, source: str, **fields: str) -> httpx.Response:
        files = {"code": ("code.zip", _zip(source), "application/zip")}
        return self.call("POST", "/api/v1/functions", data={"name": name, **fields}, files=files)


@pytest.fixture
def server(tmp_path: Path, database_url: str) -> Iterator[LiveServer]:
    env = {"SANDLOT_DATABASE_URL": database_url, "SANDLOT_BOOTSTRAP_ADMIN_PASSWORD": ADMIN_PASSWORD}
    live = start_server(tmp_path / "data", env)
    try:
        yield live
    finally:
        stop_server(live)


def test_two_teams_share_one_sandlot(server: LiveServer, database_url: str) -> None:
    seen: list[str] = []
    admin = Person(server.url, "admin", ADMIN_PASSWORD, seen)
    for team, login in (("team-a", "alice"), ("team-b", "bob")):
        assert admin.call("POST", "/api/v1/namespaces", json={"name": team}).status_code == 201
        made = admin.call(
            "POST", "/api/v1/users", json={"login": login, "password": PASSWORDS[login]}
        )
        assert made.status_code == 201, made.text
        member = {"login": login, "role": "developer"}
        added = admin.call("POST", f"/api/v1/namespaces/{team}/members", json=member)
        assert added.status_code == 201, added.text
    limits = {"functions": 1, "rate_per_minute": 3}
    assert admin.call("PUT", "/api/v1/namespaces/team-a/quota", json=limits).status_code == 200

    alice = Person(server.url, "alice", PASSWORDS["alice"], seen)
    bob = Person(server.url, "bob", PASSWORDS["bob"], seen)
    secret = alice.call("PUT", "/api/v1/secrets/DB_PASSWORD", json={"value": SECRET_VALUE})
    assert secret.status_code == 200, secret.text
    deployed = alice.deploy("reader", READER, secrets='["DB_PASSWORD"]')
    assert deployed.status_code == 201 and deployed.json()["config"]["state"] == "ready"

    # The function reads the secret; the answer and the logs never show it.
    called = alice.call("POST", "/api/v1/functions/reader/invoke", json={})
    assert called.status_code == 200, called.text
    assert called.json() == {"sha256": hashlib.sha256(SECRET_VALUE.encode()).hexdigest()}
    logs = alice.call(
        "GET", f"/api/v1/invocations/{called.headers['X-Sandlot-Invocation-Id']}/logs"
    )
    assert "connecting with ***" in logs.text

    # Quotas stop team-a, by name and numbers; team-b is not touched.
    refused = alice.deploy("second", HELLO)
    assert refused.status_code == 403, refused.text
    assert refused.json()["error"] == "QuotaExceeded"
    assert refused.json()["detail"]["quota"] == "functions"
    assert refused.json()["detail"]["limit"] == 1
    answers = [alice.call("POST", "/api/v1/functions/reader/invoke", json={}) for _ in range(3)]
    limited = [answer for answer in answers if answer.status_code == 429]
    assert limited and limited[0].json()["error"] == "QuotaExceeded"
    assert limited[0].json()["detail"]["quota"] == "rate_per_minute"
    assert int(limited[0].headers["Retry-After"]) >= 1
    for name in ("one", "two"):
        assert bob.deploy(name, HELLO).status_code == 201
    for _ in range(5):
        assert bob.call("POST", "/api/v1/functions/one/invoke", json={}).status_code == 200

    # Each person works in their own namespace only: the other's is not there at all.
    assert bob.call("GET", "/api/v1/functions/reader").status_code == 404
    elsewhere = bob.call("GET", "/api/v1/functions", headers={"X-Sandlot-Namespace": "team-a"})
    assert elsewhere.status_code == 404 and elsewhere.json()["error"] == "NamespaceNotFound"
    assert bob.call("GET", "/api/v1/secrets/DB_PASSWORD").status_code == 404
    assert [f["name"] for f in bob.call("GET", "/api/v1/functions").json()["items"]] == [
        "one",
        "two",
    ]
    assert alice.call("GET", "/api/v1/audit").status_code == 403  # developers don't read it

    # The audit log shows all of it, with who and from where.
    events = admin.call("GET", "/api/v1/audit", params={"limit": 200}).json()["items"]
    done = {(event["actor"], event["action"]) for event in events}
    assert {
        ("user:admin", "namespace.create"),
        ("user:admin", "user.create"),
        ("user:admin", "member.add"),
        ("user:admin", "quota.set"),
        ("user:alice", "secret.set"),
        ("user:alice", "function.create"),
        ("user:bob", "function.create"),
    } <= done
    assert {"login"} <= {event["action"] for event in events}
    by_people = [event for event in events if event["actor"].startswith("user:")]
    assert by_people and {event["address"] for event in by_people} == {"127.0.0.1"}

    # The platform admin, signed in, reads the metrics (the console's operator pages do).
    metrics = admin.call("GET", "/metrics")
    assert metrics.status_code == 200 and "sandlot_" in metrics.text
    assert bob.call("GET", "/metrics").status_code == 403
    for person in (admin, alice, bob):
        person.client.close()
    _assert_nothing_leaks(server, database_url, seen, [admin, alice, bob])


def _assert_nothing_leaks(
    server: LiveServer, database_url: str, seen: list[str], people: list[Person]
) -> None:
    """No secret value, password or session token in any answer, the server's log, its data
    dir or its database (the secret key file aside: it is the key, not a secret)."""
    forbidden = [SECRET_VALUE, ADMIN_PASSWORD, *PASSWORDS.values()]
    forbidden += [person.token for person in people]
    places = {"answers": "\n".join(seen), "server log": server.log_path.read_text(errors="replace")}
    for path in server.data_dir.rglob("*"):
        if path.is_file() and path.name != "secret.key" and path.stat().st_size < 64 << 20:
            places[str(path)] = path.read_bytes().decode("latin-1")
    places["database"] = _database_text(database_url)
    for value in forbidden:
        found = [place for place, content in places.items() if value in content]
        assert not found, f"{value[:6]}… is in {found}"


def _database_text(url: str) -> str:
    """Every cell of every table, as the database holds it."""

    async def dump() -> str:
        engine = create_async_engine(url)
        cells: list[str] = []
        try:
            async with engine.connect() as conn:
                tables = await conn.run_sync(lambda sync: inspect(sync).get_table_names())
                for table in tables:
                    rows = await conn.execute(text(f'SELECT * FROM "{table}"'))  # noqa: S608
                    cells.extend(_cell_text(cell) for row in rows for cell in row)
        finally:
            await engine.dispose()
        return "\n".join(cells)

    return asyncio.run(dump())


def _cell_text(cell: object) -> str:
    if isinstance(cell, bytes | memoryview):
        return bytes(cell).decode("latin-1")
    return str(cell)
