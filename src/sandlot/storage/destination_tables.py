"""The tables of destinations (in a module of their own, beside `tables.py`, which every
part of the async issue extends): a function's destinations and its webhook deliveries."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from sandlot.storage.tables import Base, UtcDateTime


class FunctionDestinationRow(Base):
    """One row per function that has destinations or a webhook secret. The secret is sealed
    with the secrets keyring (never stored in the clear, never read back by the API)."""

    __tablename__ = "function_destinations"
    function_id: Mapped[str] = mapped_column(ForeignKey("functions.id"), primary_key=True)
    namespace_id: Mapped[str] = mapped_column(String(36), index=True)
    on_success: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    on_failure: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    secret_key_id: Mapped[str | None] = mapped_column(String(16), nullable=True)
    secret_ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_by: Mapped[str] = mapped_column(String(200))


class DeliveryRow(Base):
    """One end of a call sent to one destination. Webhook rows are also their own queue:
    `pending` rows due at `next_attempt_at` are claimed with a lease, like invocations."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index("ix_webhook_deliveries_due", "state", "next_attempt_at"),
        Index("ix_webhook_deliveries_function", "function_id", "id"),
    )
    id: Mapped[str] = mapped_column(String(26), primary_key=True)
    namespace_id: Mapped[str] = mapped_column(String(36))
    function_id: Mapped[str] = mapped_column(String(36))
    function_name: Mapped[str] = mapped_column(String(64))
    invocation_id: Mapped[str] = mapped_column(String(26), index=True)
    condition: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16))
    target: Mapped[str] = mapped_column(String(2048))
    state: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer)
    max_attempts: Mapped[int] = mapped_column(Integer)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    next_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    lease_owner: Mapped[str | None] = mapped_column(String(64), nullable=True)
    last_status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    log: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    queued_invocation_id: Mapped[str | None] = mapped_column(String(26), nullable=True)
    redelivery_of: Mapped[str | None] = mapped_column(String(26), nullable=True)
