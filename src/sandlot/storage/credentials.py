"""What authentication reads: a key with everything that decides whether it still works
(revoked, expired, its creator disabled, its namespace deleted), namespaces by name, and the
batched write of keys' last use."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from sandlot.domain.models import Namespace, Principal, Role
from sandlot.storage.tables import ApiKeyRow, NamespaceRow, UserRow


async def key_grant(
    session: AsyncSession, key_hash: str, now: datetime
) -> tuple[Principal, datetime | None] | None:
    """The principal a live key stands for and when it expires; None if it does not work."""
    query = (
        select(ApiKeyRow, NamespaceRow.name, UserRow.login)
        .join(NamespaceRow, NamespaceRow.id == ApiKeyRow.namespace_id)
        .outerjoin(UserRow, UserRow.id == ApiKeyRow.user_id)
        .where(
            ApiKeyRow.key_hash == key_hash,
            ApiKeyRow.revoked_at.is_(None),
            or_(ApiKeyRow.expires_at.is_(None), ApiKeyRow.expires_at > now),
            NamespaceRow.deleted_at.is_(None),
            UserRow.disabled_at.is_(None),  # also true when the key has no creator
        )
    )
    found = (await session.execute(query)).first()
    if found is None:
        return None
    row, namespace, login = found
    role = Role(row.role)
    principal = Principal(
        key_id=row.id,
        namespace_id=row.namespace_id,
        namespace=namespace,
        role=role,
        user_id=row.user_id,
        login=login,  # so that the audit log names the person behind their key
        platform_admin=role is Role.ADMIN,
        functions=frozenset(row.functions) if row.functions is not None else None,
        key_name=row.name,
    )
    return principal, row.expires_at


async def live_namespace(session: AsyncSession, name: str) -> Namespace | None:
    row = await session.scalar(
        select(NamespaceRow).where(NamespaceRow.name == name, NamespaceRow.deleted_at.is_(None))
    )
    return Namespace(id=row.id, name=row.name, created_at=row.created_at) if row else None


async def record_key_use(session: AsyncSession, used: Mapping[str, datetime]) -> None:
    for key_id, when in used.items():
        await session.execute(
            update(ApiKeyRow)
            .where(ApiKeyRow.id == key_id)
            .where(or_(ApiKeyRow.last_used_at.is_(None), ApiKeyRow.last_used_at < when))
            .values(last_used_at=when)
        )
