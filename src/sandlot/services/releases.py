"""Releases of a function: start, list, read, pause, resume, promote, abort.

What steps a running release and rolls it back is `services.release_driver`. Every move of
the alias goes through `services.aliases.move` (via `release_moves`), so it is in the deploy
history with the release's id. The caller commits, then tells the activator
(`Activator.routes_changed`) so callers see the move at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from sandlot.domain.actions import Action
from sandlot.domain.aliases import LATEST, check_alias_name, routes_text, single
from sandlot.domain.errors import (
    AliasVersionNotReady,
    InvalidAliasName,
    InvalidReleasePlan,
    ReleaseInProgress,
    ReleaseNotActive,
    VersionNotFound,
)
from sandlot.domain.ids import new_invocation_id
from sandlot.domain.models import Function, Principal
from sandlot.domain.releases import (
    MIN_CALLS_DEFAULT,
    RELEASE_MOVES,
    Release,
    ReleaseState,
    check_plan,
)
from sandlot.domain.states import VersionState
from sandlot.services import audit, release_moves
from sandlot.services.activation import Activator
from sandlot.services.authz import authorize_function
from sandlot.storage.functions import FunctionRepo, VersionRepo
from sandlot.storage.releases import ReleaseRepo

DEFAULT_STEPS = (10, 50, 100)
DEFAULT_MAX_ERROR_RATE = 2.0


@dataclass(frozen=True)
class ReleaseRequest:
    alias: str
    version: int
    steps: Sequence[int] = DEFAULT_STEPS
    interval_s: int = 300
    max_error_rate: float = DEFAULT_MAX_ERROR_RATE
    max_p99_ratio: float | None = None
    min_calls: int = MIN_CALLS_DEFAULT


def new_release_id() -> str:
    return "rel_" + new_invocation_id()  # time-ordered: newest first is ORDER BY id DESC


def _alias_of(name: str) -> str:
    if name == LATEST:
        raise InvalidReleasePlan(
            "a release moves an alias you made; 'latest' follows deploys (make an alias, "
            "e.g. prod, and release on it)",
            alias=name,
        )
    try:
        return check_alias_name(name)
    except InvalidAliasName as exc:
        raise InvalidReleasePlan(exc.message, alias=name) from exc


async def _ready_version(session: AsyncSession, function: Function, number: int) -> None:
    try:
        version = await VersionRepo(session).get(function, number)
    except VersionNotFound as exc:
        raise AliasVersionNotReady(
            f"function {function.name!r} has no version {number}", version=number
        ) from exc
    if version.state is not VersionState.READY:
        raise AliasVersionNotReady(
            f"version {number} is {version.state.value}, not ready", version=number
        )


async def start_release(
    *,
    session: AsyncSession,
    principal: Principal,
    activator: Activator,
    name: str,
    request: ReleaseRequest,
    now: datetime | None = None,
) -> Release:
    authorize_function(principal, Action.FUNCTION_WRITE, name)
    function = await FunctionRepo(session).get(principal.namespace_id, name)
    alias = _alias_of(request.alias)
    plan = check_plan(
        request.steps,
        request.interval_s,
        request.max_error_rate,
        request.max_p99_ratio,
        request.min_calls,
    )
    repo = ReleaseRepo(session)
    running = await repo.active_of(function.id, alias)
    if running is not None:
        raise ReleaseInProgress(
            f"release {running.id} is {running.state.value} on alias {alias!r}; pause, "
            "promote or abort it first",
            alias=alias,
            release=running.id,
        )
    routes = await release_moves.current_routes(session, function, alias)
    if len(routes) != 1:
        raise InvalidReleasePlan(
            f"alias {alias!r} splits traffic ({routes_text(routes)}); a release starts from "
            "an alias wholly on one version",
            alias=alias,
        )
    from_version = routes[0].version
    if request.version == from_version:
        raise InvalidReleasePlan(
            f"alias {alias!r} is on version {from_version} already", version=request.version
        )
    await _ready_version(session, function, request.version)
    at = now or datetime.now(UTC)
    release = Release(
        id=new_release_id(),
        function_id=function.id,
        function_name=function.name,
        alias=alias,
        from_version=from_version,
        to_version=request.version,
        plan=plan,
        state=ReleaseState.RUNNING,
        step=0,
        step_started_at=at,
        created_by=principal.actor,
        created_at=at,
        updated_at=at,
    )
    await repo.add(release)
    await activator.make_ready(function, [release.to_version])
    await release_moves.move(
        session,
        function=function,
        release=release,
        routes=release_moves.split(release, plan.steps[0]),
        reason="release",
        actor=principal.actor,
        note=f"release {release.id}: step 1 of {len(plan.steps)}, {plan.steps[0]}%",
    )
    await audit.record(
        session,
        principal=principal,
        action="release.start",
        target=f"function:{name}",
        namespace_id=principal.namespace_id,
        detail={
            "release": release.id,
            "alias": alias,
            "from_version": from_version,
            "to_version": release.to_version,
            "steps": list(plan.steps),
            "interval_s": plan.interval_s,
        },
    )
    return release


async def list_releases(
    *, session: AsyncSession, principal: Principal, name: str, state: str | None = None
) -> list[Release]:
    authorize_function(principal, Action.FUNCTION_READ, name)
    function = await FunctionRepo(session).get(principal.namespace_id, name)
    if state is not None:
        state = ReleaseState(state).value  # the route's schema has checked it
    return await ReleaseRepo(session).of_function(function.id, state)


async def get_release(
    *, session: AsyncSession, principal: Principal, name: str, release_id: str
) -> Release:
    authorize_function(principal, Action.FUNCTION_READ, name)
    function = await FunctionRepo(session).get(principal.namespace_id, name)
    return await ReleaseRepo(session).get(function.id, release_id)


def _check_move(release: Release, to: ReleaseState, verb: str) -> None:
    if to not in RELEASE_MOVES[release.state]:
        raise ReleaseNotActive(
            f"release {release.id} is {release.state.value}; it cannot be {verb}",
            release=release.id,
            state=release.state.value,
        )


@dataclass(frozen=True)
class _Control:
    to: ReleaseState
    verb: str
    action: str


_CONTROLS = {
    "pause": _Control(ReleaseState.PAUSED, "paused", "release.pause"),
    "resume": _Control(ReleaseState.RUNNING, "resumed", "release.resume"),
    "promote": _Control(ReleaseState.PROMOTED, "promoted", "release.promote"),
    "abort": _Control(ReleaseState.ABORTED, "aborted", "release.abort"),
}
CONTROLS = tuple(_CONTROLS)


async def control_release(
    *,
    session: AsyncSession,
    principal: Principal,
    activator: Activator,
    name: str,
    release_id: str,
    command: str,
    now: datetime | None = None,
) -> Release:
    """pause | resume | promote | abort, by a person. Promote and abort move the alias (to
    the new version wholly, back to the old one); pause and resume leave it where it is."""
    control = _CONTROLS[command]
    authorize_function(principal, Action.FUNCTION_WRITE, name)
    function = await FunctionRepo(session).get(principal.namespace_id, name)
    repo = ReleaseRepo(session)
    release = await repo.get(function.id, release_id, lock=True)
    _check_move(release, control.to, control.verb)
    at = now or datetime.now(UTC)
    changed = await _apply(session, activator, function, release, control, principal, at)
    await repo.save(changed)
    await audit.record(
        session,
        principal=principal,
        action=control.action,
        target=f"function:{name}",
        namespace_id=principal.namespace_id,
        detail={"release": release.id, "alias": release.alias, "step": release.step},
    )
    return changed


async def _apply(
    session: AsyncSession,
    activator: Activator,
    function: Function,
    release: Release,
    control: _Control,
    principal: Principal,
    at: datetime,
) -> Release:
    who = principal.actor
    if control.to is ReleaseState.PAUSED:
        return replace(release, state=control.to, updated_at=at, reason=f"paused by {who}")
    if control.to is ReleaseState.RUNNING:
        # A fresh window: what happened while paused is not this step's evidence.
        return replace(release, state=control.to, updated_at=at, step_started_at=at, reason=None)
    to_version = release.to_version if control.to is ReleaseState.PROMOTED else release.from_version
    await activator.make_ready(function, [to_version])
    await release_moves.move(
        session,
        function=function,
        release=release,
        routes=single(to_version),
        reason="promote" if control.to is ReleaseState.PROMOTED else "abort",
        actor=who,
        note=f"release {release.id} {control.verb} by {who}",
    )
    return replace(
        release,
        state=control.to,
        updated_at=at,
        finished_at=at,
        reason=f"{control.verb} by {who} at {release.plan.steps[release.step]}%",
    )


async def function_of(session: AsyncSession, principal: Principal, name: str) -> Function:
    """The function a route tells the activator about once its move committed."""
    return await FunctionRepo(session).get(principal.namespace_id, name)
