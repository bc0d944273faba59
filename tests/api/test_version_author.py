"""Who deployed each version (`deployed_by`), through the real app on SQLite and PostgreSQL:
a signed-in person by login, an API key by its name, and nobody for versions made before
the column existed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import update

from sandlot.domain.models import Role
from sandlot.storage.tables import VersionRow
from tests.api.identity_helpers import (
    PASSWORD,
    bare,
    create_user,
    key_of_user,
    namespace_with_member,
    run_sql,
    sign_in,
)
from tests.conftest import HELLO, Api, open_api

ADMIN_PASSWORD = "admin-password-for-the-author-tests"


@pytest.fixture
async def api(tmp_path: Path, database_url: str) -> AsyncIterator[Api]:
    async with open_api(
        tmp_path / "data", database_url, bootstrap_admin_password=ADMIN_PASSWORD
    ) as opened:
        yield opened


async def _authors(api: Api) -> list[tuple[int, str | None]]:
    answer = await api.client.get("/api/v1/functions/fn/versions")
    assert answer.status_code == 200, answer.text
    return [(item["number"], item["deployed_by"]) for item in answer.json()["items"]]


async def test_a_key_is_named_and_a_session_by_its_login(api: Api) -> None:
    created = await api.deploy("fn", HELLO)
    assert created.status_code == 201, created.text
    assert created.json()["config"]["deployed_by"] == "key:bootstrap admin"

    await create_user(api, "ada")
    namespace_id = await namespace_with_member(api, "default", "ada", Role.DEVELOPER)
    async with bare(api) as client:
        browser = await sign_in(client, "ada", PASSWORD)
        configured = await browser.request("PUT", "/api/v1/functions/fn", json={"memory_mb": 512})
        assert configured.status_code == 200, configured.text
        assert configured.json()["config"]["deployed_by"] == "ada"

    # A key a person made names the key, not the person: the key is what deployed.
    key = await key_of_user(api, "ada", namespace_id, Role.DEVELOPER)
    by_key = await api.client.put(
        "/api/v1/functions/fn",
        json={"timeout_s": 20},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert by_key.status_code == 200, by_key.text

    assert await _authors(api) == [(3, "key:ada's key"), (2, "ada"), (1, "key:bootstrap admin")]
    one = await api.client.get("/api/v1/functions/fn/versions/2")
    assert one.json()["deployed_by"] == "ada"


async def test_versions_from_before_have_no_author(api: Api) -> None:
    assert (await api.deploy("fn", HELLO)).status_code == 201
    # What migration 0010 leaves on every version that existed before it.
    await run_sql(api, update(VersionRow).values(deployed_by=None))
    assert await _authors(api) == [(1, None)]
    function = await api.client.get("/api/v1/functions/fn")
    assert function.json()["config"]["deployed_by"] is None
