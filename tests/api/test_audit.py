"""The audit log through the API: each control-plane change writes one event (who, what, when,
from where) in its own transaction; owners read their namespace's, the admin everything."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from sandlot.domain.audit import UnsafeAuditDetail
from sandlot.domain.ids import hash_api_key, new_api_key
from sandlot.domain.models import Principal, Role
from sandlot.services import audit, auth
from sandlot.storage.keys import ApiKeyRepo, NamespaceRepo
from sandlot.storage.tables import AuditEventRow
from tests.conftest import ADMIN_KEY, HELLO, Api, open_api, zip_bytes

ADMIN_ADDRESS = "198.51.100.7"


@asynccontextmanager
async def _caller(api: Api, key: str, address: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client with `key` whose requests come from `address`."""
    app = api.client._transport.app  # type: ignore[attr-defined]
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    async with httpx.AsyncClient(
        transport=transport,
        base_url="http://sandlot.test",
        headers={"Authorization": f"Bearer {key}"},
        timeout=60,
    ) as client:
        yield client


async def _events(client: httpx.AsyncClient, **params: Any) -> list[dict[str, Any]]:
    answer = await client.get("/api/v1/audit", params={"limit": 200, **params})
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


async def _admin_key_id(api: Api) -> str:
    keys = (await api.client.get("/api/v1/keys")).json()["items"]
    (admin,) = [key["id"] for key in keys if key["name"] == "bootstrap admin"]
    return str(admin)


def _zip_part(source: dict[str, str] = HELLO) -> dict[str, tuple[str, bytes, str]]:
    return {"code": ("code.zip", zip_bytes(source), "application/zip")}


async def _count(api: Api) -> int:
    async with api.runtime.database.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(AuditEventRow)) or 0)


async def test_each_control_plane_change_writes_one_event(api: Api) -> None:
    admin_id = await _admin_key_id(api)
    before = datetime.now(UTC)
    async with _caller(api, ADMIN_KEY, ADMIN_ADDRESS) as admin:
        created = await admin.post("/api/v1/functions", data={"name": "hello"}, files=_zip_part())
        assert created.status_code == 201, created.text
        # New code (the same code again would make no version, and no event).
        deployed = await admin.put(
            "/api/v1/functions/hello",
            files=_zip_part({"main.py": HELLO["main.py"] + "# version 2\n"}),
        )
        configured = await admin.put(
            "/api/v1/functions/hello", json={"memory_mb": 256, "env": {"DB": "p4ss"}}
        )
        assert deployed.status_code == configured.status_code == 200, configured.text
        made = await admin.post("/api/v1/keys", json={"name": "ci", "role": "invoker"})
        assert made.status_code == 201
        key = made.json()
        assert (await admin.delete(f"/api/v1/keys/{key['id']}")).status_code == 204
        assert (await admin.delete(f"/api/v1/keys/{key['id']}")).status_code == 204  # no change
        assert (await admin.post("/api/v1/environments/prune")).status_code == 200
        assert (await admin.delete("/api/v1/functions/hello")).status_code == 204
        answer = await admin.get("/api/v1/audit", params={"limit": 200})
    after = datetime.now(UTC)
    events = [e for e in reversed(answer.json()["items"]) if e["actor"] != "system:bootstrap"]
    assert [(e["action"], e["target"]) for e in events] == [
        ("function.create", "function:hello"),
        ("function.deploy", "function:hello"),
        ("function.configure", "function:hello"),
        ("key.create", f"key:{key['id']}"),
        ("key.revoke", f"key:{key['id']}"),
        ("environment.prune", "environments"),
        ("function.delete", "function:hello"),
    ]
    for event in events:
        assert event["actor"] == f"key:{admin_id}" and event["key_id"] == admin_id
        assert event["address"] == ADMIN_ADDRESS
        assert before <= datetime.fromisoformat(event["at"]) <= after
    function_events = [e for e in events if e["action"].startswith("function.")]
    assert {e["namespace"] for e in function_events} == {"default"}
    assert [e["detail"]["version"] for e in function_events[:3]] == [1, 2, 3]
    assert function_events[2]["detail"]["changed"] == ["env", "memory_mb"]
    assert events[3]["detail"] == {
        "name": "ci",
        "role": "invoker",
        "prefix": key["prefix"],
        "functions": None,
        "expires_at": None,
    }
    assert events[5]["namespace"] is None  # environments are the platform's
    # Values never: not the env value, not the new key.
    assert "p4ss" not in answer.text and key["key"] not in answer.text
    # The first start's own events name who made them.
    first = [e for e in answer.json()["items"] if e["actor"] == "system:bootstrap"]
    assert sorted(e["action"] for e in first) == ["key.create", "namespace.create", "user.create"]


async def test_a_change_rolled_back_leaves_no_event(api: Api) -> None:
    before = await _count(api)
    async with api.runtime.database.sessions() as session:
        namespace = await NamespaceRepo(session).get_by_name("default")
        assert namespace is not None
        principal = Principal(
            key_id="k", namespace_id=namespace.id, namespace="default", role=Role.ADMIN
        )
        request = auth.KeyRequest(name="gone", role="invoker")
        await auth.create_key(
            session=session, principal=principal, request=request, keyring=api.runtime.keyring
        )
        written = await session.scalar(select(func.count()).select_from(AuditEventRow))
        assert written == before + 1  # in the transaction, flushed, not committed
        await session.rollback()
    assert await _count(api) == before
    # A change refused halfway through (the last admin key) writes nothing either.
    refused = await api.client.delete(f"/api/v1/keys/{await _admin_key_id(api)}")
    assert refused.status_code == 409 and refused.json()["error"] == "LastAdminKey"
    assert await _count(api) == before


async def test_a_secret_looking_detail_is_a_bug_and_writes_nothing(api: Api) -> None:
    before = await _count(api)
    async with api.runtime.database.sessions() as session:
        for detail in ({"password": "x"}, {"secret_value": "x"}, {"api_key": "x"}):
            with pytest.raises(UnsafeAuditDetail):
                await audit.record(
                    session,
                    principal=None,
                    actor="test",
                    action="user.create",
                    target="t",
                    detail=detail,
                )
        await session.commit()
    assert await _count(api) == before


async def test_a_typed_name_cannot_break_its_event(api: Api) -> None:
    # A failed sign-in names what someone typed: a NUL or a very long name is kept, cut.
    async with api.runtime.database.sessions.begin() as session:
        await audit.record(
            session,
            principal=None,
            actor="login:a\0b" + "x" * 500,
            action="login.failed",
            target="user:a\0b",
            address="a\0",
        )
    (event,) = await _events(api.client, action="login.failed")
    assert event["actor"].startswith("login:a\ufffdb") and len(event["actor"]) == 200
    assert event["target"] == "user:a\ufffdb" and event["address"] == "a\ufffd"


async def test_pages_and_filters(api: Api) -> None:
    for n in range(7):
        assert (await api.client.post("/api/v1/keys", json={"name": f"k{n}"})).status_code == 201
    await api.deploy("hello", HELLO)
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"action": "key.", "limit": 3}
        if cursor:
            params["cursor"] = cursor
        page = (await api.client.get("/api/v1/audit", params=params)).json()
        assert len(page["items"]) <= 3
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 8 == len(set(seen))  # seven keys and the bootstrap key
    assert seen == sorted(seen, reverse=True)  # newest first
    assert [e["action"] for e in await _events(api.client, action="function.")] == [
        "function.create"
    ]
    assert len(await _events(api.client, target="function:hello")) == 1
    bootstrap = await _events(api.client, actor="system:bootstrap")
    assert {e["action"] for e in bootstrap} == {"namespace.create", "key.create", "user.create"}
    assert await _events(api.client, action="key%") == []  # a prefix, not a pattern
    newest = (await _events(api.client))[0]
    later = datetime.fromisoformat(newest["at"]) + timedelta(microseconds=1)
    assert await _events(api.client, since=later.isoformat()) == []
    until_later = await _events(api.client, until=later.isoformat())
    assert until_later[0]["id"] == newest["id"]
    for bad in (
        {"since": "2026-12-01T10:00:00Z", "until": "2026-12-01T09:00:00Z"},
        {"since": "0001-01-01T00:00:00+01:00"},
        {"until": "2026-02-30T00:00:00Z"},
    ):
        answer = await api.client.get("/api/v1/audit", params=bad)
        assert answer.status_code == 400 and answer.json()["error"] == "InvalidInput", answer.text
    invalid: tuple[dict[str, Any], ...] = (
        {"limit": 0},
        {"cursor": "nope"},
        {"action": "x" * 65},
        {"since": "2026-12-01T10:00:00"},  # no zone: refused, not guessed
        {"until": "0.5"},  # not a Unix time either
    )
    for bad in invalid:
        answer = await api.client.get("/api/v1/audit", params=bad)
        assert answer.status_code == 422 and answer.json()["error"] == "ValidationError"
    assert await _events(api.client, actor="a\0b") == []


async def _key_in(api: Api, namespace: str, role: Role) -> str:
    """A key of `role` in `namespace` (made if missing), written as the tenancy part would."""
    key, prefix = new_api_key()
    async with api.runtime.database.sessions.begin() as session:
        namespaces = NamespaceRepo(session)
        found = await namespaces.get_by_name(namespace) or await namespaces.create(namespace)
        await ApiKeyRepo(session).create(
            namespace_id=found.id,
            name=f"{role.value} of {namespace}",
            role=role,
            prefix=prefix,
            key_hash=hash_api_key(key),
        )
    api.runtime.authenticator.key_created(key)
    return key


async def test_an_owner_sees_their_namespace_only(api: Api) -> None:
    owner_a = await _key_in(api, "default", Role.OWNER)
    developer_b, owner_b = (
        await _key_in(api, "team-b", Role.DEVELOPER),
        await _key_in(api, "team-b", Role.OWNER),
    )
    await api.deploy("in-a", HELLO)
    async with _caller(api, developer_b, "203.0.113.2") as dev:
        made = await dev.post("/api/v1/functions", data={"name": "in-b"}, files=_zip_part())
        assert made.status_code == 201, made.text
    async with _caller(api, "sl_nobody00_" + "n" * 40, "203.0.113.9") as stranger:
        assert (await stranger.get("/api/v1/functions")).status_code == 401  # platform-wide
    async with _caller(api, owner_a, "203.0.113.1") as a, _caller(api, owner_b, "x") as b:
        seen_a, seen_b = await _events(a), await _events(b)
        assert {e["namespace"] for e in seen_a} == {"default"}
        assert "function:in-a" in {e["target"] for e in seen_a}
        assert [e["target"] for e in seen_b] == ["function:in-b"]
        assert seen_b[0]["address"] == "203.0.113.2"
        hidden = await a.get("/api/v1/audit", params={"namespace": "team-b"})
        assert hidden.status_code == 404 and hidden.json()["error"] == "NamespaceNotFound"
        same = await a.get("/api/v1/audit", params={"namespace": "default"})
        assert same.status_code == 200 and same.json()["items"] == seen_a
        platform = await a.get("/api/v1/audit", params={"platform": "true"})
        assert platform.status_code == 400
    everything = await _events(api.client)
    assert {"default", "team-b", None} <= {e["namespace"] for e in everything}
    only_b = await _events(api.client, namespace="team-b")
    assert [e["id"] for e in only_b] == [e["id"] for e in seen_b]
    platform_wide = await _events(api.client, platform="true")
    assert [e["action"] for e in platform_wide] == ["auth.failed"]
    missing = await api.client.get("/api/v1/audit", params={"namespace": "nope"})
    assert missing.status_code == 404


@pytest.mark.parametrize("role", [Role.DEVELOPER, Role.INVOKER])
async def test_who_is_not_an_owner_is_refused(api: Api, role: Role) -> None:
    key = await _key_in(api, "default", role)
    async with _caller(api, key, "203.0.113.3") as caller:
        answer = await caller.get("/api/v1/audit")
    assert answer.status_code == 403
    assert answer.json()["error"] == "PermissionDenied"
    assert answer.json()["detail"]["action"] == "audit.read"


async def test_failed_authentication_is_recorded_but_bounded(
    tmp_path: Path, database_url: str
) -> None:
    async with open_api(
        tmp_path / "data",
        database_url,
        auth_failure_limit="100000/minute",
        audit_auth_failure_limit="3/minute",
    ) as api:
        wrong = [f"sl_flood{n:03d}_{uuid.uuid4().hex}{uuid.uuid4().hex}" for n in range(40)]
        async with _caller(api, wrong[0], "192.0.2.1") as flooder:
            for key in wrong:
                answer = await flooder.get(
                    "/api/v1/functions", headers={"Authorization": f"Bearer {key}"}
                )
                assert answer.status_code == 401
        one_address = await _events(api.client, action="auth.failed")
        assert len(one_address) == 1  # one a minute per address, however many failures
        (event,) = one_address
        assert event["actor"] == "key-prefix:flood000" and event["address"] == "192.0.2.1"
        assert event["namespace"] is None and event["detail"] == {"reason": "unknown"}
        for n in range(10):  # many addresses: bounded for all of them together
            async with _caller(api, wrong[n], f"192.0.2.{n + 10}") as other:
                assert (await other.get("/api/v1/functions")).status_code == 401
        everyone = await _events(api.client, action="auth.failed")
        assert len(everyone) == 3
        text = (await api.client.get("/api/v1/audit", params={"limit": 200})).text
        assert not any(key.split("_", 2)[2] in text for key in wrong)


# Every operation that changes state, and the event its test above checks; an invocation is
# recorded in its own history instead. A route added without its audit event fails here.
AUDITED = {
    "POST /api/v1/functions": "function.create",
    "PUT /api/v1/functions/{name}": "function.deploy, function.configure",
    "DELETE /api/v1/functions/{name}": "function.delete",
    "POST /api/v1/keys": "key.create",
    "DELETE /api/v1/keys/{key_id}": "key.revoke",
    "POST /api/v1/environments/prune": "environment.prune",
    "PUT /api/v1/namespaces/{namespace}/quota": "quota.set",
    "PUT /api/v1/namespaces/{namespace}/egress": "namespace.egress-bound",
    "POST /api/v1/namespaces": "namespace.create",
    "POST /api/v1/users": "user.create",
    "PATCH /api/v1/users/{login}": "user.update, user.disable, user.enable",
    "POST /api/v1/users/{login}/password": "user.password",
    "POST /api/v1/auth/login": "login, login.failed",
    "POST /api/v1/auth/logout": "logout",
    "PUT /api/v1/secrets/{name}": "secret.set",
    "DELETE /api/v1/secrets/{name}": "secret.delete",
    "POST /api/v1/secret-key/rotate": "secret.rotate-key",
    "PATCH /api/v1/namespaces/{namespace}": "namespace.update",
    "DELETE /api/v1/namespaces/{namespace}": "namespace.delete",
    "POST /api/v1/namespaces/{namespace}/members": "member.add",
    "PATCH /api/v1/namespaces/{namespace}/members/{login}": "member.update",
    "DELETE /api/v1/namespaces/{namespace}/members/{login}": "member.remove",
    "PUT /api/v1/functions/{name}/test-events/{event_name}": "test_event.save",
    "DELETE /api/v1/functions/{name}/test-events/{event_name}": "test_event.delete",
    "POST /api/v1/functions/{name}/schedules": "schedule.create",
    "PATCH /api/v1/functions/{name}/schedules/{schedule_id}": "schedule.change",
    "DELETE /api/v1/functions/{name}/schedules/{schedule_id}": "schedule.delete",
    "POST /api/v1/functions/{name}/releases": "release.start",
    "POST /api/v1/functions/{name}/releases/{release_id}/pause": "release.pause",
    "POST /api/v1/functions/{name}/releases/{release_id}/resume": "release.resume",
    "POST /api/v1/functions/{name}/releases/{release_id}/promote": "release.promote",
    "POST /api/v1/functions/{name}/releases/{release_id}/abort": "release.abort",
    "PUT /api/v1/functions/{name}/destinations": "function.destinations",
    "POST /api/v1/functions/{name}/deliveries/{delivery_id}/redeliver": "delivery.redeliver",
    "PUT /api/v1/functions/{name}/async-config": "function.async_config",
    "POST /api/v1/invocations/{invocation_id}/cancel": "invocation.cancel",
    "PUT /api/v1/functions/{name}/url": "function_url.set",
    "DELETE /api/v1/functions/{name}/url": "function_url.delete",
    "POST /api/v1/invocations/{invocation_id}/redrive": "invocation.redrive",
    "POST /api/v1/invocations/{invocation_id}/discard": "invocation.discard",
    "POST /api/v1/functions/{name}/dead-letters/redrive": "invocation.redrive-all",
    "POST /api/v1/functions/{name}/dead-letters/discard": "invocation.discard-all",
    "PUT /api/v1/functions/{name}/aliases/{alias}": "alias.set",
    "DELETE /api/v1/functions/{name}/aliases/{alias}": "alias.delete",
    "POST /api/v1/functions/{name}/rollback": "alias.rollback",
    "POST /api/v1/workers/{worker_id}/drain": "worker.drain",  # tests/api/test_workers.py
}
NOT_CONTROL_PLANE = {"POST /api/v1/functions/{name}/invoke"}


async def test_no_state_changing_route_is_forgotten(api: Api) -> None:
    document = (await api.client.get("/openapi.json")).json()
    changing = {
        f"{method.upper()} {path}"
        for path, operations in document["paths"].items()
        for method in operations
        if method in ("post", "put", "patch", "delete")
    }
    assert changing - NOT_CONTROL_PLANE == set(AUDITED), (
        "a state-changing route without an audit test: make it call services.audit.record "
        "and add it to AUDITED"
    )


async def test_a_quota_change_is_recorded_with_its_old_and_new_limits(api: Api) -> None:
    async with _caller(api, ADMIN_KEY, ADMIN_ADDRESS) as admin:
        answer = await admin.put("/api/v1/namespaces/default/quota", json={"functions": 7})
        assert answer.status_code == 200, answer.text
        (event,) = await _events(admin, action="quota.")
    assert event["action"] == "quota.set" and event["target"] == "namespace:default"
    assert event["namespace"] == "default" and event["address"] == ADMIN_ADDRESS
    assert event["detail"]["new"]["functions"] == 7
    assert event["detail"]["old"]["functions"] != 7


async def test_sign_ins_are_recorded_and_a_blank_name_is_a_plain_401(api: Api) -> None:
    made = await api.client.post(
        "/api/v1/users", json={"login": "carol", "password": "carol's long passphrase"}
    )
    assert made.status_code == 201, made.text
    async with _caller(api, "", ADMIN_ADDRESS) as browser:
        browser.headers.pop("Authorization")
        good = await browser.post(
            "/api/v1/auth/login", json={"login": "carol", "password": "carol's long passphrase"}
        )
        blank = await browser.post("/api/v1/auth/login", json={"login": "", "password": "x"})
        wrong = await browser.post("/api/v1/auth/login", json={"login": "carol", "password": "no"})
    assert good.status_code == 200, good.text
    assert blank.status_code == wrong.status_code == 401
    assert blank.json() == wrong.json()  # the same answer, whatever was wrong
    events = await _events(api.client, action="login")
    seen = sorted((event["action"], event["actor"]) for event in events)
    assert seen == [
        ("login", "user:carol"),
        ("login.failed", "login:"),
        ("login.failed", "login:carol"),
    ]
    assert {event["address"] for event in events} == {ADMIN_ADDRESS}
    assert "passphrase" not in str(events)
