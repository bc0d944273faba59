"""The audit log's rows: written in the caller's transaction, read newest first."""

from __future__ import annotations

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from sandlot.domain.audit import AuditEvent, AuditFilter, AuditPage
from sandlot.storage.db import can_match
from sandlot.storage.tables import AuditEventRow, NamespaceRow


def _event(row: AuditEventRow, namespace: str | None) -> AuditEvent:
    return AuditEvent(
        id=row.id,
        at=row.at,
        actor=row.actor,
        action=row.action,
        target=row.target,
        namespace_id=row.namespace_id,
        namespace=namespace,
        user_id=row.user_id,
        key_id=row.key_id,
        address=row.address,
        detail=row.detail,
    )


class AuditRepo:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, event: AuditEvent) -> None:
        """Part of the caller's transaction: flushed now, committed (or rolled back) with it."""
        self.session.add(
            AuditEventRow(
                id=event.id,
                at=event.at,
                actor=event.actor,
                user_id=event.user_id,
                key_id=event.key_id,
                namespace_id=event.namespace_id,
                action=event.action,
                target=event.target,
                address=event.address,
                detail=event.detail,
            )
        )
        await self.session.flush()

    async def page(self, where: AuditFilter, *, limit: int, cursor: str | None) -> AuditPage:
        """Newest first, older than `cursor` (the previous page's last id)."""
        strings = (where.action_prefix, where.actor, where.target, cursor)
        if not all(can_match(text) for text in strings if text is not None):
            return AuditPage(items=[], next_cursor=None)
        query = (
            select(AuditEventRow, NamespaceRow.name)
            .outerjoin(NamespaceRow, NamespaceRow.id == AuditEventRow.namespace_id)
            .where(*_conditions(where))
        )
        if cursor is not None:
            query = query.where(AuditEventRow.id < cursor)
        query = query.order_by(AuditEventRow.id.desc()).limit(limit + 1)
        rows = (await self.session.execute(query)).all()
        items = [_event(row, namespace) for row, namespace in rows[:limit]]
        more = len(rows) > limit
        return AuditPage(items=items, next_cursor=items[-1].id if more and items else None)


def _conditions(where: AuditFilter) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if where.platform_only:
        conditions.append(AuditEventRow.namespace_id.is_(None))
    elif where.namespace_ids is not None:
        conditions.append(AuditEventRow.namespace_id.in_(sorted(where.namespace_ids)))
    if where.action_prefix:
        conditions.append(AuditEventRow.action.startswith(where.action_prefix, autoescape=True))
    if where.actor is not None:
        conditions.append(AuditEventRow.actor == where.actor)
    if where.target is not None:
        conditions.append(AuditEventRow.target == where.target)
    if where.since is not None:
        conditions.append(AuditEventRow.at >= where.since)
    if where.until is not None:
        conditions.append(AuditEventRow.at < where.until)
    return conditions
