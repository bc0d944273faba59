"""Namespaces and API keys."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import ColumnElement, and_, exists, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from sandlot.domain.errors import ApiKeyNotFound, LastAdminKey
from sandlot.domain.models import ApiKey, Namespace, Principal, Role
from sandlot.storage.db import can_match
from sandlot.storage.tables import ApiKeyRow, NamespaceRow


def _namespace(row: NamespaceRow) -> Namespace:
    return Namespace(id=row.id, name=row.name, created_at=row.created_at)


def _key(row: ApiKeyRow) -> ApiKey:
    return ApiKey(
        id=row.id,
        namespace_id=row.namespace_id,
        name=row.name,
        role=Role(row.role),
        prefix=row.prefix,
        created_at=row.created_at,
        revoked_at=row.revoked_at,
    )


class NamespaceRepo:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get_by_name(self, name: str) -> Namespace | None:
        row = await self.session.scalar(select(NamespaceRow).where(NamespaceRow.name == name))
        return _namespace(row) if row else None

    async def get(self, namespace_id: str) -> Namespace:
        row = await self.session.get(NamespaceRow, namespace_id)
        assert row is not None, f"namespace {namespace_id} is missing"
        return _namespace(row)

    async def create(self, name: str) -> Namespace:
        row = NamespaceRow(id=str(uuid.uuid4()), name=name, created_at=datetime.now(UTC))
        self.session.add(row)
        await self.session.flush()
        return _namespace(row)


class ApiKeyRepo:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def create(
        self, *, namespace_id: str, name: str, role: Role, prefix: str, key_hash: str
    ) -> ApiKey:
        row = ApiKeyRow(
            id=str(uuid.uuid4()),
            namespace_id=namespace_id,
            name=name,
            role=role.value,
            prefix=prefix,
            key_hash=key_hash,
            created_at=datetime.now(UTC),
        )
        self.session.add(row)
        await self.session.flush()
        return _key(row)

    async def principal_for_hash(self, key_hash: str) -> Principal | None:
        query = (
            select(ApiKeyRow, NamespaceRow.name)
            .join(NamespaceRow, NamespaceRow.id == ApiKeyRow.namespace_id)
            .where(ApiKeyRow.key_hash == key_hash, ApiKeyRow.revoked_at.is_(None))
        )
        found = (await self.session.execute(query)).first()
        if found is None:
            return None
        row, namespace = found
        return Principal(
            key_id=row.id, namespace_id=row.namespace_id, namespace=namespace, role=Role(row.role)
        )

    async def in_namespace(self, namespace_id: str) -> list[ApiKey]:
        rows = await self.session.scalars(
            select(ApiKeyRow)
            .where(ApiKeyRow.namespace_id == namespace_id)
            .order_by(ApiKeyRow.created_at)
        )
        return [_key(row) for row in rows]

    async def count(self) -> int:
        return len((await self.session.scalars(select(ApiKeyRow.id))).all())

    async def revoke(self, *, namespace_id: str, key_id: str) -> ApiKey:
        """Revoke a key; never the last active admin key of its namespace (`LastAdminKey`).

        The check and the write are one UPDATE, so two admins revoking each other at once
        cannot both succeed: on SQLite writers are serialised and the statement reads the
        state after the other's commit; on PostgreSQL the namespace's active admin rows are
        locked first, so the second waits for the first and then sees it.
        """
        row = can_match(key_id) and await self.session.scalar(
            select(ApiKeyRow).where(ApiKeyRow.id == key_id, ApiKeyRow.namespace_id == namespace_id)
        )
        if not row:
            raise ApiKeyNotFound(f"no API key with id {key_id!r}", key_id=key_id)
        if row.revoked_at is not None:
            return _key(row)
        if row.role == Role.ADMIN.value:
            await self.session.execute(
                select(ApiKeyRow.id).where(_active_admin(ApiKeyRow, namespace_id)).with_for_update()
            )
        other = aliased(ApiKeyRow)
        another_admin = exists().where(_active_admin(other, namespace_id), other.id != key_id)
        written = await self.session.execute(
            update(ApiKeyRow)
            .where(
                ApiKeyRow.id == key_id,
                ApiKeyRow.revoked_at.is_(None),
                or_(ApiKeyRow.role != Role.ADMIN.value, another_admin),
            )
            .values(revoked_at=datetime.now(UTC))
            .execution_options(synchronize_session=False)
        )
        await self.session.refresh(row)
        if written.rowcount == 0 and row.revoked_at is None:  # type: ignore[attr-defined]
            raise LastAdminKey(
                f"key {key_id!r} is the last active admin key of this namespace; create "
                "another admin key before revoking it",
                key_id=key_id,
            )
        return _key(row)


def _active_admin(table: type[ApiKeyRow], namespace_id: str) -> ColumnElement[bool]:
    return and_(
        table.namespace_id == namespace_id,
        table.role == Role.ADMIN.value,
        table.revoked_at.is_(None),
    )
