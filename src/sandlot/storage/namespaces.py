"""Namespaces: the tenants every function, key and secret belongs to."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from sandlot.domain.errors import NamespaceAlreadyExists
from sandlot.domain.models import Namespace
from sandlot.storage.tables import ApiKeyRow, FunctionRow, MembershipRow, NamespaceRow


def _namespace(row: NamespaceRow) -> Namespace:
    return Namespace(
        id=row.id,
        name=row.name,
        created_at=row.created_at,
        display_name=row.display_name,
        deleted_at=row.deleted_at,
    )


class NamespaceRepo:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get_by_name(self, name: str, *, include_deleted: bool = True) -> Namespace | None:
        query = select(NamespaceRow).where(NamespaceRow.name == name)
        if not include_deleted:
            query = query.where(NamespaceRow.deleted_at.is_(None))
        row = await self.session.scalar(query)
        return _namespace(row) if row else None

    async def get(self, namespace_id: str) -> Namespace:
        row = await self.session.get(NamespaceRow, namespace_id)
        assert row is not None, f"namespace {namespace_id} is missing"
        return _namespace(row)

    async def create(self, name: str, display_name: str | None = None) -> Namespace:
        row = NamespaceRow(
            id=str(uuid.uuid4()),
            name=name,
            display_name=display_name,
            created_at=datetime.now(UTC),
        )
        # The unique name decides races: the loser's transaction is abandoned.
        self.session.add(row)
        try:
            await self.session.flush()
        except IntegrityError as exc:
            raise NamespaceAlreadyExists(
                f"a namespace named {name!r} already exists (a deleted one keeps its name)",
                namespace=name,
            ) from exc
        return _namespace(row)

    async def listed(self, *, include_deleted: bool) -> list[Namespace]:
        query = select(NamespaceRow).order_by(NamespaceRow.name)
        if not include_deleted:
            query = query.where(NamespaceRow.deleted_at.is_(None))
        return [_namespace(row) for row in await self.session.scalars(query)]

    async def of_user(self, user_id: str) -> list[tuple[Namespace, str]]:
        """The live namespaces a person is a member of, with their role there."""
        query = (
            select(NamespaceRow, MembershipRow.role)
            .join(MembershipRow, MembershipRow.namespace_id == NamespaceRow.id)
            .where(MembershipRow.user_id == user_id, NamespaceRow.deleted_at.is_(None))
            .order_by(NamespaceRow.name)
        )
        return [(_namespace(row), role) for row, role in (await self.session.execute(query))]

    async def set_display_name(self, namespace_id: str, display_name: str | None) -> Namespace:
        row = await self.session.get(NamespaceRow, namespace_id, populate_existing=True)
        assert row is not None, f"namespace {namespace_id} is missing"
        row.display_name = display_name
        await self.session.flush()
        return _namespace(row)

    async def mark_deleted(self, namespace_id: str) -> list[str]:
        """Mark the namespace and its live functions deleted, revoke its keys and end its
        memberships, in one transaction; the ids of the functions it had, to stop them.
        Versions and invocations stay: the history outlives the namespace."""
        now = datetime.now(UTC)
        live = FunctionRow.namespace_id == namespace_id, FunctionRow.deleted_at.is_(None)
        function_ids = list(await self.session.scalars(select(FunctionRow.id).where(*live)))
        await self.session.execute(
            update(FunctionRow)
            .where(*live)
            .values(deleted_at=now)
            .execution_options(synchronize_session=False)
        )
        await self.session.execute(
            update(ApiKeyRow)
            .where(ApiKeyRow.namespace_id == namespace_id, ApiKeyRow.revoked_at.is_(None))
            .values(revoked_at=now)
            .execution_options(synchronize_session=False)
        )
        await self.session.execute(
            delete(MembershipRow).where(MembershipRow.namespace_id == namespace_id)
        )
        await self.session.execute(
            update(NamespaceRow)
            .where(NamespaceRow.id == namespace_id)
            .values(deleted_at=now)
            .execution_options(synchronize_session=False)
        )
        return function_ids
