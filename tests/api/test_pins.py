"""Pinned versions: a version an alias or an active release points at is never retired when
`latest` moves on; once nothing pins it, the next move retires it. (The alias rows are
written straight into their table here: this checks the pins, not how aliases are set.)"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import delete

from sandlot.domain.models import Function
from sandlot.services import pins
from sandlot.storage.functions import FunctionRepo
from sandlot.storage.namespaces import NamespaceRepo
from sandlot.storage.release_tables import AliasRow, ReleaseRow
from tests.conftest import HELLO, Api


def _held(api: Api, name: str) -> set[int]:
    """The versions the pool holds instances or a zygote of."""
    return {
        held.version
        for held in api.runtime.pool.stats().versions
        if held.function_name == name and (held.instances or held.zygote)
    }


async def _function(api: Api, name: str) -> Function:
    async with api.runtime.database.sessions() as session:
        namespace = await NamespaceRepo(session).get_by_name("default")
        assert namespace is not None
        return await FunctionRepo(session).get(namespace.id, name)


async def _point(api: Api, function: Function, alias: str, version: int | None) -> None:
    now = datetime.now(UTC)
    async with api.runtime.database.sessions.begin() as session:
        await session.execute(
            delete(AliasRow).where(AliasRow.function_id == function.id, AliasRow.name == alias)
        )
        if version is not None:
            session.add(
                AliasRow(
                    function_id=function.id,
                    name=alias,
                    routes=[{"version": version, "weight": 100}],
                    created_at=now,
                    updated_at=now,
                    updated_by="test",
                )
            )


async def _release(api: Api, function: Function, from_version: int, to_version: int) -> None:
    now = datetime.now(UTC)
    async with api.runtime.database.sessions.begin() as session:
        session.add(
            ReleaseRow(
                id="r-pins",
                function_id=function.id,
                alias="prod",
                from_version=from_version,
                to_version=to_version,
                plan={},
                state="paused",
                step=0,
                step_started_at=now,
                created_by="test",
                created_at=now,
                updated_at=now,
                judged=[],
            )
        )


async def _redeploy(api: Api, name: str, timeout_s: int) -> None:
    answer = await api.client.put(f"/api/v1/functions/{name}", json={"timeout_s": timeout_s})
    assert answer.status_code == 200, answer.text
    await api.runtime.activator.drain()


async def test_aliases_and_releases_pin_versions_until_nothing_points_at_them(api: Api) -> None:
    await api.deploy("fn", HELLO)
    function = await _function(api, "fn")
    assert (await api.invoke("fn")).status_code == 200
    await _point(api, function, "prod", 1)
    await _redeploy(api, "fn", 5)  # latest is 2; prod still serves 1
    assert (await api.invoke("fn")).headers["x-sandlot-version"] == "2"
    assert _held(api, "fn") >= {1, 2}
    kept = await api.invoke("fn", version=1)
    assert kept.headers["x-sandlot-cold-start"] == "false"  # its instance was kept

    await _release(api, function, 1, 3)
    await _point(api, function, "prod", None)
    await _redeploy(api, "fn", 6)  # latest 3; the paused release still pins 1 and 3
    async with api.runtime.database.sessions() as session:
        assert await pins.pinned_versions(session, function) == {1, 3}
    assert 1 in _held(api, "fn") and 2 not in _held(api, "fn")

    async with api.runtime.database.sessions.begin() as session:
        await session.execute(delete(ReleaseRow))
    api.runtime.activator.routes_changed(function)
    await api.runtime.activator.drain()
    assert _held(api, "fn") == {3}
