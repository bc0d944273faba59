"""Destinations as stored: a function's configuration (its webhook secret sealed), and the
deliveries, which are also the webhook sender's queue (claimed with a lease, like the
invocations queue: `FOR UPDATE SKIP LOCKED` on PostgreSQL, so several servers share it)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from sandlot.domain.destinations import (
    Condition,
    Delivery,
    DeliveryState,
    Destination,
    DestinationConfig,
    DestinationKind,
)
from sandlot.domain.errors import DeliveryNotFound
from sandlot.domain.ids import INVOCATION_ID_PATTERN
from sandlot.storage.destination_tables import DeliveryRow, FunctionDestinationRow

_PENDING = DeliveryState.PENDING.value
_ID = re.compile(INVOCATION_ID_PATTERN)


def _destination(raw: dict[str, Any] | None) -> Destination | None:
    if raw is None:
        return None
    kind = DestinationKind(raw["type"])
    return Destination(kind, raw["url"] if kind is DestinationKind.WEBHOOK else raw["function"])


def _config(row: FunctionDestinationRow | None) -> DestinationConfig:
    if row is None:
        return DestinationConfig()
    return DestinationConfig(
        on_success=_destination(row.on_success),
        on_failure=_destination(row.on_failure),
        secret_set=row.secret_ciphertext is not None,
        updated_at=row.updated_at,
        updated_by=row.updated_by,
    )


def delivery_of(row: DeliveryRow) -> Delivery:
    return Delivery(
        id=row.id,
        namespace_id=row.namespace_id,
        function_id=row.function_id,
        function_name=row.function_name,
        invocation_id=row.invocation_id,
        condition=Condition(row.condition),
        kind=DestinationKind(row.kind),
        target=row.target,
        state=DeliveryState(row.state),
        attempts=row.attempts,
        max_attempts=row.max_attempts,
        created_at=row.created_at,
        next_attempt_at=row.next_attempt_at,
        finished_at=row.finished_at,
        last_status=row.last_status,
        last_error=row.last_error,
        body=row.body,
        log=tuple(row.log or ()),
        queued_invocation_id=row.queued_invocation_id,
        redelivery_of=row.redelivery_of,
    )


class DestinationRepo:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def _row(self, function_id: str) -> FunctionDestinationRow | None:
        row: FunctionDestinationRow | None = await self.session.get(
            FunctionDestinationRow, function_id
        )
        return row

    async def get(self, function_id: str) -> DestinationConfig:
        return _config(await self._row(function_id))

    async def sealed_secret(self, function_id: str) -> tuple[str, bytes] | None:
        row = await self._row(function_id)
        if row is None or row.secret_key_id is None or row.secret_ciphertext is None:
            return None
        return row.secret_key_id, row.secret_ciphertext

    async def put(
        self,
        *,
        function_id: str,
        namespace_id: str,
        on_success: Destination | None,
        on_failure: Destination | None,
        sealed: tuple[str, bytes] | None,
        updated_by: str,
        now: datetime,
    ) -> DestinationConfig:
        """Replace both destinations; the secret only when `sealed` is given."""
        row = await self._row(function_id)
        if row is None:
            row = FunctionDestinationRow(function_id=function_id, namespace_id=namespace_id)
            self.session.add(row)
        row.on_success = None if on_success is None else on_success.as_json()
        row.on_failure = None if on_failure is None else on_failure.as_json()
        if sealed is not None:
            row.secret_key_id, row.secret_ciphertext = sealed
        row.updated_at = now
        row.updated_by = updated_by
        await self.session.flush()
        return _config(row)

    async def sealed_with_other_keys(self, key_id: str) -> list[tuple[str, str, str, bytes]]:
        """(function id, namespace id, key id, ciphertext) of each secret not under `key_id`."""
        rows = await self.session.scalars(
            select(FunctionDestinationRow).where(
                FunctionDestinationRow.secret_key_id.is_not(None),
                FunctionDestinationRow.secret_key_id != key_id,
            )
        )
        return [
            (
                row.function_id,
                row.namespace_id,
                row.secret_key_id or "",
                row.secret_ciphertext or b"",
            )
            for row in rows
        ]

    async def reseal(
        self, function_id: str, old_key_id: str, key_id: str, ciphertext: bytes
    ) -> bool:
        """Only if it is still sealed with the old key (a set meanwhile used the new one)."""
        result = await self.session.execute(
            update(FunctionDestinationRow)
            .where(
                FunctionDestinationRow.function_id == function_id,
                FunctionDestinationRow.secret_key_id == old_key_id,
            )
            .values(secret_key_id=key_id, secret_ciphertext=ciphertext)
        )
        return getattr(result, "rowcount", 1) == 1


class DeliveryRepo:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, delivery: Delivery) -> None:
        self.session.add(
            DeliveryRow(
                id=delivery.id,
                namespace_id=delivery.namespace_id,
                function_id=delivery.function_id,
                function_name=delivery.function_name,
                invocation_id=delivery.invocation_id,
                condition=delivery.condition.value,
                kind=delivery.kind.value,
                target=delivery.target,
                state=delivery.state.value,
                attempts=delivery.attempts,
                max_attempts=delivery.max_attempts,
                body=delivery.body,
                created_at=delivery.created_at,
                next_attempt_at=delivery.next_attempt_at,
                finished_at=delivery.finished_at,
                last_status=delivery.last_status,
                last_error=delivery.last_error,
                log=list(delivery.log),
                queued_invocation_id=delivery.queued_invocation_id,
                redelivery_of=delivery.redelivery_of,
            )
        )
        await self.session.flush()

    async def get(self, namespace_id: str, function_id: str, delivery_id: str) -> Delivery:
        row = None
        if _ID.fullmatch(delivery_id):
            row = await self.session.get(DeliveryRow, delivery_id)
        if row is None or row.namespace_id != namespace_id or row.function_id != function_id:
            raise DeliveryNotFound(
                f"no delivery {delivery_id[:40]!r} of this function", delivery=delivery_id[:40]
            )
        return delivery_of(row)

    async def of_function(
        self,
        function_id: str,
        *,
        state: DeliveryState | None = None,
        invocation_id: str | None = None,
        limit: int = 50,
    ) -> list[Delivery]:
        query = select(DeliveryRow).where(DeliveryRow.function_id == function_id)
        if state is not None:
            query = query.where(DeliveryRow.state == state.value)
        if invocation_id is not None:
            query = query.where(DeliveryRow.invocation_id == invocation_id)
        rows = await self.session.scalars(query.order_by(DeliveryRow.id.desc()).limit(limit))
        return [delivery_of(row) for row in rows]

    async def claim(
        self, *, owner: str, now: datetime, lease_until: datetime, limit: int
    ) -> list[Delivery]:
        """Take up to `limit` due webhook deliveries: a lease, and one more attempt counted
        (a claimer that dies mid-send has used it; its lease expires and another goes on)."""
        await self._fail_exhausted(now)
        query = (
            select(DeliveryRow.id)
            .where(
                DeliveryRow.state == _PENDING,
                DeliveryRow.kind == DestinationKind.WEBHOOK.value,
                DeliveryRow.next_attempt_at <= now,
                DeliveryRow.attempts < DeliveryRow.max_attempts,
                or_(DeliveryRow.lease_until.is_(None), DeliveryRow.lease_until < now),
            )
            .order_by(DeliveryRow.next_attempt_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        ids = list(await self.session.scalars(query))
        if not ids:
            return []
        await self.session.execute(
            update(DeliveryRow)
            .where(DeliveryRow.id.in_(ids))
            .values(attempts=DeliveryRow.attempts + 1, lease_until=lease_until, lease_owner=owner)
        )
        rows = await self.session.scalars(
            select(DeliveryRow)
            .where(DeliveryRow.id.in_(ids))
            .execution_options(populate_existing=True)
        )
        return [delivery_of(row) for row in rows]

    async def _fail_exhausted(self, now: datetime) -> None:
        """A claimer died during a delivery's last attempt: nobody will end it otherwise.
        Looked for with a read first, so an idle poll never takes SQLite's write lock."""
        exhausted = and_(
            DeliveryRow.state == _PENDING,
            DeliveryRow.kind == DestinationKind.WEBHOOK.value,
            DeliveryRow.attempts >= DeliveryRow.max_attempts,
            DeliveryRow.lease_until < now,
        )
        if await self.session.scalar(select(DeliveryRow.id).where(exhausted).limit(1)) is None:
            return
        await self.session.execute(
            update(DeliveryRow)
            .where(exhausted)
            .values(
                state=DeliveryState.FAILED.value,
                finished_at=now,
                lease_until=None,
                lease_owner=None,
                last_error="the server sending the last attempt stopped before it ended",
            )
        )

    async def record_attempt(
        self,
        claimed: Delivery,
        *,
        owner: str,
        entry: dict[str, Any],
        state: DeliveryState,
        next_attempt_at: datetime | None,
        now: datetime,
    ) -> bool:
        """Write one attempt's end, fenced by its attempt number and lease owner: a sender
        whose lease was taken over cannot overwrite the newer attempt. False if fenced off."""
        result = await self.session.execute(
            update(DeliveryRow)
            .where(
                and_(
                    DeliveryRow.id == claimed.id,
                    DeliveryRow.attempts == claimed.attempts,
                    DeliveryRow.lease_owner == owner,
                    DeliveryRow.state == _PENDING,
                )
            )
            .values(
                state=state.value,
                next_attempt_at=next_attempt_at,
                finished_at=None if state is DeliveryState.PENDING else now,
                lease_until=None,
                lease_owner=None,
                last_status=entry.get("status"),
                last_error=entry.get("error"),
                log=[*claimed.log, entry],
            )
        )
        return getattr(result, "rowcount", 1) == 1
