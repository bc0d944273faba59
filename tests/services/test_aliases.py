"""Alias moves, their history and rollback, on a real SQLite file and a real PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from sandlot.domain.aliases import LATEST, Route, single
from sandlot.domain.errors import (
    AliasNotFound,
    AliasVersionNotReady,
    InvalidAliasName,
    InvalidAliasRoutes,
    NothingToRollBack,
)
from sandlot.domain.models import Function, Principal, Role, VersionConfig
from sandlot.domain.states import VersionState
from sandlot.services import aliases
from sandlot.storage.db import make_engine, make_sessionmaker
from sandlot.storage.functions import CodeBlobRepo, FunctionRepo, VersionRepo
from sandlot.storage.keys import NamespaceRepo

CONFIG = VersionConfig(handler="main.handler", memory_mb=128, timeout_s=5, env={})


@pytest.fixture
async def session(migrated_url: str) -> AsyncIterator[AsyncSession]:
    engine = make_engine(migrated_url)
    async with make_sessionmaker(engine)() as session:
        yield session
    await engine.dispose()


async def _function(session: AsyncSession, ready: int, pending: int = 0) -> Function:
    """A function with `ready` ready versions (latest the newest of them), then `pending`."""
    namespace = await NamespaceRepo(session).create("team")
    functions = FunctionRepo(session)
    function = await functions.create(namespace.id, "hello")
    await CodeBlobRepo(session).put("c" * 64, b"zip")
    for index in range(ready + pending):
        number = await functions.next_version_number(function.id)
        await VersionRepo(session).create(
            function=function,
            number=number,
            config=CONFIG,
            code_sha256="c" * 64,
            code_size=3,
            state=VersionState.READY if index < ready else VersionState.PENDING,
        )
        if index < ready:
            moved, before = await functions.set_latest(function.id, number)
            assert moved
            await aliases.latest_advanced(
                session, function=function, before=before, after=number, actor="key:ci"
            )
    return await functions.get(namespace.id, "hello")


def _principal(function: Function) -> Principal:
    return Principal(
        key_id="k1", namespace_id=function.namespace_id, namespace="team", role=Role.DEVELOPER
    )


async def _routes(session: AsyncSession, function: Function, name: str) -> list[tuple[int, int]]:
    refreshed = await FunctionRepo(session).get(function.namespace_id, function.name)
    info = await aliases.get_alias(session, refreshed, name)
    return [(route.version, route.weight) for route in info.routes]


async def test_moves_are_checked_recorded_and_rolled_back_like_an_undo_stack(
    session: AsyncSession,
) -> None:
    function = await _function(session, ready=4, pending=1)
    who = _principal(function)
    made, created = await aliases.set_alias(
        session, principal=who, function=function, name="prod", routes=single(1)
    )
    assert created and made.routes == single(1) and not made.builtin
    split = (Route(3, 10), Route(2, 90))
    changed, created = await aliases.set_alias(
        session, principal=who, function=function, name="prod", routes=split
    )
    assert not created and changed.routes == split  # newest version first
    # A release's steps count as one change for a rollback.
    for weight, reason in ((50, "release"), (100, "promote")):
        routes = single(3) if weight == 100 else (Route(3, weight), Route(2, 100 - weight))
        await aliases.move(
            session,
            function=function,
            alias="prod",
            routes=routes,
            actor="sandlot",
            reason=reason,
            release_id="r1",
        )
    listed = await aliases.list_aliases(session, function)
    assert [(a.name, a.builtin) for a in listed] == [(LATEST, True), ("prod", False)]

    with pytest.raises(AliasVersionNotReady):
        await aliases.move(
            session, function=function, alias="prod", routes=single(5), actor="x", reason="set"
        )
    with pytest.raises(AliasVersionNotReady):
        await aliases.move(
            session, function=function, alias="prod", routes=single(9), actor="x", reason="set"
        )
    with pytest.raises(InvalidAliasRoutes):
        await aliases.set_alias(
            session, principal=who, function=function, name="prod", routes=(Route(3, 60),)
        )
    with pytest.raises(InvalidAliasName):
        await aliases.set_alias(
            session, principal=who, function=function, name=LATEST, routes=single(2)
        )

    # Undo the release (back to the split it started from), then the split, then nothing.
    expected = [[(3, 10), (2, 90)], [(1, 100)]]
    for want in expected:
        target = await aliases.rollback_target(session, function, "prod", None)
        await aliases.rollback(
            session, principal=who, function=function, name="prod", target=target
        )
        assert await _routes(session, function, "prod") == want
    with pytest.raises(NothingToRollBack):
        await aliases.rollback_target(session, function, "prod", None)
    target = await aliases.rollback_target(session, function, "prod", 4)
    await aliases.rollback(session, principal=who, function=function, name="prod", target=target)
    assert await _routes(session, function, "prod") == [(4, 100)]

    entries, cursor = await aliases.history(session, function, alias="prod", limit=3, cursor=None)
    assert [e.reason for e in entries] == ["rollback", "rollback", "rollback"]
    assert entries[0].after == single(4) and entries[0].actor == "key:k1"
    rest, end = await aliases.history(session, function, alias="prod", limit=50, cursor=cursor)
    assert [e.reason for e in rest] == ["promote", "release", "set", "set"]
    assert end is None and rest[-1].before == ()

    await aliases.delete_alias(session, principal=who, function=function, name="prod")
    with pytest.raises(AliasNotFound):
        await aliases.get_alias(session, function, "prod")
    entries, _ = await aliases.history(session, function, alias="prod", limit=1, cursor=None)
    assert entries[0].reason == "delete" and entries[0].after == ()


async def test_latest_rolls_back_and_the_next_deploy_moves_it_forward(
    session: AsyncSession,
) -> None:
    function = await _function(session, ready=3)
    who = _principal(function)
    target = await aliases.rollback_target(session, function, LATEST, None)
    assert target == single(2)
    await aliases.rollback(session, principal=who, function=function, name=LATEST, target=target)
    assert await _routes(session, function, LATEST) == [(2, 100)]
    target = await aliases.rollback_target(session, function, LATEST, None)
    assert target == single(1)
    with pytest.raises(InvalidAliasRoutes):
        await aliases.move(
            session,
            function=function,
            alias=LATEST,
            routes=(Route(2, 50), Route(1, 50)),
            actor="x",
            reason="set",
        )
    # A newer ready version moves latest forward again, and says so in the history.
    functions = FunctionRepo(session)
    number = await functions.next_version_number(function.id)
    await VersionRepo(session).create(
        function=function,
        number=number,
        config=CONFIG,
        code_sha256="c" * 64,
        code_size=3,
        state=VersionState.READY,
    )
    assert await functions.set_latest(function.id, number) == (True, 2)
    entries, _ = await aliases.history(session, function, alias=LATEST, limit=10, cursor=None)
    assert [e.reason for e in entries] == ["rollback", "deploy", "deploy", "deploy"]
    assert entries[0].before == single(3) and entries[0].after == single(2)
