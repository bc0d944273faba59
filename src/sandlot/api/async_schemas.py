"""The bodies of a function's async-config."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from sandlot.domain.queue import EVENT_AGE_RANGE_S, MAX_ATTEMPTS_RANGE, AsyncConfig


class AsyncConfigOut(BaseModel):
    max_attempts: int = Field(
        description="The most attempts an asynchronous call of it may have (the first one "
        "included); a call keeps the number it was accepted with"
    )
    retry_on_error: bool = Field(
        description="Retry when the handler raises. Crashes, timeouts, out of memory and a "
        "lost server are always retried while attempts are left"
    )
    max_event_age_s: int = Field(
        description="A call older than this (since it was accepted) is not run again: dead"
    )

    @classmethod
    def of(cls, config: AsyncConfig) -> AsyncConfigOut:
        return cls(
            max_attempts=config.max_attempts,
            retry_on_error=config.retry_on_error,
            max_event_age_s=config.max_event_age_s,
        )


class AsyncConfigPut(BaseModel):
    """The fields to change; those left out keep their value. Out of range:
    InvalidAsyncConfig (400)."""

    model_config = ConfigDict(extra="forbid")

    max_attempts: int | None = Field(
        default=None,
        description=f"{MAX_ATTEMPTS_RANGE[0]} to {MAX_ATTEMPTS_RANGE[1]} (default 3)",
        json_schema_extra={"minimum": MAX_ATTEMPTS_RANGE[0], "maximum": MAX_ATTEMPTS_RANGE[1]},
    )
    retry_on_error: bool | None = Field(default=None, description="default false")
    max_event_age_s: int | None = Field(
        default=None,
        description=f"{EVENT_AGE_RANGE_S[0]} to {EVENT_AGE_RANGE_S[1]} seconds (default 6 h)",
        json_schema_extra={"minimum": EVENT_AGE_RANGE_S[0], "maximum": EVENT_AGE_RANGE_S[1]},
    )
