"""Secrets as stored: sealed values, one row per (namespace, name), only the current one."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from sandlot.domain.errors import Conflict, SecretNotFound
from sandlot.domain.secrets import SECRET_NAME_RE, SecretInfo, StoredSecret
from sandlot.storage.tables import SecretRow


def _stored(row: SecretRow) -> StoredSecret:
    return StoredSecret(
        id=row.id,
        namespace_id=row.namespace_id,
        info=SecretInfo(
            name=row.name,
            version=row.version,
            updated_by=row.updated_by,
            updated_at=row.updated_at,
            created_at=row.created_at,
        ),
        key_id=row.key_id,
        ciphertext=row.ciphertext,
    )


def _not_found(name: str) -> SecretNotFound:
    return SecretNotFound(f"no secret named {name[:140]!r}", secret=name[:140])


class SecretRepo:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def _row(self, namespace_id: str, name: str) -> SecretRow | None:
        # A name no secret can have is not looked up (it may hold a NUL, which PostgreSQL
        # refuses even in a query).
        if not SECRET_NAME_RE.fullmatch(name):
            return None
        row: SecretRow | None = await self.session.scalar(
            select(SecretRow).where(SecretRow.namespace_id == namespace_id, SecretRow.name == name)
        )
        return row

    async def get(self, namespace_id: str, name: str) -> StoredSecret:
        row = await self._row(namespace_id, name)
        if row is None:
            raise _not_found(name)
        return _stored(row)

    async def find(self, namespace_id: str, name: str) -> StoredSecret | None:
        row = await self._row(namespace_id, name)
        return None if row is None else _stored(row)

    async def next_version(self, namespace_id: str, name: str) -> int:
        row = await self._row(namespace_id, name)
        return 1 if row is None else row.version + 1

    async def put(
        self,
        *,
        namespace_id: str,
        name: str,
        version: int,
        key_id: str,
        ciphertext: bytes,
        updated_by: str,
    ) -> StoredSecret:
        """Write version `version`; a concurrent writer that got there first is a Conflict
        (the version is what the ciphertext is bound to)."""
        now = datetime.now(UTC)
        row = await self._row(namespace_id, name)
        if row is None:
            row = SecretRow(
                id=str(uuid.uuid4()),
                namespace_id=namespace_id,
                name=name,
                version=version,
                key_id=key_id,
                ciphertext=ciphertext,
                created_at=now,
                updated_at=now,
                updated_by=updated_by,
            )
            self.session.add(row)
            try:
                await self.session.flush()
            except IntegrityError:
                raise Conflict(f"secret {name!r} was set concurrently; try again") from None
            return _stored(row)
        result = await self.session.execute(
            update(SecretRow)
            .where(SecretRow.id == row.id, SecretRow.version == version - 1)
            .values(
                version=version,
                key_id=key_id,
                ciphertext=ciphertext,
                updated_at=now,
                updated_by=updated_by,
            )
        )
        if getattr(result, "rowcount", 1) != 1:
            raise Conflict(f"secret {name!r} was set concurrently; try again", secret=name)
        await self.session.refresh(row)
        return _stored(row)

    async def in_namespace(self, namespace_id: str) -> list[StoredSecret]:
        rows = await self.session.scalars(
            select(SecretRow).where(SecretRow.namespace_id == namespace_id).order_by(SecretRow.name)
        )
        return [_stored(row) for row in rows]

    async def named(self, namespace_id: str, names: Sequence[str]) -> list[StoredSecret]:
        if not names:
            return []
        rows = await self.session.scalars(
            select(SecretRow).where(
                SecretRow.namespace_id == namespace_id, SecretRow.name.in_(list(names))
            )
        )
        return [_stored(row) for row in rows]

    async def delete(self, namespace_id: str, name: str) -> StoredSecret:
        stored = await self.get(namespace_id, name)
        await self.session.execute(delete(SecretRow).where(SecretRow.id == stored.id))
        return stored

    async def delete_namespace(self, namespace_id: str) -> int:
        result = await self.session.execute(
            delete(SecretRow).where(SecretRow.namespace_id == namespace_id)
        )
        return int(getattr(result, "rowcount", 0) or 0)

    # rotation

    async def sealed_with_other_keys(self, key_id: str, limit: int) -> list[StoredSecret]:
        rows = await self.session.scalars(
            select(SecretRow).where(SecretRow.key_id != key_id).order_by(SecretRow.id).limit(limit)
        )
        return [_stored(row) for row in rows]

    async def count_sealed_with_other_keys(self, key_id: str) -> int:
        count = await self.session.scalar(
            select(func.count()).select_from(SecretRow).where(SecretRow.key_id != key_id)
        )
        return int(count or 0)

    async def reseal(self, stored: StoredSecret, *, key_id: str, ciphertext: bytes) -> bool:
        """Replace a row's ciphertext if it is still the one read (a set in between wins)."""
        result = await self.session.execute(
            update(SecretRow)
            .where(
                SecretRow.id == stored.id,
                SecretRow.version == stored.info.version,
                SecretRow.key_id == stored.key_id,
            )
            .values(key_id=key_id, ciphertext=ciphertext)
        )
        return bool(getattr(result, "rowcount", 0) == 1)
