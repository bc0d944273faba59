"""The release driver: judges each running release's step once its interval has passed and
moves it on, holds it (too few calls yet), or rolls it back.

Its state is the database's: a restart, or another server on the same PostgreSQL, picks a
release up where it was. Each release's round is its own transaction, in which its row is
taken `FOR UPDATE SKIP LOCKED` (storage.releases), so two servers never both step one.
The judgement compares the calls each version served in the step's window
[step_started_at, now) on this function: the new version's error rate (and p99, if the
plan asks) against the old one's (`domain.releases.verdict`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from sandlot.domain.aliases import single
from sandlot.domain.models import Function
from sandlot.domain.releases import Judged, Release, ReleaseState, verdict
from sandlot.services import release_moves
from sandlot.services.activation import Activator
from sandlot.services.timed_loop import TimedLoop
from sandlot.storage.db import Database
from sandlot.storage.releases import ReleaseRepo

log = logging.getLogger(__name__)

DEFAULT_MAX_SLEEP_S = 5.0
DRIVER_ACTOR = "release-driver"


@dataclass(frozen=True)
class Stepped:
    """What one round did to one release: its verdict and the state it is in after."""

    release_id: str
    verdict: str  # pass | wait | rollback
    state: ReleaseState
    weight: int
    reason: str | None = None


class ReleaseDriver(TimedLoop):
    name = "sandlot-release-driver"

    def __init__(
        self,
        *,
        database: Database,
        activator: Activator,
        max_sleep_s: float = DEFAULT_MAX_SLEEP_S,
    ) -> None:
        # Bounded, so a release started on another server is judged within this long of due.
        super().__init__(max_sleep_s=max_sleep_s)
        self.database = database
        self.activator = activator

    async def run_once(self, now: datetime | None = None) -> list[Stepped]:
        """Judge every running release whose step is due at `now` (default: the clock).
        Tests pass a later `now` instead of waiting out the interval."""
        at = now or datetime.now(UTC)
        async with self.database.sessions() as session:
            running = await ReleaseRepo(session).running()
        stepped = []
        for release in running:
            due = release.next_check_at
            if due is None or due > at:
                continue
            try:
                one = await self._round(release.id, at)
            except Exception:  # one release's trouble must not hold up the others
                log.exception("release %s: its round failed; trying again", release.id)
                continue
            if one is not None:
                stepped.append(one)
        return stepped

    async def next_due(self) -> datetime | None:
        async with self.database.sessions() as session:
            running = await ReleaseRepo(session).running()
        dues = [release.next_check_at for release in running if release.next_check_at]
        return min(dues) if dues else None

    async def _round(self, release_id: str, now: datetime) -> Stepped | None:
        moved: Function | None = None
        async with self.database.sessions() as session, session.begin():
            repo = ReleaseRepo(session)
            release = await repo.take_running(release_id)
            due = None if release is None else release.next_check_at
            if release is None or due is None or due > now:
                return None  # stepped (or paused, ended) elsewhere since the list was read
            look = await self._look(repo, release, now)
            function = await repo.function_of(release)
            after = await self._act(session, function, release, look, now)
            await repo.save(after)
            if after.weight != release.weight or after.state is not release.state:
                moved = function
        if moved is not None:
            self.activator.routes_changed(moved)
        return Stepped(release_id, look.verdict, after.state, after.weight, after.reason)

    async def _look(self, repo: ReleaseRepo, release: Release, now: datetime) -> Judged:
        start = release.step_started_at
        new = await repo.health(release.function_id, release.to_version, start, now)
        old = await repo.health(release.function_id, release.from_version, start, now)
        if new.calls < release.plan.min_calls:
            outcome = "wait"
        else:
            outcome = "rollback" if verdict(new, old, release.plan) is not None else "pass"
        return Judged(
            step=release.step,
            weight=release.weight,
            at=now,
            verdict=outcome,
            new=new,
            old=old,
        )

    async def _act(
        self,
        session: AsyncSession,
        function: Function,
        release: Release,
        look: Judged,
        now: datetime,
    ) -> Release:
        judged = (*release.judged, look)
        if look.verdict == "wait":
            return replace(release, judged=judged, updated_at=now)
        if look.verdict == "rollback":
            why = verdict(look.new, look.old, release.plan)
            reason = f"rolled back at {look.weight}%: {why}"
            await release_moves.move(
                session,
                function=function,
                release=release,
                routes=single(release.from_version),
                reason="auto-rollback",
                actor=DRIVER_ACTOR,
                note=reason,
            )
            return replace(
                release,
                state=ReleaseState.ROLLED_BACK,
                judged=judged,
                reason=reason,
                updated_at=now,
                finished_at=now,
            )
        last = release.step + 1 >= len(release.plan.steps)
        if last:
            return replace(
                release,
                state=ReleaseState.SUCCEEDED,
                judged=judged,
                reason=f"every step passed; alias {release.alias!r} is on v{release.to_version}",
                updated_at=now,
                finished_at=now,
            )
        step = release.step + 1
        weight = release.plan.steps[step]
        await self.activator.make_ready(function, [release.to_version])
        await release_moves.move(
            session,
            function=function,
            release=release,
            routes=release_moves.split(release, weight),
            reason="release",
            actor=DRIVER_ACTOR,
            note=f"release {release.id}: step {step + 1} of {len(release.plan.steps)}, {weight}%",
        )
        return replace(release, step=step, step_started_at=now, judged=judged, updated_at=now)
