"""Request and response bodies of a function's destinations and its deliveries."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from sandlot.domain.destinations import Delivery, Destination, DestinationConfig


class DestinationIn(BaseModel):
    """`{"type": "webhook", "url": ...}` or `{"type": "function", "function": NAME}`."""

    model_config = ConfigDict(extra="forbid")
    type: Literal["webhook", "function"]
    url: str | None = Field(default=None, description="For a webhook: an http(s) URL")
    function: str | None = Field(
        default=None, description="For a function: its name, in this namespace"
    )

    def raw(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


class DestinationsPut(BaseModel):
    model_config = ConfigDict(extra="forbid")
    on_success: DestinationIn | None = Field(
        default=None, description="Where a call that ended `succeeded` goes; null: nowhere"
    )
    on_failure: DestinationIn | None = Field(
        default=None, description="Where a call that ended `dead` goes; null: nowhere"
    )
    secret: str | None = Field(
        default=None,
        description="A new webhook secret (at least 32 bytes; never read back); absent or "
        "null keeps the one set",
    )


class DestinationOut(BaseModel):
    type: str
    url: str | None = None
    function: str | None = None

    @classmethod
    def of(cls, destination: Destination | None) -> DestinationOut | None:
        return None if destination is None else cls(**destination.as_json())


class DestinationsOut(BaseModel):
    on_success: DestinationOut | None
    on_failure: DestinationOut | None
    secret_set: bool = Field(description="Whether a webhook secret is set (it is never shown)")
    updated_at: datetime | None
    updated_by: str | None

    @classmethod
    def of(cls, config: DestinationConfig) -> DestinationsOut:
        return cls(
            on_success=DestinationOut.of(config.on_success),
            on_failure=DestinationOut.of(config.on_failure),
            secret_set=config.secret_set,
            updated_at=config.updated_at,
            updated_by=config.updated_by,
        )


class DeliveryOut(BaseModel):
    id: str
    function: str
    invocation_id: str
    condition: str = Field(description="`success` or `failure`: which end of the call")
    type: str = Field(description="`webhook` or `function`")
    target: str = Field(description="The webhook's URL, or the function's name")
    state: str = Field(description="`pending`, `delivered` or `failed`")
    attempts: int
    max_attempts: int
    created_at: datetime
    next_attempt_at: datetime | None
    finished_at: datetime | None
    last_status: int | None = Field(description="The HTTP status of the last attempt, if any")
    last_error: str | None
    log: list[dict[str, Any]] = Field(
        description="Each attempt: {attempt, at, status, error, duration_ms}"
    )
    queued_invocation_id: str | None = Field(
        description="A function destination: the call it queued"
    )
    redelivery_of: str | None

    @classmethod
    def of(cls, delivery: Delivery) -> DeliveryOut:
        return cls(
            id=delivery.id,
            function=delivery.function_name,
            invocation_id=delivery.invocation_id,
            condition=delivery.condition.value,
            type=delivery.kind.value,
            target=delivery.target,
            state=delivery.state.value,
            attempts=delivery.attempts,
            max_attempts=delivery.max_attempts,
            created_at=delivery.created_at,
            next_attempt_at=delivery.next_attempt_at,
            finished_at=delivery.finished_at,
            last_status=delivery.last_status,
            last_error=delivery.last_error,
            log=list(delivery.log),
            queued_invocation_id=delivery.queued_invocation_id,
            redelivery_of=delivery.redelivery_of,
        )


class DeliveryList(BaseModel):
    items: list[DeliveryOut]
