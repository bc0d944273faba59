"""API keys: first-start bootstrap, authentication, and key management."""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from sandlot.domain.actions import Action
from sandlot.domain.errors import (
    InvalidInput,
    InvalidRole,
    PermissionDenied,
    RoleTooHigh,
    Unauthenticated,
)
from sandlot.domain.ids import api_key_prefix, hash_api_key, new_api_key
from sandlot.domain.limits import check_function_name
from sandlot.domain.models import ApiKey, Namespace, Principal, Role
from sandlot.services import audit
from sandlot.services.authz import allowed, authorize, is_platform_admin
from sandlot.services.caches import TtlCache
from sandlot.services.secret_keys import Keyring, Sealed
from sandlot.storage.keys import ApiKeyRepo, NamespaceRepo, SealedCopy

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


def sigv4_aad(key_id: str) -> bytes:
    """Binds a key's sealed copy to its row: moved to another row, it does not open."""
    return f"sandlot-api-key:{key_id}".encode()


def seal_key(keyring: Keyring, key_id: str, key: str) -> SealedCopy:
    """The copy of a key that the server keeps, sealed, to verify AWS Signature Version 4
    requests signed with it (`services.lambda_auth`)."""
    sealed = keyring.seal(key.encode(), sigv4_aad(key_id))
    return SealedCopy(sealed.key_id, sealed.ciphertext)


def open_key(keyring: Keyring, key_id: str, copy: SealedCopy) -> str:
    return keyring.open(Sealed(copy.key_id, copy.ciphertext), sigv4_aad(key_id)).decode()


async def bootstrap(
    *, session: AsyncSession, bootstrap_key: str | None, key_file: Path, keyring: Keyring
) -> BootstrapResult:
    """On the first start, create the default namespace and an admin key."""
    namespaces = NamespaceRepo(session)
    if await namespaces.get_by_name(DEFAULT_NAMESPACE) is not None:
        return BootstrapResult(created=False, key=None)
    namespace = await namespaces.create(DEFAULT_NAMESPACE)
    await _audit_namespace_created(session, namespace, actor=BOOTSTRAP_ACTOR, address=None)
    if bootstrap_key:
        key, prefix = bootstrap_key, api_key_prefix(bootstrap_key) or "bootstrap"
    else:
        key, prefix = new_api_key()
    key_id = str(uuid.uuid4())
    created = await ApiKeyRepo(session).create(
        namespace_id=namespace.id,
        name="bootstrap admin",
        role=Role.ADMIN,
        prefix=prefix,
        key_hash=hash_api_key(key),
        key_id=key_id,
        sigv4=seal_key(keyring, key_id, key),
    )
    await _audit_key_created(session, None, created, actor=BOOTSTRAP_ACTOR)
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


def parse_role(role: str) -> Role:
    try:
        return Role(role)
    except ValueError as exc:
        raise InvalidRole(
            f"unknown role {role!r}; use one of {[r.value for r in Role]}", role=role
        ) from exc


def role_ceiling(principal: Principal) -> Role:
    """The highest role this caller may hand out: their own."""
    return Role.ADMIN if is_platform_admin(principal) else principal.role


def check_grant(principal: Principal, role: Role) -> None:
    ceiling = role_ceiling(principal)
    if not ceiling.covers(role):
        raise RoleTooHigh(
            f"a caller with role {ceiling.value!r} may not grant {role.value!r}, a higher one",
            role=role.value,
            your_role=ceiling.value,
        )


@dataclass(frozen=True)
class KeyRequest:
    """What a new key is: its name and role; optionally the functions it is limited to and
    when it expires (`expires_at`, or `expires_in_days` from now, not both)."""

    name: str
    role: str = Role.DEVELOPER.value
    functions: list[str] | None = None
    expires_at: datetime | None = None
    expires_in_days: int | None = None


async def create_key(
    *,
    session: AsyncSession,
    principal: Principal,
    request: KeyRequest,
    keyring: Keyring,
    actor: str | None = None,
    address: str | None = None,
) -> tuple[ApiKey, str]:
    """A key in the caller's namespace, never above the caller's role, wider than a limited
    caller's functions, nor living longer than the key that makes it. A person may always
    make keys for themselves; a key makes keys only with `KEY_MANAGE` (an owner's), since a
    key has no person to answer for what it makes. `actor` and `address` name the caller in
    the audit log when the principal is a stand-in (the offline key's operator)."""
    if principal.user_id is None:
        authorize(principal, Action.KEY_MANAGE)
    role = parse_role(request.role)
    check_grant(principal, role)
    if not request.name.strip() or len(request.name) > 200:
        raise InvalidInput("a key name must be 1 to 200 characters")
    functions = _key_functions(principal, request.functions)
    keys = ApiKeyRepo(session)
    expires_at = _no_later(
        _expiry(request.expires_at, request.expires_in_days),
        await keys.expiry_of(principal.key_id),
    )
    key, prefix = new_api_key()
    key_id = str(uuid.uuid4())
    created = await keys.create(
        namespace_id=principal.namespace_id,
        name=request.name,
        role=role,
        prefix=prefix,
        key_hash=hash_api_key(key),
        user_id=principal.user_id,
        functions=functions,
        expires_at=expires_at,
        key_id=key_id,
        sigv4=seal_key(keyring, key_id, key),
    )
    # With an `actor` given, the principal is a stand-in: its key id names nobody.
    by = None if actor else principal
    await _audit_key_created(session, by, created, actor=actor, address=address)
    return created, key


async def _audit_key_created(
    session: AsyncSession,
    principal: Principal | None,
    key: ApiKey,
    *,
    actor: str | None = None,
    address: str | None = None,
) -> None:
    # The key's id, name, role, scope and public prefix: never the key.
    await audit.record(
        session,
        principal=principal,
        action="key.create",
        target=f"key:{key.id}",
        namespace_id=key.namespace_id,
        detail={
            "name": key.name,
            "role": key.role.value,
            "prefix": key.prefix,
            "functions": list(key.functions) if key.functions is not None else None,
            "expires_at": key.expires_at.isoformat() if key.expires_at else None,
        },
        actor=actor,
        address=address,
    )


async def _audit_namespace_created(
    session: AsyncSession, namespace: Namespace, *, actor: str, address: str | None
) -> None:
    await audit.record(
        session,
        principal=None,
        actor=actor,
        address=address,
        action="namespace.create",
        target=f"namespace:{namespace.name}",
        namespace_id=namespace.id,
    )


MAX_KEY_FUNCTIONS = 100
MAX_KEY_DAYS = 3650


def _key_functions(principal: Principal, names: list[str] | None) -> tuple[str, ...] | None:
    """The validated scope of a new key. A limited caller's keys are limited to (some of) its
    own functions: without a list they inherit its scope."""
    if names is None:
        return tuple(sorted(principal.functions)) if principal.functions is not None else None
    if not names or len(names) > MAX_KEY_FUNCTIONS:
        raise InvalidInput(
            f"'functions' lists 1 to {MAX_KEY_FUNCTIONS} function names (leave it out for all)"
        )
    scope = tuple(sorted({check_function_name(name) for name in names}))
    reach = set(scope) if principal.functions is None else set(principal.functions)
    wider = sorted(set(scope) - reach)
    if wider:
        raise PermissionDenied(
            f"this key is limited to {sorted(principal.functions or ())}; it may not make a "
            f"key for {wider}",
            functions=wider,
        )
    return scope


def _no_later(wanted: datetime | None, creator: datetime | None) -> datetime | None:
    """A key made by a key that expires never outlives it: access would outlast its end."""
    if creator is None:
        return wanted
    return creator if wanted is None else min(wanted, creator)


def _expiry(expires_at: datetime | None, in_days: int | None) -> datetime | None:
    now = datetime.now(UTC)
    if expires_at is not None and in_days is not None:
        raise InvalidInput("give either 'expires_at' or 'expires_in_days', not both")
    if in_days is not None:
        if not 1 <= in_days <= MAX_KEY_DAYS:
            raise InvalidInput(f"'expires_in_days' must be 1 to {MAX_KEY_DAYS}", value=in_days)
        return now + timedelta(days=in_days)
    if expires_at is None:
        return None
    if expires_at.tzinfo is None:
        raise InvalidInput("'expires_at' needs a time zone, e.g. 2027-01-31T00:00:00Z")
    if expires_at <= now or expires_at > now + timedelta(days=MAX_KEY_DAYS):
        raise InvalidInput(
            f"'expires_at' must be in the future and within {MAX_KEY_DAYS} days",
            expires_at=expires_at.isoformat(),
        )
    return expires_at.astimezone(UTC)


async def create_key_offline(
    *,
    session: AsyncSession,
    name: str,
    role: str,
    operator: str,
    host: str,
    keyring: Keyring,
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
        await _audit_namespace_created(session, namespace, actor=actor, address=host)
    stand_in = Principal(
        key_id="offline",
        namespace_id=namespace.id,
        namespace=namespace.name,
        role=Role.ADMIN,
        platform_admin=True,
    )
    return await create_key(
        session=session,
        principal=stand_in,
        request=KeyRequest(name=name, role=role),
        keyring=keyring,
        actor=actor,
        address=host,
    )


async def list_keys(*, session: AsyncSession, principal: Principal) -> list[ApiKey]:
    """Owners (and the platform admin) see every key of the namespace; anyone else only their
    own: a person's keys, or for a key, itself."""
    keys = ApiKeyRepo(session)
    if allowed(principal, Action.KEY_MANAGE):
        return await keys.in_namespace(principal.namespace_id)
    return await keys.own(
        principal.namespace_id, user_id=principal.user_id, key_id=principal.key_id
    )


def _is_own(principal: Principal, key: ApiKey) -> bool:
    return key.id == principal.key_id or (
        principal.user_id is not None and key.user_id == principal.user_id
    )


async def revoke_key(
    *, session: AsyncSession, principal: Principal, key_id: str, cache: KeyCache
) -> ApiKey:
    """Revoke a key of the namespace: one's own always; another's with `KEY_MANAGE`, and never
    one whose role is above the caller's."""
    keys = ApiKeyRepo(session)
    key = await keys.get(principal.namespace_id, key_id)
    if not _is_own(principal, key):
        authorize(principal, Action.KEY_MANAGE)
        if not role_ceiling(principal).covers(key.role):
            raise RoleTooHigh(
                f"a key with role {key.role.value!r} is above yours; you may not revoke it",
                role=key.role.value,
                your_role=role_ceiling(principal).value,
            )
    already = key.revoked_at is not None
    revoked = await keys.revoke(namespace_id=principal.namespace_id, key_id=key_id)
    if not already:
        await audit.record(
            session,
            principal=principal,
            action="key.revoke",
            target=f"key:{key_id}",
            namespace_id=principal.namespace_id,
            detail={"name": key.name, "role": key.role.value, "prefix": key.prefix},
        )
    cache.clear()  # we only know hashes in the cache, not ids: drop them all
    return revoked
