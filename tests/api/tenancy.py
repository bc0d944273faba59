"""Test helpers for namespaces, members and keys: people and keys made on the database
directly, until the identity part's sign-in routes make them over the API."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sandlot.domain.ids import hash_api_key, new_api_key
from sandlot.domain.models import Role
from sandlot.storage.keys import ApiKeyRepo
from sandlot.storage.namespaces import NamespaceRepo
from sandlot.storage.tables import MembershipRow, UserRow
from tests.conftest import Api

Auth = dict[str, str]
# Where the rows go: the app's own database, or a running server's, through a session factory.
Target = Api | async_sessionmaker[AsyncSession]


def _sessions(target: Target) -> async_sessionmaker[AsyncSession]:
    return target.runtime.database.sessions if isinstance(target, Api) else target


def bearer(key: str) -> Auth:
    return {"Authorization": f"Bearer {key}"}


async def add_user(api: Target, login: str, *, platform_admin: bool = False) -> str:
    """A person (no usable password: these tests act through their keys)."""
    user_id = str(uuid.uuid4())
    async with _sessions(api).begin() as session:
        session.add(
            UserRow(
                id=user_id,
                login=login,
                display_name=login.title(),
                password_hash="not-a-hash",
                platform_admin=platform_admin,
                created_at=datetime.now(UTC),
            )
        )
    return user_id


async def add_membership(api: Target, namespace: str, user_id: str, role: Role) -> None:
    async with _sessions(api).begin() as session:
        found = await NamespaceRepo(session).get_by_name(namespace)
        assert found is not None
        session.add(
            MembershipRow(
                namespace_id=found.id,
                user_id=user_id,
                role=role.value,
                created_at=datetime.now(UTC),
            )
        )


async def key_in(
    api: Target,
    namespace: str,
    role: Role,
    *,
    user_id: str | None = None,
    functions: tuple[str, ...] | None = None,
    name: str = "test key",
) -> tuple[str, Auth]:
    """A key of `namespace` (its id and auth header), made on the database; the namespace is
    made too if it does not exist."""
    key, prefix = new_api_key()
    async with _sessions(api).begin() as session:
        namespaces = NamespaceRepo(session)
        found = await namespaces.get_by_name(namespace) or await namespaces.create(namespace)
        created = await ApiKeyRepo(session).create(
            namespace_id=found.id,
            name=name,
            role=role,
            prefix=prefix,
            key_hash=hash_api_key(key),
            user_id=user_id,
            functions=functions,
        )
    return created.id, bearer(key)
