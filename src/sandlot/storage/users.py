"""Users and the memberships they hold (read here; tenancy manages them)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from sandlot.domain.errors import UserAlreadyExists, UserNotFound
from sandlot.domain.models import Membership, Role, User
from sandlot.storage.tables import MembershipRow, NamespaceRow, UserRow


def _user(row: UserRow) -> User:
    return User(
        id=row.id,
        login=row.login,
        display_name=row.display_name,
        platform_admin=row.platform_admin,
        created_at=row.created_at,
        disabled_at=row.disabled_at,
    )


class UserRepo:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def create(
        self, *, login: str, display_name: str, password_hash: str, platform_admin: bool = False
    ) -> User:
        row = UserRow(
            id=str(uuid.uuid4()),
            login=login,
            display_name=display_name,
            password_hash=password_hash,
            platform_admin=platform_admin,
            created_at=datetime.now(UTC),
        )
        self.session.add(row)
        try:
            # A savepoint, so that a duplicate leaves the caller's transaction usable.
            async with self.session.begin_nested():
                await self.session.flush()
        except IntegrityError as exc:
            raise UserAlreadyExists(f"a user {login!r} already exists", login=login) from exc
        return _user(row)

    async def count(self) -> int:
        return len((await self.session.scalars(select(UserRow.id))).all())

    async def find(self, login: str) -> User | None:
        row = await self.session.scalar(select(UserRow).where(UserRow.login == login))
        return _user(row) if row else None

    async def get(self, login: str) -> User:
        user = await self.find(login)
        if user is None:
            raise UserNotFound(f"no user {login!r}", login=login)
        return user

    async def by_id(self, user_id: str) -> User | None:
        row = await self.session.get(UserRow, user_id)
        return _user(row) if row else None

    async def with_hash(self, login: str) -> tuple[User, str] | None:
        """The user and their password hash, for signing in and nothing else."""
        row = await self.session.scalar(select(UserRow).where(UserRow.login == login))
        return (_user(row), row.password_hash) if row else None

    async def all(self) -> list[User]:
        rows = await self.session.scalars(select(UserRow).order_by(UserRow.login))
        return [_user(row) for row in rows]

    async def update(
        self,
        user_id: str,
        *,
        display_name: str | None = None,
        disabled_at: datetime | None = None,
        enable: bool = False,
    ) -> User:
        values: dict[str, object] = {}
        if display_name is not None:
            values["display_name"] = display_name
        if disabled_at is not None:
            values["disabled_at"] = disabled_at
        elif enable:
            values["disabled_at"] = None
        if values:
            await self.session.execute(
                update(UserRow).where(UserRow.id == user_id).values(**values)
            )
        row = await self.session.get(UserRow, user_id, populate_existing=True)
        assert row is not None, f"user {user_id} is missing"
        return _user(row)

    async def set_password_hash(self, user_id: str, password_hash: str) -> None:
        await self.session.execute(
            update(UserRow).where(UserRow.id == user_id).values(password_hash=password_hash)
        )

    async def memberships(self, user_id: str) -> list[Membership]:
        """The user's roles in live namespaces, by namespace name."""
        query = (
            select(MembershipRow.namespace_id, NamespaceRow.name, MembershipRow.role)
            .join(NamespaceRow, NamespaceRow.id == MembershipRow.namespace_id)
            .where(MembershipRow.user_id == user_id, NamespaceRow.deleted_at.is_(None))
            .order_by(NamespaceRow.name)
        )
        rows = (await self.session.execute(query)).all()
        return [
            Membership(namespace_id=ns_id, namespace=name, role=Role(role))
            for ns_id, name, role in rows
        ]

    async def add_membership(self, *, namespace_id: str, user_id: str, role: Role) -> None:
        self.session.add(
            MembershipRow(
                namespace_id=namespace_id,
                user_id=user_id,
                role=role.value,
                created_at=datetime.now(UTC),
            )
        )
        await self.session.flush()
