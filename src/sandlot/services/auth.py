"""API keys: first-start bootstrap, authentication, and key management."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from sandlot.domain.errors import InvalidInput, PermissionDenied, Unauthenticated
from sandlot.domain.ids import api_key_prefix, hash_api_key, new_api_key
from sandlot.domain.models import ApiKey, Principal, Role
from sandlot.services import audit
from sandlot.services.caches import TtlCache
from sandlot.storage.keys import ApiKeyRepo, NamespaceRepo

DEFAULT_NAMESPACE = "default"
# Who the audit log names for what the first start creates.
BOOTSTRAP_ACTOR = "system:bootstrap"


@dataclass(frozen=True)
class BootstrapResult:
    created: bool
    key: str | None  # the new admin key, when one was generated or taken from settings


class KeyCache(TtlCache[str, Principal]):
    """Key hash -> principal, so authenticating an invocation reads no database
    (`services.authenticator` uses it)."""


async def bootstrap(
    *, session: AsyncSession, bootstrap_key: str | None, key_file: Path
) -> BootstrapResult:
    """On the first start, create the default namespace and an admin key."""
    namespaces = NamespaceRepo(session)
    if await namespaces.get_by_name(DEFAULT_NAMESPACE) is not None:
        return BootstrapResult(created=False, key=None)
    namespace = await namespaces.create(DEFAULT_NAMESPACE)
    await audit.record(
        session,
        principal=None,
        actor=BOOTSTRAP_ACTOR,
        action="namespace.create",
        target=f"namespace:{namespace.name}",
        namespace_id=namespace.id,
    )
    if bootstrap_key:
        key, prefix = bootstrap_key, api_key_prefix(bootstrap_key) or "bootstrap"
    else:
        key, prefix = new_api_key()
    created = await ApiKeyRepo(session).create(
        namespace_id=namespace.id,
        name="bootstrap admin",
        role=Role.ADMIN,
        prefix=prefix,
        key_hash=hash_api_key(key),
    )
    await _audit_key(session, None, "key.create", created, actor=BOOTSTRAP_ACTOR)
    if not bootstrap_key:
        _write_secret(key_file, key)
    return BootstrapResult(created=True, key=key)


def _write_secret(path: Path, secret: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(secret + "\n")
    path.chmod(0o600)


def bearer_key(authorization: str | None) -> str:
    if not authorization:
        raise Unauthenticated("missing 'Authorization: Bearer <key>' header")
    scheme, _, key = authorization.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise Unauthenticated("the Authorization header must be 'Bearer <key>'")
    return key.strip()


def require_role(principal: Principal, allowed: frozenset[Role], action: str) -> None:
    if principal.role not in allowed:
        raise PermissionDenied(
            f"a key with role {principal.role.value!r} may not {action}",
            role=principal.role.value,
            allowed=sorted(role.value for role in allowed),
        )


async def create_key(
    *,
    session: AsyncSession,
    principal: Principal,
    name: str,
    role: str,
    actor: str | None = None,
    address: str | None = None,
) -> tuple[ApiKey, str]:
    """`actor` and `address` name the caller in the audit log when the principal is not a
    real caller (the offline key's operator)."""
    try:
        parsed = Role(role)
    except ValueError as exc:
        raise InvalidInput(
            f"unknown role {role!r}; use one of {[r.value for r in Role]}", role=role
        ) from exc
    if not name.strip() or len(name) > 200:
        raise InvalidInput("a key name must be 1 to 200 characters")
    key, prefix = new_api_key()
    created = await ApiKeyRepo(session).create(
        namespace_id=principal.namespace_id,
        name=name,
        role=parsed,
        prefix=prefix,
        key_hash=hash_api_key(key),
    )
    # With an `actor` given, the principal is a stand-in: its key id names nobody.
    by = None if actor else principal
    await _audit_key(session, by, "key.create", created, actor=actor, address=address)
    return created, key


async def _audit_key(
    session: AsyncSession,
    principal: Principal | None,
    action: str,
    key: ApiKey,
    *,
    actor: str | None = None,
    address: str | None = None,
) -> None:
    # The key's id, name, role and public prefix: never the key.
    await audit.record(
        session,
        principal=principal,
        action=action,
        target=f"key:{key.id}",
        namespace_id=key.namespace_id,
        detail={"name": key.name, "role": key.role.value, "prefix": key.prefix},
        actor=actor,
        address=address,
    )


async def create_key_offline(
    *, session: AsyncSession, name: str, role: str, operator: str, host: str
) -> tuple[ApiKey, str]:
    """A key in the default namespace, made on the database directly, without a key: the
    recovery when no admin key is left. Whoever can write the database owns it anyway.
    Makes the namespace if no server has started yet. `operator` (the local user who ran it)
    and `host` (this machine) are what the audit log records as who and from where."""
    namespaces = NamespaceRepo(session)
    namespace = await namespaces.get_by_name(DEFAULT_NAMESPACE)
    actor = f"offline:{operator}"
    if namespace is None:
        namespace = await namespaces.create(DEFAULT_NAMESPACE)
        await audit.record(
            session,
            principal=None,
            actor=actor,
            address=host,
            action="namespace.create",
            target=f"namespace:{namespace.name}",
            namespace_id=namespace.id,
        )
    stand_in = Principal(
        key_id="offline", namespace_id=namespace.id, namespace=namespace.name, role=Role.ADMIN
    )
    return await create_key(
        session=session, principal=stand_in, name=name, role=role, actor=actor, address=host
    )


async def list_keys(*, session: AsyncSession, principal: Principal) -> list[ApiKey]:
    return await ApiKeyRepo(session).in_namespace(principal.namespace_id)


async def revoke_key(
    *, session: AsyncSession, principal: Principal, key_id: str, cache: KeyCache
) -> ApiKey:
    keys = ApiKeyRepo(session)
    before = next(
        (key for key in await keys.in_namespace(principal.namespace_id) if key.id == key_id), None
    )
    revoked = await keys.revoke(namespace_id=principal.namespace_id, key_id=key_id)
    if before is not None and before.revoked_at is None:  # revoking twice changes nothing
        await _audit_key(session, principal, "key.revoke", revoked)
    cache.clear()  # we only know hashes in the cache, not ids: drop them all
    return revoked
