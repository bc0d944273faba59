"""People: creating, listing, changing and disabling users, their passwords, and the
platform admin made on the first start. Managing users is for the platform admin only
(`Action.USER_MANAGE`); anyone may change their own password with the current one."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from sandlot.domain.actions import Action
from sandlot.domain.errors import (
    InvalidInput,
    PermissionDenied,
    Unauthenticated,
    UserAlreadyExists,
    UserNotFound,
)
from sandlot.domain.models import Membership, Principal, Role, User
from sandlot.services import audit, passwords
from sandlot.services.authz import authorize
from sandlot.storage.keys import NamespaceRepo
from sandlot.storage.sessions import SessionRepo
from sandlot.storage.users import UserRepo

BOOTSTRAP_ADMIN = "admin"
DEFAULT_NAMESPACE = "default"
DISPLAY_NAME_MAX = 200


def _display_name(value: str) -> str:
    value = value.strip()
    if len(value) > DISPLAY_NAME_MAX:
        raise InvalidInput(f"a display name is at most {DISPLAY_NAME_MAX} characters")
    return value


async def create_user(
    *,
    session: AsyncSession,
    principal: Principal,
    login: str,
    password: str,
    display_name: str | None = None,
    platform_admin: bool = False,
) -> User:
    authorize(principal, Action.USER_MANAGE)
    passwords.check_login(login)
    passwords.check_password(password, login=login)
    user = await UserRepo(session).create(
        login=login,
        display_name=_display_name(display_name or login),
        password_hash=await passwords.hash_password(password),
        platform_admin=platform_admin,
    )
    await audit.record(
        session,
        principal=principal,
        action="user.create",
        target=f"user:{login}",
        detail={"platform_admin": platform_admin},
    )
    return user


async def list_users(*, session: AsyncSession, principal: Principal) -> list[User]:
    authorize(principal, Action.USER_MANAGE)
    return await UserRepo(session).all()


async def get_user(
    *, session: AsyncSession, principal: Principal, login: str
) -> tuple[User, list[Membership]]:
    authorize(principal, Action.USER_MANAGE)
    users = UserRepo(session)
    user = await users.get(login)
    return user, await users.memberships(user.id)


async def update_user(
    *,
    session: AsyncSession,
    principal: Principal,
    login: str,
    display_name: str | None = None,
    disabled: bool | None = None,
) -> User:
    """Change a display name, or disable (ending the user's sessions) or enable a user. The
    caller drops the user from the authentication caches once this is committed."""
    authorize(principal, Action.USER_MANAGE)
    users = UserRepo(session)
    user = await users.get(login)
    if disabled and user.id == principal.user_id:
        raise PermissionDenied("you cannot disable yourself", login=login)
    name = _display_name(display_name) if display_name is not None else None
    newly_disabled = bool(disabled) and user.disabled_at is None
    enabled = disabled is False and user.disabled_at is not None
    updated = await users.update(
        user.id,
        display_name=name,
        disabled_at=datetime.now(UTC) if newly_disabled else None,
        enable=enabled,
    )
    if newly_disabled:
        await SessionRepo(session).delete_for_user(user.id)
    # One event per change: a rename and a disable in one request are two facts.
    for happened, action in ((newly_disabled, "user.disable"), (enabled, "user.enable")):
        if happened:
            await audit.record(session, principal=principal, action=action, target=f"user:{login}")
    if name is not None and name != user.display_name:
        await audit.record(
            session,
            principal=principal,
            action="user.update",
            target=f"user:{login}",
            detail={"display_name": name},
        )
    return updated


async def set_password(
    *,
    session: AsyncSession,
    principal: Principal | None,
    caller_user_id: str | None,
    login: str,
    new_password: str,
    current_password: str | None,
    current_session: str | None = None,
) -> User:
    """The platform admin resets anyone's password (ending their sessions); a user changes
    their own with the current one, which ends their other sessions but not
    `current_session` (the token hash of the session they changed it with)."""
    users = UserRepo(session)
    found = await users.with_hash(login)
    is_self = found is not None and found[0].id == caller_user_id
    if not is_self:
        if principal is None:
            raise PermissionDenied("you may only change your own password", login=login)
        authorize(principal, Action.USER_MANAGE)
    if found is None:
        raise UserNotFound(f"no user {login!r}", login=login)
    user, old_hash = found
    needs_current = is_self and not (principal is not None and principal.platform_admin)
    if needs_current and (
        current_password is None or not await passwords.verify(old_hash, current_password)
    ):
        raise Unauthenticated("the current password is not right")
    passwords.check_password(new_password, login=login)
    await users.set_password_hash(user.id, await passwords.hash_password(new_password))
    await SessionRepo(session).delete_for_user(user.id, keep=current_session if is_self else None)
    await audit.record(
        session,
        principal=principal,
        action="user.password",
        target=f"user:{login}",
        actor=f"user:{user.login}" if principal is None else None,
        detail={"by": "self" if is_self else "admin"},
    )
    return user


@dataclass(frozen=True)
class AdminBootstrap:
    created: bool
    password: str | None  # a generated password, to print once


async def bootstrap_admin(
    *, session: AsyncSession, password: str | None, password_file: Path
) -> AdminBootstrap:
    """On the first start (no user yet), create the platform admin `admin`, owner of the
    `default` namespace, with `password` or a generated one written to `password_file`."""
    users = UserRepo(session)
    if await users.count() > 0:
        return AdminBootstrap(created=False, password=None)
    generated = password is None
    secret = password if password is not None else passwords.generate_password()
    if not generated:
        passwords.check_password(secret, login=BOOTSTRAP_ADMIN)
    try:
        user = await users.create(
            login=BOOTSTRAP_ADMIN,
            display_name="Platform admin",
            password_hash=await passwords.hash_password(secret),
            platform_admin=True,
        )
    except UserAlreadyExists:  # another server sharing the database made it just now
        return AdminBootstrap(created=False, password=None)
    namespaces = NamespaceRepo(session)
    namespace = await namespaces.get_by_name(DEFAULT_NAMESPACE)
    if namespace is None:
        namespace = await namespaces.create(DEFAULT_NAMESPACE)
    await users.add_membership(namespace_id=namespace.id, user_id=user.id, role=Role.OWNER)
    await audit.record(
        session,
        principal=None,
        action="user.create",
        target=f"user:{BOOTSTRAP_ADMIN}",
        namespace_id=namespace.id,
        actor="system:bootstrap",
        detail={"platform_admin": True},
    )
    if generated:
        _write_secret(password_file, secret)
    return AdminBootstrap(created=True, password=secret if generated else None)


def _write_secret(path: Path, secret: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(secret + "\n")
    path.chmod(0o600)
