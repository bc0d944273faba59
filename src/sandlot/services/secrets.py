"""A namespace's secrets: set, list, show (never the value) and delete them; check the names a
deploy uses; resolve their values when an instance starts.

Only the current value of a secret is kept. Each set makes version n+1 (the version is part of
what the ciphertext is bound to, and tells the pool which instances are stale), but the old
ciphertext is overwritten: a value replaced because it leaked should not linger in the
database, and in every backup taken after, where an old key might one day open it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession

from sandlot.domain.actions import Action
from sandlot.domain.errors import PermissionDenied, SecretInUse, SecretMissing, SecretTooLarge
from sandlot.domain.models import Function, Principal, Version
from sandlot.domain.secrets import (
    SecretInfo,
    SecretMount,
    SecretRef,
    StoredSecret,
    check_secret_name,
    check_secret_value,
    secret_aad,
)
from sandlot.services import audit
from sandlot.services.authz import authorize
from sandlot.services.secret_keys import Keyring, Sealed
from sandlot.storage.functions import VersionRepo
from sandlot.storage.secrets import SecretRepo

# Far below what exec accepts for a whole environment (about a quarter of the stack limit),
# so that a start never fails on E2BIG; files have no such bound.
ENV_SECRETS_MAX_BYTES = 512 * 1024

if TYPE_CHECKING:  # at run time these import this module (through specs)
    from sandlot.services.activation import Activator
    from sandlot.services.catalog import Catalog
    from sandlot.worker.interface import Pool


@dataclass(frozen=True)
class SecretView:
    """A secret as the API shows it: metadata, and which live functions name it."""

    info: SecretInfo
    used_by: list[str]


@dataclass(frozen=True)
class SecretSet:
    info: SecretInfo
    # Versions whose warm instances, spares and zygotes hold the old value: the caller
    # retires them in the pool after the commit, and drops their cached specs.
    stale: list[tuple[Function, int]]


@dataclass(frozen=True)
class ResolvedSecrets:
    """Values for one instance start: never stored, never logged (no repr of values)."""

    env: dict[str, str] = field(default_factory=dict, repr=False)
    files: dict[str, str] = field(default_factory=dict, repr=False)


async def set_secret(
    *, session: AsyncSession, principal: Principal, keyring: Keyring, name: str, value: str
) -> SecretSet:
    _authorize(principal, Action.SECRET_WRITE)
    check_secret_name(name)
    plaintext = check_secret_value(value)
    repo = SecretRepo(session)
    version = await repo.next_version(principal.namespace_id, name)
    sealed = keyring.seal(plaintext, secret_aad(principal.namespace_id, name, version))
    stored = await repo.put(
        namespace_id=principal.namespace_id,
        name=name,
        version=version,
        key_id=sealed.key_id,
        ciphertext=sealed.ciphertext,
        updated_by=principal.actor,
    )
    await audit.record(
        session,
        principal=principal,
        action="secret.set",
        target=f"secret:{name}",
        namespace_id=principal.namespace_id,
        detail={"name": name, "version": version},
    )
    users = await _users(session, principal.namespace_id)
    stale = [(function, named.number) for function, named in users.get(name, [])]
    return SecretSet(info=stored.info, stale=stale)


async def list_secrets(*, session: AsyncSession, principal: Principal) -> list[SecretView]:
    _authorize(principal, Action.SECRET_READ)
    stored = await SecretRepo(session).in_namespace(principal.namespace_id)
    users = await _users(session, principal.namespace_id)
    return [SecretView(s.info, _current_users(users.get(s.info.name, []))) for s in stored]


async def get_secret(*, session: AsyncSession, principal: Principal, name: str) -> SecretView:
    _authorize(principal, Action.SECRET_READ)
    stored = await SecretRepo(session).get(principal.namespace_id, name)
    users = await _users(session, principal.namespace_id)
    return SecretView(stored.info, _current_users(users.get(name, [])))


async def delete_secret(*, session: AsyncSession, principal: Principal, name: str) -> SecretInfo:
    """Refused (409) while a live function's current version names it: deleting it would
    make the function's next cold start fail, far from the change that broke it."""
    _authorize(principal, Action.SECRET_WRITE)
    repo = SecretRepo(session)
    await repo.get(principal.namespace_id, name)  # 404 before anything about users
    users = _current_users((await _users(session, principal.namespace_id)).get(name, []))
    if users:
        raise SecretInUse(
            f"secret {name!r} is used by {', '.join(users)}: take it out of their "
            "configuration first (`sandlot config NAME --secret ...` without it, or "
            "`--no-secrets`)",
            secret=name,
            functions=users,
        )
    deleted = await repo.delete(principal.namespace_id, name)
    await audit.record(
        session,
        principal=principal,
        action="secret.delete",
        target=f"secret:{name}",
        namespace_id=principal.namespace_id,
        detail={"name": name, "version": deleted.info.version},
    )
    return deleted.info


def _authorize(principal: Principal, action: Action) -> None:
    """The role check, and no key limited to some functions: a secret is the namespace's,
    and setting one changes every function that names it, not only the key's own."""
    authorize(principal, action)
    if principal.functions is not None:
        raise PermissionDenied(
            "a key limited to some functions may not read or change the namespace's secrets",
            functions=sorted(principal.functions),
        )


async def delete_namespace_secrets(*, session: AsyncSession, namespace_id: str) -> int:
    """For the tenancy part, when a namespace is deleted: its secrets go with it."""
    return await SecretRepo(session).delete_namespace(namespace_id)


async def check_named(
    *, session: AsyncSession, namespace_id: str, refs: Iterable[SecretRef]
) -> None:
    """A deploy may only name secrets its namespace holds (a named 400 otherwise)."""
    names = sorted({ref.name for ref in refs})
    if not names:
        return
    found = {s.info.name for s in await SecretRepo(session).named(namespace_id, names)}
    missing = [name for name in names if name not in found]
    if missing:
        raise SecretMissing(
            f"the function names secrets that namespace has not got: {', '.join(missing)}; "
            "set them first (`sandlot secrets set NAME`)",
            secrets=missing,
        )


async def resolve(
    *, session: AsyncSession, keyring: Keyring, namespace_id: str, refs: Iterable[SecretRef]
) -> ResolvedSecrets:
    """The values an instance of a version gets, opened now (at instance start). A secret
    deleted since the deploy is a clear error of that start, not an empty variable."""
    refs = list(refs)
    if not refs:
        return ResolvedSecrets()
    stored = {s.info.name: s for s in await SecretRepo(session).named(namespace_id, _names(refs))}
    missing = [ref.name for ref in refs if ref.name not in stored]
    if missing:
        raise SecretMissing(
            f"the function names secrets that no longer exist: {', '.join(missing)}",
            secrets=missing,
        )
    resolved = ResolvedSecrets()
    for ref in refs:
        value = open_secret(keyring, stored[ref.name]).decode()
        target = resolved.env if ref.mount is SecretMount.ENV else resolved.files
        target[ref.name] = value
    env_bytes = sum(len(name) + len(value.encode()) + 2 for name, value in resolved.env.items())
    if env_bytes > ENV_SECRETS_MAX_BYTES:
        raise SecretTooLarge(
            f"the secrets this function takes as environment variables come to {env_bytes} "
            f"bytes, more than {ENV_SECRETS_MAX_BYTES} (a process's environment is bounded); "
            'take the large ones as files ("as": "file")',
            size=env_bytes,
            max=ENV_SECRETS_MAX_BYTES,
        )
    return resolved


def open_secret(keyring: Keyring, stored: StoredSecret) -> bytes:
    aad = secret_aad(stored.namespace_id, stored.info.name, stored.info.version)
    return keyring.open(Sealed(stored.key_id, stored.ciphertext), aad)


def _names(refs: Iterable[SecretRef]) -> list[str]:
    return sorted({ref.name for ref in refs})


async def _users(
    session: AsyncSession, namespace_id: str
) -> dict[str, list[tuple[Function, Version]]]:
    """Secret name -> the versions of live functions that name it."""
    users: dict[str, list[tuple[Function, Version]]] = defaultdict(list)
    for function, version in await VersionRepo(session).naming_secrets(namespace_id):
        for ref in version.config.secrets:
            users[ref.name].append((function, version))
    return users


def _current_users(versions: list[tuple[Function, Version]]) -> list[str]:
    """The functions whose current version names the secret: the latest ready one, or the
    newest (a build in flight), which is what the next start of either would need."""
    names = {
        function.name
        for function, version in versions
        if version.number in (function.latest_version, function.version_count)
    }
    return sorted(names)


async def replace_stale(
    *, stale: list[tuple[Function, int]], catalog: Catalog, pool: Pool, activator: Activator
) -> None:
    """After a set committed: what holds the old value goes, so the next call of each
    function starts with the new one. Cached specs first (so no start after this point is
    made from one), then the versions' warm instances, spares and zygotes (busy ones finish
    their call first); then each function's latest version is warmed again if it keeps
    instances warm."""
    functions = {function.id: function for function, _ in stale}
    for function in functions.values():
        catalog.invalidate_function(function)
    for function, number in stale:
        await pool.retire_version(function.id, number)
    for function in functions.values():
        if function.latest_version is not None:
            activator.version_ready(function)
