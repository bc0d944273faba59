"""Aliases: list, get, set, delete, roll back, and the deploy history.

Every move of an alias or of `latest` goes through `move`, which writes the history entry
in the caller's transaction. Callers warm the target versions first
(`Activator.make_ready`) and, once committed, call `Activator.routes_changed`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from sandlot.domain.actions import Action
from sandlot.domain.aliases import (
    LATEST,
    Alias,
    AliasChange,
    Route,
    Routes,
    check_alias_name,
    check_routes,
    routes_text,
    single,
)
from sandlot.domain.errors import (
    AliasInUse,
    AliasNotFound,
    AliasVersionNotReady,
    InvalidAliasRoutes,
    NothingToRollBack,
    ReleaseInProgress,
    VersionNotFound,
)
from sandlot.domain.ids import new_invocation_id
from sandlot.domain.models import Function, Principal
from sandlot.domain.states import VersionState
from sandlot.services import alias_users, audit
from sandlot.services.authz import authorize_function
from sandlot.storage.aliases import AliasChangeRepo, AliasRepo
from sandlot.storage.functions import FunctionRepo, VersionRepo

REASONS = ("set", "deploy", "rollback", "release", "auto-rollback", "promote", "abort", "delete")
HISTORY_LIMIT_MAX = 200
# How far back a rollback looks for the change to undo.
_ROLLBACK_LOOKBACK = 500


@dataclass(frozen=True)
class AliasInfo:
    """An alias as callers see it; `latest` (builtin) included."""

    name: str
    builtin: bool
    routes: Routes
    created_at: datetime
    updated_at: datetime
    updated_by: str
    release_id: str | None = None

    @property
    def versions(self) -> frozenset[int]:
        return frozenset(route.version for route in self.routes)


async def move(
    session: AsyncSession,
    *,
    function: Function,
    alias: str,
    routes: Sequence[Route],
    actor: str,
    reason: str,
    release_id: str | None = None,
    note: str | None = None,
) -> Alias:
    """Point `alias` (or `latest`, which takes one version) at `routes` and record it.
    Flushes; the caller commits, then calls `activator.routes_changed(function)`."""
    assert reason in REASONS, reason
    checked = check_move(alias, routes)
    await check_ready(session, function, checked)
    now = datetime.now(UTC)
    if alias == LATEST:
        previous = await FunctionRepo(session).point_latest(function.id, checked[0].version)
        before = single(previous) if previous is not None else ()
        moved = Alias(
            function_id=function.id,
            name=LATEST,
            routes=checked,
            created_at=function.created_at,
            updated_at=now,
            updated_by=actor,
        )
    else:
        existing = await AliasRepo(session).get(function.id, alias)
        before = existing.routes if existing is not None else ()
        moved = await AliasRepo(session).put(function.id, alias, checked, actor=actor, at=now)
    await _record(
        session,
        function=function,
        alias=alias,
        before=before,
        after=checked,
        actor=actor,
        reason=reason,
        release_id=release_id,
        note=note,
        at=now,
    )
    return moved


async def latest_advanced(
    session: AsyncSession, *, function: Function, before: int | None, after: int, actor: str
) -> None:
    """A deploy became ready and moved `latest` forward (services.builds)."""
    await _record(
        session,
        function=function,
        alias=LATEST,
        before=single(before) if before is not None else (),
        after=single(after),
        actor=actor,
        reason="deploy",
        at=datetime.now(UTC),
    )


async def _record(
    session: AsyncSession,
    *,
    function: Function,
    alias: str,
    before: Routes,
    after: Routes,
    actor: str,
    reason: str,
    at: datetime,
    release_id: str | None = None,
    note: str | None = None,
) -> None:
    await AliasChangeRepo(session).add(
        AliasChange(
            id=new_invocation_id(),
            function_id=function.id,
            alias=alias,
            before=before,
            after=after,
            actor=actor,
            at=at,
            reason=reason,
            release_id=release_id,
            note=note,
        )
    )


def check_move(alias: str, routes: Sequence[Route]) -> Routes:
    """What `move` checks before it reads anything: the alias's name and the weights."""
    checked = check_routes(routes)
    if alias == LATEST and len(checked) != 1:
        raise InvalidAliasRoutes("'latest' points at one version; it cannot split", alias=alias)
    if alias != LATEST:
        check_alias_name(alias)
    return checked


async def check_ready(session: AsyncSession, function: Function, routes: Sequence[Route]) -> None:
    """Each version exists and is ready (AliasVersionNotReady)."""
    versions = VersionRepo(session)
    for route in routes:
        try:
            version = await versions.get(function, route.version)
        except VersionNotFound:
            raise AliasVersionNotReady(
                f"function {function.name!r} has no version {route.version}",
                function=function.name,
                version=route.version,
                state=None,
            ) from None
        if version.state is not VersionState.READY:
            raise AliasVersionNotReady(
                f"version {route.version} of {function.name!r} is {version.state.value}, not ready",
                function=function.name,
                version=route.version,
                state=version.state.value,
            )


async def function_for(
    session: AsyncSession, principal: Principal, name: str, action: Action
) -> Function:
    """The function whose aliases a caller reads (FUNCTION_READ) or moves (FUNCTION_WRITE)."""
    authorize_function(principal, action, name)
    return await FunctionRepo(session).get(principal.namespace_id, name)


def routes_given(routes: Sequence[Route] | None) -> Sequence[Route]:
    if routes is None:
        raise InvalidAliasRoutes("name either `routes` or `version`, not neither or both")
    return routes


# Reading ------------------------------------------------------------------------------------


async def list_aliases(session: AsyncSession, function: Function) -> list[AliasInfo]:
    """`latest` first (when the function has a ready version), then the aliases by name."""
    releases = await AliasRepo(session).active_releases(function.id)
    items = [await _latest(session, function)] if function.latest_version is not None else []
    for alias in await AliasRepo(session).of_function(function.id):
        items.append(_info(alias, releases.get(alias.name)))
    return items


async def get_alias(session: AsyncSession, function: Function, name: str) -> AliasInfo:
    if name == LATEST:
        if function.latest_version is None:
            raise AliasNotFound(
                f"function {function.name!r} has no ready version yet",
                function=function.name,
                alias=name,
            )
        return await _latest(session, function)
    check_alias_name(name)
    alias = await AliasRepo(session).get(function.id, name)
    if alias is None:
        raise AliasNotFound(
            f"function {function.name!r} has no alias {name!r}", function=function.name, alias=name
        )
    releases = await AliasRepo(session).active_releases(function.id)
    return _info(alias, releases.get(name))


def _info(alias: Alias, release_id: str | None) -> AliasInfo:
    return AliasInfo(
        name=alias.name,
        builtin=False,
        routes=alias.routes,
        created_at=alias.created_at,
        updated_at=alias.updated_at,
        updated_by=alias.updated_by,
        release_id=release_id,
    )


async def _latest(session: AsyncSession, function: Function) -> AliasInfo:
    assert function.latest_version is not None
    newest = await AliasChangeRepo(session).newest(function.id, LATEST)
    return AliasInfo(
        name=LATEST,
        builtin=True,
        routes=single(function.latest_version),
        created_at=function.created_at,
        updated_at=newest.at if newest else function.updated_at,
        updated_by=newest.actor if newest else "",
    )


async def history(
    session: AsyncSession,
    function: Function,
    *,
    alias: str | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[AliasChange], str | None]:
    return await AliasChangeRepo(session).page(
        function.id, alias=alias, limit=min(limit, HISTORY_LIMIT_MAX), cursor=cursor
    )


# Changing -----------------------------------------------------------------------------------


async def set_alias(
    session: AsyncSession,
    *,
    principal: Principal,
    function: Function,
    name: str,
    routes: Sequence[Route],
) -> tuple[AliasInfo, bool]:
    """Make or change an alias by hand: (the alias, whether it was made)."""
    check_alias_name(name)
    checked = check_routes(routes)
    await _not_released(session, function, name)
    existing = await AliasRepo(session).get(function.id, name)
    await move(
        session,
        function=function,
        alias=name,
        routes=checked,
        actor=principal.actor,
        reason="set",
    )
    await audit.record(
        session,
        principal=principal,
        action="alias.set",
        target=f"function:{function.name}:{name}",
        namespace_id=function.namespace_id,
        detail={"routes": routes_text(checked)},
    )
    return await get_alias(session, function, name), existing is None


async def delete_alias(
    session: AsyncSession, *, principal: Principal, function: Function, name: str
) -> None:
    check_alias_name(name)  # `latest` is never deleted
    alias = await get_alias(session, function, name)
    users = await alias_users.users_of(session, function, name)
    if alias.release_id is not None:
        users.append(f"release:{alias.release_id}")
    if users:
        raise AliasInUse(
            f"alias {name!r} of {function.name!r} is in use by {', '.join(users)}",
            function=function.name,
            alias=name,
            users=users,
        )
    await AliasRepo(session).remove(function.id, name)
    await _record(
        session,
        function=function,
        alias=name,
        before=alias.routes,
        after=(),
        actor=principal.actor,
        reason="delete",
        at=datetime.now(UTC),
    )
    await audit.record(
        session,
        principal=principal,
        action="alias.delete",
        target=f"function:{function.name}:{name}",
        namespace_id=function.namespace_id,
    )


async def _not_released(session: AsyncSession, function: Function, name: str) -> None:
    release_id = (await AliasRepo(session).active_releases(function.id)).get(name)
    if release_id is not None:
        raise ReleaseInProgress(
            f"release {release_id} is moving alias {name!r}; pause, promote or abort it first",
            function=function.name,
            alias=name,
            release_id=release_id,
        )


async def rollback_target(
    session: AsyncSession, function: Function, name: str, to: int | None
) -> Routes:
    """Where a rollback of `name` would point it: `to`, else what it served before its last
    change that has not been rolled back already (see `undo_target`)."""
    current = await get_alias(session, function, name)
    await _not_released(session, function, name)
    if to is not None:
        target = single(to)
    else:
        changes = await AliasChangeRepo(session).of_alias(
            function.id, name, limit=_ROLLBACK_LOOKBACK
        )
        found = undo_target(changes, current.routes)
        if found is None and name == LATEST:
            found = await _older_ready(session, function)
        if found is None:
            raise NothingToRollBack(
                f"{name!r} of {function.name!r} has no earlier version to go back to",
                function=function.name,
                alias=name,
            )
        target = found
    await check_ready(session, function, check_routes(target))
    return target


def undo_target(changes: Sequence[AliasChange], current: Routes) -> Routes | None:
    """`changes` newest first. A rollback undoes the newest change not undone yet, so rolling
    back twice goes back two changes (an undo stack, not a toggle). The steps of one release
    count as one change, and a change that ended where it began (an aborted release) as
    none."""
    undone = 0
    for before, after, reason in _grouped(changes):
        if reason == "rollback":
            undone += 1
        elif undone:
            undone -= 1
        elif before and before != after and before != current:
            return before
        elif not before:
            return None  # the alias was made here: nothing older
    return None


def _grouped(changes: Sequence[AliasChange]) -> list[tuple[Routes, Routes, str]]:
    groups: list[tuple[Routes, Routes, str]] = []
    last_release: str | None = None
    for change in changes:
        if change.release_id is not None and change.release_id == last_release:
            _, after, reason = groups[-1]
            groups[-1] = (change.before, after, reason)
            continue
        last_release = change.release_id
        reason = "rollback" if change.reason == "rollback" else "change"
        groups.append((change.before, change.after, reason))
    return groups


async def _older_ready(session: AsyncSession, function: Function) -> Routes | None:
    """`latest` with no history (made before the history was kept): the newest ready version
    older than it."""
    for version in await VersionRepo(session).of_function(function):
        current = function.latest_version or 0
        if version.number < current and version.state is VersionState.READY:
            return single(version.number)
    return None


async def rollback(
    session: AsyncSession,
    *,
    principal: Principal,
    function: Function,
    name: str,
    target: Routes,
) -> AliasInfo:
    """Point `name` at `target` (from `rollback_target`, after the caller warmed it)."""
    current = await get_alias(session, function, name)
    await move(
        session,
        function=function,
        alias=name,
        routes=target,
        actor=principal.actor,
        reason="rollback",
    )
    await audit.record(
        session,
        principal=principal,
        action="alias.rollback",
        target=f"function:{function.name}:{name}",
        namespace_id=function.namespace_id,
        detail={"before": routes_text(current.routes), "after": routes_text(target)},
    )
    refreshed = await FunctionRepo(session).get(function.namespace_id, function.name)
    return await get_alias(session, refreshed, name)
