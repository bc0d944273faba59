"""Where a caller acts: the namespace a request names in `X-Sandlot-Namespace`, checked
against what the caller may reach, and the principal that results.

A key acts in its own namespace (a platform admin key, role `admin`, in any it names). A user
acts in a namespace they are a member of, with their role there (the platform admin in any,
as `admin`); without the header, in `default` if they are a member, else in their first
namespace by name. Any other name is `NamespaceNotFound`, the same answer as for a namespace
that does not exist or was deleted, so that nobody learns which namespaces exist.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sandlot.domain.errors import NamespaceNotFound
from sandlot.domain.models import Membership, Namespace, Principal, Role
from sandlot.services.caches import TtlCache
from sandlot.storage.credentials import live_namespace
from sandlot.storage.sessions import StoredSession

DEFAULT_NAMESPACE = "default"


@dataclass(frozen=True)
class SessionEntry:
    """A signed-in session as the authenticator caches it: its user and memberships."""

    stored: StoredSession
    memberships: tuple[Membership, ...]


class NamespaceChooser:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], *, ttl_s: float) -> None:
        self._sessions = sessions
        self._namespaces: TtlCache[str, Namespace] = TtlCache(ttl_s=ttl_s)
        # (key id, address) -> (the key's principal, it at that address): a warm invocation
        # reuses the principal instead of copying it (dataclasses.replace costs ~2 us).
        self._placed: dict[tuple[str, str | None], tuple[Principal, Principal]] = {}

    def forget(self, name: str) -> None:
        self._namespaces.discard(name)

    async def for_key(
        self, key: Principal, namespace: str | None, address: str | None
    ) -> Principal:
        acting = self._at(key, address)
        if namespace is None or namespace == key.namespace:
            return acting
        if key.platform_admin:
            found = await self._live(namespace)
            if found is not None:
                return dataclasses.replace(acting, namespace_id=found.id, namespace=found.name)
        raise no_namespace(namespace)

    def _at(self, key: Principal, address: str | None) -> Principal:
        placed = self._placed.get((key.key_id, address))
        if placed is not None and placed[0] is key:
            return placed[1]
        if len(self._placed) >= 10_000:
            self._placed.clear()  # bounded; a miss only costs a copy
        acting = dataclasses.replace(key, address=address)
        self._placed[(key.key_id, address)] = (key, acting)
        return acting

    async def for_user(
        self, entry: SessionEntry, namespace: str | None, address: str | None
    ) -> Principal:
        stored = entry.stored
        member = _membership(entry.memberships, namespace)
        if stored.platform_admin:
            chosen = namespace or (member.namespace if member else DEFAULT_NAMESPACE)
            found = await self._live(chosen)
            if found is None:
                raise no_namespace(chosen)
            namespace_id, name, role = found.id, found.name, Role.ADMIN
        elif member is not None:
            namespace_id, name, role = member.namespace_id, member.namespace, member.role
        elif namespace is None:
            raise NamespaceNotFound(
                "you are not a member of any namespace yet; ask an owner to add you"
            )
        else:
            raise no_namespace(namespace)
        return Principal(
            key_id=f"session:{stored.id}",  # the session's public id, never its token
            namespace_id=namespace_id,
            namespace=name,
            role=role,
            user_id=stored.user_id,
            login=stored.login,
            platform_admin=stored.platform_admin,
            address=address,
        )

    async def _live(self, name: str) -> Namespace | None:
        found = self._namespaces.get(name)
        if found is None:
            async with self._sessions() as session:
                found = await live_namespace(session, name)
            if found is not None:
                self._namespaces.put(name, found)
        return found


def _membership(memberships: tuple[Membership, ...], namespace: str | None) -> Membership | None:
    """The membership named, or without a name the `default` one, else the first by name."""
    if namespace is not None:
        return next((m for m in memberships if m.namespace == namespace), None)
    chosen = next((m for m in memberships if m.namespace == DEFAULT_NAMESPACE), None)
    return chosen or (memberships[0] if memberships else None)


def no_namespace(name: str) -> NamespaceNotFound:
    return NamespaceNotFound(f"no namespace {name!r} that you can act in", namespace=name)
