"""Repositories on a real SQLite file and a real PostgreSQL server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from sandlot.domain.errors import (
    ApiKeyNotFound,
    FunctionAlreadyExists,
    FunctionNotFound,
    InvalidTransition,
    InvocationNotFound,
    VersionNotFound,
)
from sandlot.domain.ids import new_invocation_id
from sandlot.domain.models import Invocation, Role, VersionConfig
from sandlot.domain.states import InvocationState, VersionState
from sandlot.storage.credentials import key_grant
from sandlot.storage.db import make_engine, make_sessionmaker
from sandlot.storage.functions import CodeBlobRepo, FunctionRepo, VersionRepo
from sandlot.storage.invocations import InvocationRepo
from sandlot.storage.keys import ApiKeyRepo, NamespaceRepo

CONFIG = VersionConfig(handler="main.handler", memory_mb=128, timeout_s=5, env={"A": "1"})


@pytest.fixture
async def session(migrated_url: str) -> AsyncIterator[AsyncSession]:
    engine = make_engine(migrated_url)
    async with make_sessionmaker(engine)() as session:
        yield session
    await engine.dispose()


async def test_namespace_and_keys(session: AsyncSession) -> None:
    namespace = await NamespaceRepo(session).create("team-a")
    keys = ApiKeyRepo(session)
    key = await keys.create(
        namespace_id=namespace.id, name="ci", role=Role.DEVELOPER, prefix="abcd", key_hash="h" * 64
    )
    grant = await key_grant(session, "h" * 64, datetime.now(UTC))
    assert grant is not None
    principal, expires_at = grant
    assert (principal.namespace, principal.role, expires_at) == ("team-a", Role.DEVELOPER, None)
    revoked = await keys.revoke(namespace_id=namespace.id, key_id=key.id)
    assert revoked.revoked_at is not None
    assert await key_grant(session, "h" * 64, datetime.now(UTC)) is None
    with pytest.raises(ApiKeyNotFound):
        await keys.revoke(namespace_id="other", key_id=key.id)


async def _function(session: AsyncSession, name: str = "hello") -> tuple[str, FunctionRepo]:
    namespace = await NamespaceRepo(session).create(f"ns-{name}")
    functions = FunctionRepo(session)
    await functions.create(namespace.id, name)
    return namespace.id, functions


async def test_function_names_are_unique_among_live_functions(session: AsyncSession) -> None:
    namespace_id, functions = await _function(session)
    await session.commit()
    with pytest.raises(FunctionAlreadyExists):
        await functions.create(namespace_id, "hello")
    await session.rollback()
    await functions.mark_deleted(namespace_id, "hello")
    with pytest.raises(FunctionNotFound):
        await functions.get(namespace_id, "hello")
    again = await functions.create(namespace_id, "hello")  # a deleted name can be reused
    assert again.latest_version is None


async def test_versions_are_numbered_and_latest_moves_forward(session: AsyncSession) -> None:
    namespace_id, functions = await _function(session)
    function = await functions.get(namespace_id, "hello")
    await CodeBlobRepo(session).put("c" * 64, b"zip")
    await CodeBlobRepo(session).put("c" * 64, b"zip")  # stored once
    versions = VersionRepo(session)
    for _ in range(3):
        number = await functions.next_version_number(function.id)
        await versions.create(
            function=function,
            number=number,
            config=CONFIG,
            code_sha256="c" * 64,
            code_size=3,
            state=VersionState.PENDING,
        )
    await versions.move(function, 3, VersionState.BUILDING)
    await versions.move(function, 3, VersionState.READY)
    await functions.set_latest(function.id, 3)
    await functions.set_latest(function.id, 2)  # an older build finishing late changes nothing
    assert (await functions.get(namespace_id, "hello")).latest_version == 3
    listed = await versions.of_function(function)
    assert [v.number for v in listed] == [3, 2, 1]
    assert listed[0].config == CONFIG
    with pytest.raises(InvalidTransition):
        await versions.move(function, 3, VersionState.PENDING)
    with pytest.raises(VersionNotFound):
        await versions.get(function, 9)
    assert await CodeBlobRepo(session).get("c" * 64) == b"zip"


def _invocation(namespace_id: str, state: InvocationState, name: str = "hello") -> Invocation:
    now = datetime.now(UTC)
    return Invocation(
        id=new_invocation_id(),
        namespace_id=namespace_id,
        function_id="f1",
        function_name=name,
        version=1,
        trigger="http",
        state=state,
        cold_start=False,
        created_at=now,
        finished_at=now,
        duration_ms=1.5,
        timings={"handler_ms": 1.0},
        log_excerpt="hi",
    )


async def test_invocations_page_newest_first_with_filters(session: AsyncSession) -> None:
    repo = InvocationRepo(session)
    made = [_invocation("ns", InvocationState.SUCCEEDED) for _ in range(5)]
    made.append(_invocation("ns", InvocationState.FAILED, name="other"))
    made.append(_invocation("elsewhere", InvocationState.SUCCEEDED))
    await repo.add_finished([(inv, '{"ok": true}', "log text") for inv in made])
    page = await repo.page("ns", function_name=None, state=None, limit=4, cursor=None)
    assert len(page.items) == 4 and page.next_cursor is not None
    rest = await repo.page("ns", function_name=None, state=None, limit=4, cursor=page.next_cursor)
    assert len(rest.items) == 2 and rest.next_cursor is None
    ids = [inv.id for inv in page.items + rest.items]
    assert ids == sorted(ids, reverse=True)
    failed = await repo.page(
        "ns", function_name=None, state=InvocationState.FAILED, limit=10, cursor=None
    )
    assert [inv.function_name for inv in failed.items] == ["other"]
    one = await repo.get("ns", made[0].id)
    assert one.result == {"ok": True}
    assert one.created_at.tzinfo is not None
    assert await repo.logs("ns", made[0].id) == "log text"
    with pytest.raises(InvocationNotFound):
        await repo.get("ns", made[-1].id)  # another namespace's invocation
