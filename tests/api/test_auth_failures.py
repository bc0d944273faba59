"""Failed authentication: counted, logged without the key, limited per address, and cheap."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy import event

from tests.conftest import ADMIN_KEY, Api, open_api

WRONG = "sl_abcd1234_" + "s" * 43  # a well-formed key that nobody created
SECRET_PART = "s" * 43


@asynccontextmanager
async def _client_from(api: Api, address: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client whose requests come from `address` (no key of its own)."""
    transport = httpx.ASGITransport(app=api.client._transport.app, client=(address, 40000))  # type: ignore[attr-defined]
    async with httpx.AsyncClient(transport=transport, base_url="http://sandlot.test") as client:
        yield client


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@contextmanager
def _key_lookups(api: Api) -> Iterator[list[str]]:
    """Every statement that reads API keys from the app's own database, as it runs."""
    seen: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if "api_keys" in statement and statement.lstrip().upper().startswith("SELECT"):
            seen.append(statement)

    engine = api.runtime.database.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


async def _metric(api: Api, name: str) -> float:
    text = (await api.client.get("/metrics")).text
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def test_failures_are_counted_and_logged_without_the_key(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="sandlot.services.authenticator")
    async with _client_from(api, "127.0.0.7") as caller:
        for headers in ({}, {"Authorization": "Basic abc"}, _bearer(WRONG), _bearer(WRONG)):
            for path in ("/api/v1/functions", "/api/v1/functions/x/invoke"):
                answer = await caller.post(path, headers=headers)
                assert answer.status_code == 401 and answer.json()["error"] == "Unauthenticated"
    assert await _metric(api, 'sandlot_auth_failures_total{reason="missing"}') == 2
    assert await _metric(api, 'sandlot_auth_failures_total{reason="malformed"}') == 2
    assert await _metric(api, 'sandlot_auth_failures_total{reason="unknown"}') == 4
    lines = [r.getMessage() for r in caplog.records if "authentication failed" in r.getMessage()]
    assert len(lines) == 1, lines  # one line a minute per address, however many failures
    assert "127.0.0.7" in lines[0]
    assert SECRET_PART not in caplog.text and WRONG not in caplog.text


async def test_an_address_with_too_many_wrong_keys_gets_429(
    tmp_path: Path, database_url: str
) -> None:
    async with open_api(tmp_path / "data", database_url, auth_failure_limit="3/minute") as api:
        await api.deploy("hello", {"main.py": "def handler(event, context):\n    return 1\n"})
        async with (
            _client_from(api, "127.0.0.8") as guesser,
            _client_from(api, "127.0.0.9") as other,
        ):
            for attempt in range(3):
                wrong = _bearer(f"sl_guess{attempt}_{'x' * 40}")
                assert (await guesser.get("/api/v1/functions", headers=wrong)).status_code == 401
            for path, method in (
                ("/api/v1/functions", "GET"),
                ("/api/v1/functions/hello/invoke", "POST"),
            ):
                for key in (WRONG, ADMIN_KEY):  # right or wrong: the answer tells nothing
                    limited = await guesser.request(method, path, headers=_bearer(key))
                    assert limited.status_code == 429, limited.text
                    assert limited.json()["error"] == "TooManyAuthFailures"
                    assert 1 <= int(limited.headers["retry-after"]) <= 60
            served = await other.post("/api/v1/functions/hello/invoke", headers=_bearer(ADMIN_KEY))
            assert served.status_code == 200  # another address is not affected
        assert await _metric(api, "sandlot_auth_rate_limited_total") == 4


async def test_a_flood_of_bad_keys_reads_each_key_once(tmp_path: Path, database_url: str) -> None:
    async with open_api(
        tmp_path / "data", database_url, auth_failure_limit="100000/minute", auth_miss_ttl_s=300
    ) as api:
        bad_keys = [f"sl_flood{n}_{'f' * 40}" for n in range(5)]
        async with _client_from(api, "127.0.0.10") as flooder:
            with _key_lookups(api) as lookups:
                for _ in range(20):
                    for key in bad_keys:
                        invoke = await flooder.post(
                            "/api/v1/functions/x/invoke", headers=_bearer(key)
                        )
                        listing = await flooder.get("/api/v1/functions", headers=_bearer(key))
                        assert invoke.status_code == listing.status_code == 401
        assert len(lookups) == len(bad_keys)


async def test_creating_a_key_forgets_that_it_was_unknown(api: Api) -> None:
    from sandlot.domain.ids import hash_api_key
    from sandlot.domain.models import Role
    from sandlot.storage.keys import ApiKeyRepo

    authenticator = api.runtime.authenticator
    principal = await authenticator.authenticate(_bearer(ADMIN_KEY)["Authorization"], "127.0.0.1")
    later = "sl_later00_" + "l" * 40
    refused = await api.client.get("/api/v1/functions", headers=_bearer(later))
    assert refused.status_code == 401  # now remembered as unknown
    async with api.runtime.database.sessions.begin() as session:
        await ApiKeyRepo(session).create(
            namespace_id=principal.namespace_id,
            name="later",
            role=Role.INVOKER,
            prefix="later00",
            key_hash=hash_api_key(later),
        )
    with _key_lookups(api) as lookups:
        still = await api.client.get("/api/v1/functions", headers=_bearer(later))
    assert still.status_code == 401 and lookups == []  # the miss is cached: no read
    authenticator.key_created(later)  # what POST /keys does after its commit
    accepted = await api.client.get("/api/v1/functions", headers=_bearer(later))
    assert accepted.status_code == 200, accepted.text


async def test_a_key_made_through_the_api_works_at_once(api: Api) -> None:
    created = await api.client.post("/api/v1/keys", json={"name": "ci", "role": "invoker"})
    assert created.status_code == 201
    key = created.json()["key"]
    assert (await api.client.get("/api/v1/functions", headers=_bearer(key))).status_code == 200
