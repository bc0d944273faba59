"""/metrics and the detailed /readyz: closed to anonymous callers, open to each way in."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx

from tests.conftest import Api, open_api


@asynccontextmanager
async def _caller(api: Api, address: str = "127.0.0.1") -> AsyncIterator[httpx.AsyncClient]:
    """A client with no key of its own, whose requests come from `address`."""
    app = api.client._transport.app  # type: ignore[attr-defined]
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://sandlot.test") as client:
        yield client


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _is_detailed(answer: httpx.Response) -> bool:
    return answer.status_code == 200 and "sandbox_summary" in answer.json()


async def test_anonymous_callers_get_liveness_and_a_bare_readiness_only(api: Api) -> None:
    async with _caller(api) as anonymous:
        assert (await anonymous.get("/healthz")).json() == {"status": "ok"}
        ready = await anonymous.get("/readyz")
        assert ready.status_code == 200 and ready.json() == {"status": "ready"}
        refused = await anonymous.get("/metrics")
        assert refused.status_code == 401 and refused.json()["error"] == "Unauthenticated"
        assert "sandlot_" not in refused.text
        api.runtime.problems.append("data dir: full")  # as a failing check reports it
        not_ready = await anonymous.get("/readyz")
        assert not_ready.status_code == 503 and not_ready.json() == {"status": "not ready"}


async def test_an_admin_key_may_read_them_and_other_keys_may_not(api: Api) -> None:
    assert (await api.client.get("/metrics")).status_code == 200
    assert _is_detailed(await api.client.get("/readyz"))
    created = await api.client.post("/api/v1/keys", json={"name": "dev", "role": "developer"})
    developer = _bearer(created.json()["key"])
    async with _caller(api) as caller:
        for path in ("/metrics", "/readyz"):
            denied = await caller.get(path, headers=developer)
            assert denied.status_code == 403 and denied.json()["error"] == "PermissionDenied"
            wrong = await caller.get(path, headers=_bearer("sl_nobody00_" + "n" * 40))
            assert wrong.status_code == 401 and wrong.json()["error"] == "Unauthenticated"


async def test_the_monitoring_token_opens_them(tmp_path: Path, database_url: str) -> None:
    token = "scraper-token-" + "t" * 30
    async with (
        open_api(tmp_path / "data", database_url, monitor_token=token) as api,
        _caller(api, "127.0.0.9") as scraper,
    ):
        metrics = await scraper.get("/metrics", headers=_bearer(token))
        assert metrics.status_code == 200 and "sandlot_http_connections" in metrics.text
        assert _is_detailed(await scraper.get("/readyz", headers=_bearer(token)))
        almost = _bearer(token[:-1] + "x")
        assert (await scraper.get("/metrics", headers=almost)).status_code == 401
        assert (await scraper.get("/metrics")).status_code == 401


async def test_allowed_addresses_need_no_credentials(tmp_path: Path, database_url: str) -> None:
    allow = ["127.0.0.0/30", "::1"]
    async with open_api(tmp_path / "data", database_url, monitor_allow=allow) as api:
        for address in ("127.0.0.2", "::1"):
            async with _caller(api, address) as allowed:
                assert (await allowed.get("/metrics")).status_code == 200, address
                assert _is_detailed(await allowed.get("/readyz")), address
        async with _caller(api, "127.0.0.5") as outside:
            assert (await outside.get("/metrics")).status_code == 401
            assert (await outside.get("/readyz")).json() == {"status": "ready"}
