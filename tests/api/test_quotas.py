"""Quotas through the app, in real sandboxes, on SQLite and PostgreSQL: each stops the
namespace that goes over it with `QuotaExceeded` and its numbers, while a second namespace
goes on unaffected; only the platform admin sets them; the report shows the use."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import event

from sandlot.domain.ids import api_key_prefix, hash_api_key, new_api_key
from sandlot.domain.models import Role
from sandlot.storage.keys import ApiKeyRepo, NamespaceRepo
from tests.conftest import HELLO, Api, open_api, zip_bytes

SLOW = {
    "main.py": "import time\ndef handler(event, context):\n    time.sleep(event)\n    return 1\n"
}


@dataclass
class Team:
    """A namespace with a key of its own, talking to the same app."""

    name: str
    client: httpx.AsyncClient

    async def deploy(self, name: str, files: dict[str, str], **fields: str) -> httpx.Response:
        return await self.client.post(
            "/api/v1/functions",
            data={"name": name, **fields},
            files={"code": ("code.zip", zip_bytes(files), "application/zip")},
        )

    async def invoke(self, name: str, event: object = None) -> httpx.Response:
        return await self.client.post(f"/api/v1/functions/{name}/invoke", json=event)

    async def quota(self) -> dict[str, Any]:
        answer = await self.client.get(f"/api/v1/namespaces/{self.name}/quota")
        assert answer.status_code == 200, answer.text
        quotas: dict[str, Any] = answer.json()["quotas"]
        return quotas


async def _key(api: Api, namespace: str, role: Role, *, create: bool) -> str:
    """A key made through storage: until namespaces can be created over the API, tests make
    them this way."""
    async with api.runtime.database.sessions.begin() as session:
        namespaces = NamespaceRepo(session)
        found = await namespaces.get_by_name(namespace)
        made = await namespaces.create(namespace) if create or found is None else found
        key, _ = new_api_key()
        await ApiKeyRepo(session).create(
            namespace_id=made.id,
            name=f"{role.value} of {namespace}",
            role=role,
            prefix=api_key_prefix(key) or "test",
            key_hash=hash_api_key(key),
        )
    return key


@pytest.fixture
async def teams(api: Api) -> AsyncIterator[tuple[Team, Team]]:
    async with _teams(api) as made:
        yield made


@asynccontextmanager
async def _teams(api: Api) -> AsyncIterator[tuple[Team, Team]]:
    clients = []
    for name in ("team-a", "team-b"):
        key = await _key(api, name, Role.DEVELOPER, create=True)
        clients.append(
            httpx.AsyncClient(
                transport=api.client._transport,
                base_url=str(api.client.base_url),
                headers={"Authorization": f"Bearer {key}"},
                timeout=60,
            )
        )
    try:
        yield Team("team-a", clients[0]), Team("team-b", clients[1])
    finally:
        for client in clients:
            await client.aclose()


async def _set(api: Api, namespace: str, **limits: int | None) -> httpx.Response:
    answer = await api.client.put(f"/api/v1/namespaces/{namespace}/quota", json=limits)
    assert answer.status_code == 200, answer.text
    return answer


def _exceeded(answer: httpx.Response, quota: str, status: int) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert body["error"] == "QuotaExceeded"
    detail: dict[str, Any] = body["detail"]
    assert detail["quota"] == quota
    return detail


async def test_the_functions_quota_stops_one_namespace_only(
    api: Api, teams: tuple[Team, Team]
) -> None:
    a, b = teams
    await _set(api, "team-a", functions=1)
    assert (await a.deploy("one", HELLO)).status_code == 201
    refused = _exceeded(await a.deploy("two", HELLO), "functions", 403)
    assert (refused["limit"], refused["used"], refused["would_be"]) == (1, 1, 2)
    for name in ("one", "two"):
        assert (await b.deploy(name, HELLO)).status_code == 201
    # A deleted function gives its place back.
    assert (await a.client.delete("/api/v1/functions/one")).status_code == 204
    assert (await a.deploy("two", HELLO)).status_code == 201


async def test_creates_at_once_do_not_both_take_the_last_place(
    tmp_path: Path, database_url: str
) -> None:
    # Without code and environment quotas nothing locks the namespace before the insert:
    # the count after it must still hold, without a deadlock on PostgreSQL.
    unlimited = {"quota_code_mb": None, "quota_env_kb": None}
    async with (
        open_api(tmp_path / "data", database_url, **unlimited) as api,
        _teams(api) as (
            a,
            _,
        ),
    ):
        await _set(api, "team-a", functions=3)
        assert (await a.deploy("first", HELLO)).status_code == 201
        racing = await asyncio.gather(*(a.deploy(f"race-{i}", HELLO) for i in range(4)))
        statuses = sorted(answer.status_code for answer in racing)
        assert statuses == [201, 201, 403, 403], [answer.text for answer in racing]


async def test_the_rate_quota_answers_429_with_retry_after(
    api: Api, teams: tuple[Team, Team]
) -> None:
    a, b = teams
    for team in teams:
        assert (await team.deploy("fn", HELLO)).status_code == 201
    # One call under the default caches the version's spec; setting the quota invalidates it.
    assert (await a.invoke("fn")).status_code == 200
    await _set(api, "team-a", rate_per_minute=2)
    assert [(await a.invoke("fn")).status_code for _ in range(2)] == [200, 200]
    assert (await a.quota())["rate_per_minute"]["used"] == 2  # the burst, spent
    refused = await a.invoke("fn")
    detail = _exceeded(refused, "rate_per_minute", 429)
    assert detail["limit"] == 2
    # A token comes back every 30 s at 2 a minute: the answer says to wait about that long.
    assert 1 <= int(refused.headers["retry-after"]) <= 30
    assert detail["retry_after_s"] == int(refused.headers["retry-after"])
    assert [(await b.invoke("fn")).status_code for _ in range(5)] == [200] * 5
    metrics = (await api.client.get("/metrics")).text
    assert 'sandlot_quota_refusals_total{namespace="team-a",quota="rate_per_minute"} 1.0' in metrics
    assert 'namespace="team-b"' not in metrics


async def test_the_concurrency_quota_answers_429(api: Api, teams: tuple[Team, Team]) -> None:
    a, b = teams
    for team in teams:
        assert (await team.deploy("slow", SLOW)).status_code == 201
    await _set(api, "team-a", concurrency=1)
    busy = asyncio.create_task(a.invoke("slow", 3))
    while (await a.quota())["concurrency"]["used"] < 1:
        await asyncio.sleep(0.01)  # until the first call is held
    refused = await a.invoke("slow", 0)
    detail = _exceeded(refused, "concurrency", 429)
    assert (detail["limit"], detail["used"]) == (1, 1)
    assert refused.headers["retry-after"] == "1"
    other = await asyncio.gather(b.invoke("slow", 0), b.invoke("slow", 0))
    assert [answer.status_code for answer in other] == [200, 200]
    assert (await busy).status_code == 200
    assert (await a.invoke("slow", 0)).status_code == 200  # its slot came back


async def test_the_memory_quota_counts_live_instances(api: Api, teams: tuple[Team, Team]) -> None:
    a, b = teams
    await _set(api, "team-a", memory_mb=200)
    too_big = await a.deploy("big", HELLO, memory_mb="256")
    detail = _exceeded(too_big, "memory_mb", 403)
    assert (detail["limit"], detail["would_be"]) == (200, 256)
    for name in ("first", "second"):
        assert (await a.deploy(name, SLOW, memory_mb="128")).status_code == 201
        assert (await b.deploy(name, SLOW, memory_mb="128")).status_code == 201
    busy = asyncio.create_task(a.invoke("first", 3))
    while (await a.quota())["memory_mb"]["used"] < 128:
        await asyncio.sleep(0.01)  # until its instance is charged
    refused = await a.invoke("second", 0)
    detail = _exceeded(refused, "memory_mb", 429)
    assert (detail["limit"], detail["used"], detail["would_be"]) == (200, 128, 256)
    assert refused.headers["retry-after"] == "1"
    both = await asyncio.gather(b.invoke("first", 0), b.invoke("second", 0))
    assert [answer.status_code for answer in both] == [200, 200]
    assert (await busy).status_code == 200
    # "first" is idle now: it is evicted to make room for "second" in the namespace.
    assert (await a.invoke("second", 0)).status_code == 200
    assert (await a.quota())["memory_mb"]["used"] == 128


async def test_the_code_and_environment_quotas_count_the_whole_namespace(
    api: Api, teams: tuple[Team, Team]
) -> None:
    a, b = teams
    await _set(api, "team-a", code_mb=1, env_kb=1)
    big = {**HELLO, "blob.bin": os.urandom(400 * 1024).hex()}
    # Hex digits deflate to about half: 400 KB of zip each, so the third is over 1 MB.
    for name in ("c1", "c2"):
        assert (await a.deploy(name, big)).status_code == 201
    detail = _exceeded(await a.deploy("c3", big), "code_mb", 403)
    assert detail["limit"] == 1 and detail["would_be"] > 1 >= detail["used"]
    assert (await b.deploy("c3", big)).status_code == 201

    value = "x" * 600
    assert (await a.deploy("e1", HELLO, env=f'{{"A": "{value}"}}')).status_code == 201
    refused = await a.deploy("e2", HELLO, env=f'{{"B": "{value}"}}')
    detail = _exceeded(refused, "env_kb", 403)
    assert detail["limit"] == 1 and detail["would_be"] > 1
    # A new version of the same function replaces its old environment, it does not add.
    changed = await a.client.put("/api/v1/functions/e1", json={"env": {"A": value + "y"}})
    assert changed.status_code == 200, changed.text
    assert (await b.deploy("e2", HELLO, env=f'{{"B": "{value}"}}')).status_code == 201
    # Under a limit lowered below the use, a change that does not grow the use still passes.
    await _set(api, "team-a", env_kb=0)
    same = await a.client.put("/api/v1/functions/e1", json={"timeout_s": 10})
    assert same.status_code == 200, same.text
    grows = await a.client.put("/api/v1/functions/e1", json={"env_set": {"C": "1"}})
    _exceeded(grows, "env_kb", 403)


async def test_a_limit_below_the_use_is_set_with_a_warning(
    api: Api, teams: tuple[Team, Team]
) -> None:
    a, _ = teams
    for name in ("one", "two"):
        assert (await a.deploy(name, HELLO)).status_code == 201
    answer = (await _set(api, "team-a", functions=1)).json()
    assert len(answer["warnings"]) == 1 and answer["warnings"][0].startswith("functions:")
    assert answer["quotas"]["functions"] == {
        "limit": 1,
        "used": 2,
        "unit": "functions",
        "default": False,
    }
    assert (await a.invoke("one")).status_code == 200  # nothing running is stopped
    _exceeded(await a.deploy("three", HELLO), "functions", 403)
    # Back to the default: no warning, and room again.
    back = (await _set(api, "team-a", functions=None)).json()
    assert back["warnings"] == [] and back["quotas"]["functions"]["default"] is True
    assert back["quotas"]["functions"]["limit"] == api.settings.quota_functions
    assert (await a.deploy("three", HELLO)).status_code == 201


async def test_only_the_platform_admin_sets_quotas(api: Api, teams: tuple[Team, Team]) -> None:
    a, _ = teams
    invoker = await _key(api, "team-a", Role.INVOKER, create=False)
    for headers in ({}, {"Authorization": f"Bearer {invoker}"}):
        client = a.client if not headers else api.client
        answer = await client.put(
            "/api/v1/namespaces/team-a/quota", json={"functions": 1000}, headers=headers
        )
        assert answer.status_code == 403, answer.text
        assert answer.json()["error"] == "PermissionDenied"
    # Every member reads its own namespace's quotas; another namespace is not there for it.
    mine = await api.client.get(
        "/api/v1/namespaces/team-a/quota", headers={"Authorization": f"Bearer {invoker}"}
    )
    assert mine.status_code == 200
    assert mine.json()["quotas"]["functions"]["limit"] == api.settings.quota_functions
    assert (await a.client.get("/api/v1/quota")).json()["namespace"] == "team-a"
    for path in ("/api/v1/namespaces/team-b/quota", "/api/v1/namespaces/nobody/quota"):
        hidden = await a.client.get(path)
        assert hidden.status_code == 404
        assert hidden.json()["error"] == "NamespaceNotFound"
    missing = await api.client.put("/api/v1/namespaces/nobody/quota", json={"functions": 1})
    assert missing.status_code == 404


async def test_bad_quota_values_are_named_4xx(api: Api, teams: tuple[Team, Team]) -> None:
    del teams
    bodies: list[object] = [
        {"functions": -1},
        {"functions": 2**31},
        {"functions": "ten"},
        {"functions": True},
        {"functions": 1.5},
        {"memory": 100},
        [],
    ]
    for body in bodies:
        answer = await api.client.put("/api/v1/namespaces/team-a/quota", json=body)
        assert answer.status_code == 422, (body, answer.text)
        assert answer.json()["error"] == "ValidationError"
    bad_name = await api.client.get("/api/v1/namespaces/" + "n" * 300 + "/quota")
    assert bad_name.status_code == 404
    nul = await api.client.get("/api/v1/namespaces/a%00b/quota")
    assert nul.status_code == 404


async def test_the_report_shows_use_against_each_limit(api: Api, teams: tuple[Team, Team]) -> None:
    a, b = teams
    assert (await a.deploy("fn", HELLO, env='{"GREETING": "hi"}')).status_code == 201
    assert (await a.invoke("fn")).status_code == 200
    quotas = await a.quota()
    assert set(quotas) == {
        "functions",
        "memory_mb",
        "concurrency",
        "rate_per_minute",
        "code_mb",
        "env_kb",
    }
    assert quotas["functions"]["used"] == 1
    assert quotas["memory_mb"]["used"] == 256  # its idle instance, at the default size
    assert quotas["concurrency"]["used"] == 0
    assert quotas["rate_per_minute"]["used"] >= 0  # refills 1000 a second: maybe full again
    assert 0 < quotas["code_mb"]["used"] < 0.01
    assert quotas["env_kb"]["used"] == round(len("GREETING" + "hi" + "=\0") / 1024, 6)
    assert all(quota["default"] for quota in quotas.values())
    untouched = await b.quota()
    assert untouched["functions"]["used"] == 0 and untouched["memory_mb"]["used"] == 0


async def test_warm_calls_read_no_quota_from_the_database(
    api: Api, teams: tuple[Team, Team]
) -> None:
    a, _ = teams
    await _set(api, "team-a", concurrency=50, rate_per_minute=100, memory_mb=4096)
    assert (await a.deploy("fn", HELLO)).status_code == 201
    assert (await a.invoke("fn")).status_code == 200  # caches the spec, with its limits
    statements: list[str] = []

    def seen(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        statements.append(statement)

    engine = api.runtime.database.engine.sync_engine
    event.listen(engine, "before_cursor_execute", seen)
    try:
        for _ in range(20):
            assert (await a.invoke("fn")).status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert not [sql for sql in statements if "quotas" in sql or "namespaces" in sql]
    assert (await a.quota())["rate_per_minute"]["used"] >= 1  # yet every call was counted
