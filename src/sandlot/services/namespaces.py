"""Namespaces: creating, listing, renaming (their display name) and deleting them.

Who may reach a namespace by its name in a path: the platform admin any; anyone else the
namespace they act in (`principal.namespace_id`: a key's, or the one a signed-in person
chose), and a person may also read the others they are a member of. Every other namespace
does not exist for them (`NamespaceNotFound`), so its name is not revealed either. A deleted
namespace is gone from paths for everyone (a 404, as after any delete); the platform admin
still lists it (`include_deleted`), and its functions' history stays in the database.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from sqlalchemy.ext.asyncio import AsyncSession

from sandlot.domain.actions import Action
from sandlot.domain.errors import (
    DefaultNamespaceProtected,
    InvalidInput,
    NamespaceNotFound,
    PermissionDenied,
    UserNotFound,
)
from sandlot.domain.limits import FUNCTION_NAME_RE
from sandlot.domain.models import Namespace, Principal, Role
from sandlot.services import audit, secrets
from sandlot.services.auth import DEFAULT_NAMESPACE
from sandlot.services.authz import authorize, is_platform_admin
from sandlot.storage.members import MemberRepo
from sandlot.storage.namespaces import NamespaceRepo
from sandlot.worker.interface import Pool

# Namespace names follow function names' rule: they appear in paths, logs and metrics.
NAMESPACE_NAME_RE = FUNCTION_NAME_RE
_PRINTABLE = re.compile(r"^[^\x00-\x1f\x7f]*$")
DISPLAY_NAME_MAX = 200


@dataclass(frozen=True)
class NamespaceView:
    namespace: Namespace
    role: Role  # the caller's role there (`admin` for the platform admin)


def check_namespace_name(name: str) -> str:
    if not NAMESPACE_NAME_RE.fullmatch(name):
        raise InvalidInput(
            f"invalid namespace name {name!r}: use 1-63 characters, lowercase letters, digits "
            "and '-', starting with a letter",
            name=name,
        )
    return name


def check_display_name(display_name: str | None) -> str | None:
    if display_name is None:
        return None
    display_name = display_name.strip()
    if (
        len(display_name) > DISPLAY_NAME_MAX
        or not _PRINTABLE.fullmatch(display_name)
        or not _utf8(display_name)
    ):
        raise InvalidInput(
            f"a display name is at most {DISPLAY_NAME_MAX} printable characters",
        )
    return display_name or None


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: no database can hold it
        return False
    return True


def _not_found(name: str) -> NamespaceNotFound:
    return NamespaceNotFound(f"no namespace named {name!r}", namespace=name)


async def reach(
    session: AsyncSession,
    principal: Principal,
    name: str,
    *,
    manage: bool,
    include_deleted: bool = False,
) -> tuple[Namespace, Principal]:
    """The namespace a path names and the caller as they act in it (their role there).
    `manage`: the caller is about to change it, which only the namespace they act in allows
    (a person's key must not wield the person's roles elsewhere). `include_deleted`: the
    platform admin reads a deleted one too."""
    found = NAMESPACE_NAME_RE.fullmatch(name) and await NamespaceRepo(session).get_by_name(name)
    if not found:
        raise _not_found(name)
    admin = is_platform_admin(principal)
    if found.deleted_at is not None and not (admin and include_deleted and not manage):
        raise _not_found(name)
    if admin:
        return found, _acting(principal, found, Role.ADMIN)
    if found.id == principal.namespace_id:
        return found, principal
    role = None
    if principal.user_id is not None:  # a person may read the others they belong to
        role = await MemberRepo(session).role_of(found.id, principal.user_id)
    if role is None:
        raise _not_found(name)
    if manage:
        raise PermissionDenied(
            f"you act in namespace {principal.namespace!r}; to change {name!r}, choose it "
            "(the X-Sandlot-Namespace header, or --namespace on the CLI)",
            namespace=name,
        )
    return found, _acting(principal, found, role)


def _acting(principal: Principal, namespace: Namespace, role: Role) -> Principal:
    return replace(principal, namespace_id=namespace.id, namespace=namespace.name, role=role)


async def create_namespace(
    *,
    session: AsyncSession,
    principal: Principal,
    name: str,
    display_name: str | None = None,
    owner: str | None = None,
) -> NamespaceView:
    """A new namespace (platform admin only); `owner`, a login, becomes its first owner."""
    authorize(principal, Action.NAMESPACE_CREATE)
    check_namespace_name(name)
    display_name = check_display_name(display_name)
    members = MemberRepo(session)
    user = await members.user_by_login(owner) if owner is not None else None
    if owner is not None and user is None:
        raise UserNotFound(f"no user with login {owner!r}", login=owner)
    namespace = await NamespaceRepo(session).create(name, display_name)
    await audit.record(
        session,
        principal=principal,
        action="namespace.create",
        target=f"namespace:{name}",
        namespace_id=namespace.id,
        detail={"display_name": display_name, "owner": owner},
    )
    if user is not None:
        await members.add(namespace.id, user, Role.OWNER)
        await audit.record(
            session,
            principal=principal,
            action="member.add",
            target=f"user:{user.login}",
            namespace_id=namespace.id,
            detail={"role": Role.OWNER.value},
        )
    return NamespaceView(namespace=namespace, role=Role.ADMIN)


async def list_namespaces(
    *, session: AsyncSession, principal: Principal, include_deleted: bool = False
) -> list[NamespaceView]:
    """The platform admin sees every namespace (deleted ones on request); anyone else the one
    they act in and, for a person, the others they are a member of."""
    namespaces = NamespaceRepo(session)
    if is_platform_admin(principal):
        listed = await namespaces.listed(include_deleted=include_deleted)
        return [NamespaceView(namespace=ns, role=Role.ADMIN) for ns in listed]
    views = {
        principal.namespace_id: NamespaceView(
            namespace=await namespaces.get(principal.namespace_id), role=principal.role
        )
    }
    if principal.user_id is not None:
        for namespace, role in await namespaces.of_user(principal.user_id):
            views.setdefault(namespace.id, NamespaceView(namespace=namespace, role=Role(role)))
    return sorted(
        (view for view in views.values() if view.namespace.deleted_at is None),
        key=lambda view: view.namespace.name,
    )


async def get_namespace(
    *, session: AsyncSession, principal: Principal, name: str, include_deleted: bool = False
) -> NamespaceView:
    """`include_deleted`: the platform admin reads a deleted namespace's record too."""
    namespace, acting = await reach(
        session, principal, name, manage=False, include_deleted=include_deleted
    )
    authorize(acting, Action.FUNCTION_READ)
    return NamespaceView(namespace=namespace, role=acting.role)


async def rename_namespace(
    *, session: AsyncSession, principal: Principal, name: str, display_name: str | None
) -> NamespaceView:
    """Set the display name (the name itself never changes: paths and history use it)."""
    namespace, acting = await reach(session, principal, name, manage=True)
    authorize(acting, Action.NAMESPACE_MANAGE)
    display_name = check_display_name(display_name)
    updated = await NamespaceRepo(session).set_display_name(namespace.id, display_name)
    await audit.record(
        session,
        principal=principal,
        action="namespace.update",
        target=f"namespace:{name}",
        namespace_id=namespace.id,
        detail={"display_name": display_name, "was": namespace.display_name},
    )
    return NamespaceView(namespace=updated, role=acting.role)


@dataclass(frozen=True)
class Deleted:
    namespace: Namespace
    function_ids: list[str]


async def delete_namespace(
    *, session: AsyncSession, principal: Principal, name: str, pool: Pool
) -> Deleted:
    """Mark the namespace deleted, its functions too, and stop their instances; revoke its
    keys and end its memberships. Versions, invocations and the audit log stay. The caller
    commits, then drops the catalog's and the key cache's entries."""
    namespace, acting = await reach(session, principal, name, manage=True)
    authorize(acting, Action.NAMESPACE_MANAGE)
    if namespace.name == DEFAULT_NAMESPACE:
        raise DefaultNamespaceProtected(
            "the default namespace holds the bootstrap admin key and receives offline "
            "recovery keys; it cannot be deleted",
            namespace=name,
        )
    function_ids = await NamespaceRepo(session).mark_deleted(namespace.id)
    # Its secrets go with it: nothing can use them any more, and a value kept is a value
    # that can leak.
    purged = await secrets.delete_namespace_secrets(session=session, namespace_id=namespace.id)
    await audit.record(
        session,
        principal=principal,
        action="namespace.delete",
        target=f"namespace:{name}",
        namespace_id=namespace.id,
        detail={"functions_stopped": len(function_ids), "secrets_deleted": purged},
    )
    for function_id in function_ids:
        await pool.stop_function(function_id)
    return Deleted(namespace=namespace, function_ids=function_ids)
