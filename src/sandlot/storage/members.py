"""Members: people's roles in namespaces, and the little of users that membership needs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import ColumnElement, Delete, Update, and_, delete, exists, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from sandlot.domain.errors import LastNamespaceOwner, MemberAlreadyExists, MemberNotFound
from sandlot.domain.models import Member, Role
from sandlot.storage.db import storable
from sandlot.storage.tables import MembershipRow, UserRow


@dataclass(frozen=True)
class UserRef:
    """Who a login names, as far as membership cares."""

    id: str
    login: str
    display_name: str
    platform_admin: bool
    disabled: bool


def _member(row: MembershipRow, user: UserRow) -> Member:
    return Member(
        namespace_id=row.namespace_id,
        user_id=row.user_id,
        login=user.login,
        display_name=user.display_name,
        role=Role(row.role),
        created_at=row.created_at,
    )


class MemberRepo:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def user_by_login(self, login: str) -> UserRef | None:
        if not storable(login):
            return None  # no stored login can equal it
        row = await self.session.scalar(select(UserRow).where(UserRow.login == login))
        if row is None:
            return None
        return UserRef(
            id=row.id,
            login=row.login,
            display_name=row.display_name,
            platform_admin=row.platform_admin,
            disabled=row.disabled_at is not None,
        )

    async def in_namespace(self, namespace_id: str) -> list[Member]:
        query = (
            select(MembershipRow, UserRow)
            .join(UserRow, UserRow.id == MembershipRow.user_id)
            .where(MembershipRow.namespace_id == namespace_id)
            .order_by(UserRow.login)
        )
        return [_member(row, user) for row, user in await self.session.execute(query)]

    async def get(self, namespace_id: str, user_id: str) -> Member | None:
        query = (
            select(MembershipRow, UserRow)
            .join(UserRow, UserRow.id == MembershipRow.user_id)
            .where(MembershipRow.namespace_id == namespace_id, MembershipRow.user_id == user_id)
        )
        found = (await self.session.execute(query)).first()
        return _member(*found) if found else None

    async def role_of(self, namespace_id: str, user_id: str) -> Role | None:
        role = await self.session.scalar(
            select(MembershipRow.role).where(
                MembershipRow.namespace_id == namespace_id, MembershipRow.user_id == user_id
            )
        )
        return Role(role) if role else None

    async def add(self, namespace_id: str, user: UserRef, role: Role) -> Member:
        if await self.role_of(namespace_id, user.id) is not None:
            raise _already(user.login)
        row = MembershipRow(
            namespace_id=namespace_id,
            user_id=user.id,
            role=role.value,
            created_at=datetime.now(UTC),
        )
        self.session.add(row)
        try:
            await self.session.flush()
        except IntegrityError as exc:  # added at the same moment by someone else
            raise _already(user.login) from exc
        member = await self.get(namespace_id, user.id)
        assert member is not None
        return member

    async def set_role(self, namespace_id: str, user_id: str, role: Role) -> Member:
        """Change a member's role; never demote the namespace's last owner."""
        keeps_owner = role is Role.OWNER
        await self._change(
            namespace_id,
            user_id,
            update(MembershipRow).values(role=role.value),
            allowed_always=keeps_owner,
        )
        member = await self.get(namespace_id, user_id)
        assert member is not None
        return member

    async def remove(self, namespace_id: str, user_id: str) -> None:
        """End a membership; never the namespace's last owner's."""
        await self._change(namespace_id, user_id, delete(MembershipRow), allowed_always=False)

    async def _change(
        self,
        namespace_id: str,
        user_id: str,
        statement: Update | Delete,
        *,
        allowed_always: bool,
    ) -> None:
        """Run an UPDATE or DELETE of one membership, guarded so that the namespace keeps an
        owner. The check and the write are one statement, as for the last admin key: on
        SQLite writers are serialised; on PostgreSQL the owner rows are locked first, so two
        owners demoting each other at once cannot both succeed."""
        current = await self.role_of(namespace_id, user_id)
        if current is None:
            raise MemberNotFound("that person is not a member of this namespace", user_id=user_id)
        if current is Role.OWNER:
            await self.session.execute(
                select(MembershipRow.user_id)
                .where(_owner(MembershipRow, namespace_id))
                .with_for_update()
            )
        other = aliased(MembershipRow)
        another_owner = exists().where(_owner(other, namespace_id), other.user_id != user_id)
        guard = or_(MembershipRow.role != Role.OWNER.value, another_owner)
        written = await self.session.execute(
            statement.where(
                MembershipRow.namespace_id == namespace_id,
                MembershipRow.user_id == user_id,
                guard if not allowed_always else MembershipRow.user_id == user_id,
            ).execution_options(synchronize_session=False)
        )
        if written.rowcount == 0:  # type: ignore[attr-defined]
            if await self.role_of(namespace_id, user_id) is None:
                raise MemberNotFound(
                    "that person is not a member of this namespace", user_id=user_id
                )
            raise LastNamespaceOwner(
                "this is the namespace's last owner: make another member owner first",
                user_id=user_id,
            )


def _owner(table: type[MembershipRow], namespace_id: str) -> ColumnElement[bool]:
    return and_(table.namespace_id == namespace_id, table.role == Role.OWNER.value)


def _already(login: str) -> MemberAlreadyExists:
    return MemberAlreadyExists(
        f"{login!r} is already a member of this namespace; change their role instead",
        login=login,
    )
