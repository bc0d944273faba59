"""Browser sessions, found by their token's hash."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from sandlot.storage.tables import SessionRow, UserRow


@dataclass(frozen=True)
class StoredSession:
    id: str
    user_id: str
    login: str
    display_name: str
    platform_admin: bool
    created_at: datetime
    last_seen_at: datetime


class SessionRepo:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def create(
        self, *, token_hash: str, user_id: str, now: datetime, address: str | None
    ) -> str:
        session_id = str(uuid.uuid4())
        self.session.add(
            SessionRow(
                token_hash=token_hash,
                id=session_id,
                user_id=user_id,
                created_at=now,
                last_seen_at=now,
                address=(address or "")[:64] or None,
            )
        )
        await self.session.flush()
        return session_id

    async def find(self, token_hash: str) -> StoredSession | None:
        """The session and its user, if the user is not disabled."""
        query = (
            select(SessionRow, UserRow.login, UserRow.display_name, UserRow.platform_admin)
            .join(UserRow, UserRow.id == SessionRow.user_id)
            .where(SessionRow.token_hash == token_hash, UserRow.disabled_at.is_(None))
        )
        found = (await self.session.execute(query)).first()
        if found is None:
            return None
        row, login, display_name, platform_admin = found
        return StoredSession(
            id=row.id,
            user_id=row.user_id,
            login=login,
            display_name=display_name,
            platform_admin=platform_admin,
            created_at=row.created_at,
            last_seen_at=row.last_seen_at,
        )

    async def touch(self, token_hash: str, now: datetime) -> None:
        await self.session.execute(
            update(SessionRow).where(SessionRow.token_hash == token_hash).values(last_seen_at=now)
        )

    async def delete(self, token_hash: str) -> None:
        await self.session.execute(delete(SessionRow).where(SessionRow.token_hash == token_hash))

    async def delete_for_user(self, user_id: str, *, keep: str | None = None) -> None:
        """End the user's sessions, but the one whose token hash is `keep`."""
        query = delete(SessionRow).where(SessionRow.user_id == user_id)
        if keep is not None:
            query = query.where(SessionRow.token_hash != keep)
        await self.session.execute(query)

    async def delete_older(self, *, created_before: datetime, seen_before: datetime) -> int:
        """Sweep sessions past either expiry; returns how many went."""
        result = await self.session.execute(
            delete(SessionRow).where(
                (SessionRow.created_at < created_before) | (SessionRow.last_seen_at < seen_before)
            )
        )
        return int(result.rowcount)  # type: ignore[attr-defined]
