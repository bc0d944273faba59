"""Request and response bodies of releases."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from sandlot.domain.limits import VERSION_NUMBER_MAX
from sandlot.domain.releases import MIN_CALLS_DEFAULT, MIN_INTERVAL_S, Health, Release
from sandlot.services.releases import DEFAULT_MAX_ERROR_RATE, DEFAULT_STEPS


class ReleaseIn(BaseModel):
    alias: str = Field(max_length=100, description="The alias to move (not `latest`)")
    version: int = Field(ge=1, le=VERSION_NUMBER_MAX, description="The version to move it to")
    steps: list[int] = Field(
        default=list(DEFAULT_STEPS),
        max_length=100,
        description="Percent of the alias's traffic on the new version at each step, "
        "increasing, ending at 100",
    )
    interval_s: int = Field(
        default=300,
        description=f"How long each step runs before it is judged (at least {MIN_INTERVAL_S} s)",
    )
    max_error_rate: float = Field(
        default=DEFAULT_MAX_ERROR_RATE,
        description="Percentage points the new version's error rate may exceed the old one's",
    )
    max_p99_ratio: float | None = Field(
        default=None, description="New p99 / old p99 allowed (null: p99 is not judged)"
    )
    min_calls: int = Field(
        default=MIN_CALLS_DEFAULT,
        description="Calls the new version must serve in a step before it is judged",
    )


class HealthOut(BaseModel):
    calls: int
    errors: int
    error_rate: float = Field(description="In percent")
    p99_ms: float | None

    @classmethod
    def of(cls, health: Health) -> HealthOut:
        return cls(
            calls=health.calls,
            errors=health.errors,
            error_rate=round(health.error_rate, 3),
            p99_ms=health.p99_ms,
        )


class JudgedOut(BaseModel):
    step: int = Field(description="The step's index")
    weight: int = Field(description="Percent on the new version during the step")
    at: datetime
    verdict: str = Field(description="pass | wait (too few calls yet) | rollback")
    new: HealthOut
    old: HealthOut


class ReleaseOut(BaseModel):
    id: str
    function: str
    alias: str
    from_version: int
    to_version: int
    steps: list[int]
    interval_s: int
    max_error_rate: float
    max_p99_ratio: float | None
    min_calls: int
    state: str = Field(
        description="running | paused | succeeded | promoted | rolled_back | aborted"
    )
    step: int = Field(description="The index of the step running now (or the last one run)")
    weight: int = Field(description="Percent of the alias's traffic on the new version now")
    step_started_at: datetime
    next_check_at: datetime | None = Field(
        description="When the step is judged; null unless running"
    )
    reason: str | None = Field(description="Why it ended or paused")
    created_by: str
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None
    judged: list[JudgedOut]

    @classmethod
    def of(cls, release: Release) -> ReleaseOut:
        plan = release.plan
        fields: dict[str, Any] = {
            "id": release.id,
            "function": release.function_name,
            "alias": release.alias,
            "from_version": release.from_version,
            "to_version": release.to_version,
            "steps": list(plan.steps),
            "interval_s": plan.interval_s,
            "max_error_rate": plan.max_error_rate,
            "max_p99_ratio": plan.max_p99_ratio,
            "min_calls": plan.min_calls,
            "state": release.state.value,
            "step": release.step,
            "weight": release.weight,
            "step_started_at": release.step_started_at,
            "next_check_at": release.next_check_at,
            "reason": release.reason,
            "created_by": release.created_by,
            "created_at": release.created_at,
            "updated_at": release.updated_at,
            "finished_at": release.finished_at,
        }
        judged = [
            JudgedOut(
                step=look.step,
                weight=look.weight,
                at=look.at,
                verdict=look.verdict,
                new=HealthOut.of(look.new),
                old=HealthOut.of(look.old),
            )
            for look in release.judged
        ]
        return cls(**fields, judged=judged)


class ReleaseList(BaseModel):
    items: list[ReleaseOut]
