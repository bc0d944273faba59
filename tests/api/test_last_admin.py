"""Nobody gets locked out: the last active admin key of a namespace is never revoked."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import text, update

from sandlot.storage.db import make_engine
from sandlot.storage.tables import ApiKeyRow
from tests.conftest import Api


async def _admin_ids(api: Api, auth: dict[str, str] | None = None) -> list[str]:
    """The namespace's active admin keys, as a key that still works lists them."""
    items = (await api.client.get("/api/v1/keys", headers=auth)).json()["items"]
    return [k["id"] for k in items if k["role"] == "admin" and k["revoked_at"] is None]


async def _new_key(api: Api, name: str, role: str) -> tuple[str, dict[str, str]]:
    created = await api.client.post("/api/v1/keys", json={"name": name, "role": role})
    assert created.status_code == 201, created.text
    return created.json()["id"], {"Authorization": f"Bearer {created.json()['key']}"}


async def test_the_last_admin_key_cannot_revoke_itself(api: Api) -> None:
    [bootstrap] = await _admin_ids(api)
    refused = await api.client.delete(f"/api/v1/keys/{bootstrap}")
    assert refused.status_code == 409, refused.text
    assert refused.json()["error"] == "LastAdminKey"
    assert refused.json()["detail"]["key_id"] == bootstrap
    assert (await api.client.get("/api/v1/keys")).status_code == 200  # still works
    # Other roles go as before, and so does an admin that is not the last one.
    developer, _ = await _new_key(api, "ci", "developer")
    assert (await api.client.delete(f"/api/v1/keys/{developer}")).status_code == 204
    second, second_auth = await _new_key(api, "second admin", "admin")
    assert (await api.client.delete(f"/api/v1/keys/{bootstrap}")).status_code == 204
    again = await api.client.delete(f"/api/v1/keys/{second}", headers=second_auth)
    assert (again.status_code, again.json()["error"]) == (409, "LastAdminKey")
    assert await _admin_ids(api, second_auth) == [second]
    # Revoking a revoked key stays a no-op, not a conflict.
    assert (
        await api.client.delete(f"/api/v1/keys/{bootstrap}", headers=second_auth)
    ).status_code == 204


async def _lock_waiters(conn_url: str) -> int:
    """Backends of this database waiting for a row lock (PostgreSQL)."""
    engine = make_engine(conn_url)
    try:
        async with engine.connect() as conn:
            query = (
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            return int((await conn.execute(text(query))).scalar_one())
    finally:
        await engine.dispose()


# PostgreSQL only: SQLite runs one writer at a time, so the race needs PostgreSQL's.
@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_two_admins_revoking_each_other_at_once_leave_one(
    api: Api, database_url: str
) -> None:
    [first] = await _admin_ids(api)
    second, second_auth = await _new_key(api, "second admin", "admin")
    # The first admin's revocation of the second, in a transaction held open here...
    engine = make_engine(database_url)
    try:
        async with engine.connect() as conn:
            held = await conn.begin()
            revoke_second = update(ApiKeyRow).where(ApiKeyRow.id == second)
            await conn.execute(revoke_second.values(revoked_at=datetime.now(UTC)))
            # ...while the second admin revokes the first through the API.
            call = asyncio.ensure_future(
                api.client.delete(f"/api/v1/keys/{first}", headers=second_auth)
            )
            while not call.done() and await _lock_waiters(database_url) == 0:
                await asyncio.sleep(0.01)  # until the call waits for the admin rows, or ends
            await held.commit()
            response: httpx.Response = await call
    finally:
        await engine.dispose()
    assert (response.status_code, response.json()["error"]) == (409, "LastAdminKey")
    assert await _admin_ids(api) == [first]
