"""API keys. (`NamespaceRepo` lives in `storage.namespaces`; it is named here too for the
modules that always found it here.)"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import ColumnElement, and_, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from sandlot.domain.errors import ApiKeyNotFound, LastAdminKey
from sandlot.domain.models import ApiKey, Role
from sandlot.storage.db import can_match
from sandlot.storage.namespaces import NamespaceRepo
from sandlot.storage.tables import ApiKeyRow, UserRow

__all__ = ["ApiKeyRepo", "NamespaceRepo", "SealedCopy", "SigningKey"]


@dataclass(frozen=True)
class SealedCopy:
    """A key sealed with the secrets keyring (`sigv4_key_id`, `sigv4_sealed`): what verifying
    an AWS Signature Version 4 needs, since a hash cannot sign."""

    key_id: str  # the keyring key that sealed it
    ciphertext: bytes


@dataclass(frozen=True)
class SigningKey:
    """A key that an access key id (its public prefix) may name; `sealed` is None for a key
    made before the Lambda API (it cannot sign)."""

    id: str
    sealed: SealedCopy | None


# Each key with its creator's login (None for keys no person made).
_WITH_CREATOR = select(ApiKeyRow, UserRow.login).outerjoin(UserRow, UserRow.id == ApiKeyRow.user_id)


def _key(row: ApiKeyRow, creator: str | None = None) -> ApiKey:
    return ApiKey(
        id=row.id,
        namespace_id=row.namespace_id,
        name=row.name,
        role=Role(row.role),
        prefix=row.prefix,
        created_at=row.created_at,
        revoked_at=row.revoked_at,
        user_id=row.user_id,
        created_by=creator,
        functions=tuple(row.functions) if row.functions is not None else None,
        expires_at=row.expires_at,
        last_used_at=row.last_used_at,
    )


class ApiKeyRepo:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def create(
        self,
        *,
        namespace_id: str,
        name: str,
        role: Role,
        prefix: str,
        key_hash: str,
        user_id: str | None = None,
        functions: tuple[str, ...] | None = None,
        expires_at: datetime | None = None,
        sigv4: SealedCopy | None = None,
        key_id: str | None = None,
    ) -> ApiKey:
        row = ApiKeyRow(
            id=key_id or str(uuid.uuid4()),
            namespace_id=namespace_id,
            name=name,
            role=role.value,
            prefix=prefix,
            key_hash=key_hash,
            created_at=datetime.now(UTC),
            user_id=user_id,
            functions=list(functions) if functions is not None else None,
            expires_at=expires_at,
            sigv4_key_id=sigv4.key_id if sigv4 else None,
            sigv4_sealed=sigv4.ciphertext if sigv4 else None,
        )
        self.session.add(row)
        await self.session.flush()
        return await self.get(namespace_id, row.id)

    async def get(self, namespace_id: str, key_id: str) -> ApiKey:
        found = (
            can_match(key_id)
            and (
                await self.session.execute(
                    _WITH_CREATOR.where(
                        ApiKeyRow.id == key_id, ApiKeyRow.namespace_id == namespace_id
                    )
                )
            ).first()
        )
        if not found:
            raise ApiKeyNotFound(f"no API key with id {key_id!r}", key_id=key_id)
        row, creator = found
        return _key(row, creator)

    async def expiry_of(self, key_id: str) -> datetime | None:
        """When a key expires; None if it never does, or no key has this id."""
        if not can_match(key_id):
            return None
        found: datetime | None = await self.session.scalar(
            select(ApiKeyRow.expires_at).where(ApiKeyRow.id == key_id)
        )
        return found

    async def in_namespace(self, namespace_id: str) -> list[ApiKey]:
        return await self._listed(ApiKeyRow.namespace_id == namespace_id)

    async def own(self, namespace_id: str, *, user_id: str | None, key_id: str) -> list[ApiKey]:
        """A caller's own keys in a namespace: a person's every key, a key only itself."""
        mine = ApiKeyRow.user_id == user_id if user_id is not None else ApiKeyRow.id == key_id
        return await self._listed(and_(ApiKeyRow.namespace_id == namespace_id, mine))

    async def _listed(self, where: ColumnElement[bool]) -> list[ApiKey]:
        query = _WITH_CREATOR.where(where).order_by(ApiKeyRow.created_at)
        return [_key(row, creator) for row, creator in await self.session.execute(query)]

    async def revoke_for_member(
        self, namespace_id: str, user_id: str, *, keep: frozenset[Role]
    ) -> list[str]:
        """Revoke a person's active keys in a namespace whose role is not in `keep`; their
        ids. For a member who left or was demoted: their keys must not outlast their role."""
        mine = and_(
            ApiKeyRow.namespace_id == namespace_id,
            ApiKeyRow.user_id == user_id,
            ApiKeyRow.revoked_at.is_(None),
            ApiKeyRow.role.not_in(sorted(role.value for role in keep)),
        )
        ids = list(await self.session.scalars(select(ApiKeyRow.id).where(mine)))
        if ids:
            await self.session.execute(
                update(ApiKeyRow)
                .where(ApiKeyRow.id.in_(ids))
                .values(revoked_at=datetime.now(UTC))
                .execution_options(synchronize_session=False)
            )
        return ids

    async def signing_keys(self, prefix: str) -> list[SigningKey]:
        """The unrevoked keys with this public prefix (a prefix is 32 random bits, so almost
        always one); whether each still works is the authenticator's to say."""
        query = select(ApiKeyRow.id, ApiKeyRow.sigv4_key_id, ApiKeyRow.sigv4_sealed).where(
            ApiKeyRow.prefix == prefix, ApiKeyRow.revoked_at.is_(None)
        )
        return [
            SigningKey(key_id, SealedCopy(sealer, sealed) if sealer and sealed else None)
            for key_id, sealer, sealed in await self.session.execute(query)
        ]

    async def sealed_with_other_keys(self, current: str, limit: int) -> list[SigningKey]:
        """Keys whose sealed copy another keyring key made (a rotation re-seals them)."""
        query = (
            select(ApiKeyRow.id, ApiKeyRow.sigv4_key_id, ApiKeyRow.sigv4_sealed)
            .where(ApiKeyRow.sigv4_key_id.is_not(None), ApiKeyRow.sigv4_key_id != current)
            .order_by(ApiKeyRow.id)
            .limit(limit)
        )
        return [
            SigningKey(key_id, SealedCopy(sealer, sealed) if sealer and sealed else None)
            for key_id, sealer, sealed in await self.session.execute(query)
        ]

    async def count_sealed_with_other_keys(self, current: str) -> int:
        found = await self.session.scalar(
            select(func.count())
            .select_from(ApiKeyRow)
            .where(ApiKeyRow.sigv4_key_id.is_not(None), ApiKeyRow.sigv4_key_id != current)
        )
        return int(found or 0)

    async def reseal(self, key: SigningKey, made: SealedCopy) -> bool:
        """Replace a key's sealed copy, only if it is still the one that was opened."""
        assert key.sealed is not None
        written = await self.session.execute(
            update(ApiKeyRow)
            .where(ApiKeyRow.id == key.id, ApiKeyRow.sigv4_key_id == key.sealed.key_id)
            .values(sigv4_key_id=made.key_id, sigv4_sealed=made.ciphertext)
            .execution_options(synchronize_session=False)
        )
        return bool(written.rowcount)  # type: ignore[attr-defined]

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
            return await self.get(namespace_id, key_id)
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
        return await self.get(namespace_id, key_id)


def _active_admin(table: type[ApiKeyRow], namespace_id: str) -> ColumnElement[bool]:
    return and_(
        table.namespace_id == namespace_id,
        table.role == Role.ADMIN.value,
        table.revoked_at.is_(None),
    )
