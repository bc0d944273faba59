"""Members of a namespace: people and their roles there. Managed by the namespace's owners
and the platform admin; nobody grants a role above their own (`RoleTooHigh`), and a namespace
never loses its last owner (`LastNamespaceOwner`)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from sandlot.domain.actions import Action
from sandlot.domain.errors import (
    InvalidRole,
    MemberNotFound,
    RoleTooHigh,
    UserNotFound,
)
from sandlot.domain.models import MEMBER_ROLES, Member, Namespace, Principal, Role
from sandlot.services import audit
from sandlot.services.auth import check_grant, role_ceiling
from sandlot.services.authz import authorize
from sandlot.services.namespaces import reach
from sandlot.storage.keys import ApiKeyRepo
from sandlot.storage.members import MemberRepo, UserRef


def parse_member_role(role: str) -> Role:
    """A role a person can hold in a namespace; `admin` is not one (platform admins are users
    with `platform_admin`, and need no membership)."""
    try:
        parsed = Role(role)
    except ValueError:
        parsed = None
    if parsed not in MEMBER_ROLES:
        raise InvalidRole(
            f"unknown member role {role!r}; use one of {[r.value for r in MEMBER_ROLES]}",
            role=role,
        )
    assert parsed is not None
    return parsed


async def _managed(
    session: AsyncSession, principal: Principal, namespace: str
) -> tuple[Namespace, Principal]:
    found, acting = await reach(session, principal, namespace, manage=True)
    authorize(acting, Action.MEMBER_MANAGE)
    return found, acting


async def _user(members: MemberRepo, login: str) -> UserRef:
    user = await members.user_by_login(login) if len(login) <= 64 else None
    if user is None:
        raise UserNotFound(f"no user with login {login!r}", login=login)
    return user


async def _member(members: MemberRepo, namespace: Namespace, login: str) -> Member:
    user = await _user(members, login)
    member = await members.get(namespace.id, user.id)
    if member is None:
        raise MemberNotFound(
            f"{login!r} is not a member of namespace {namespace.name!r}", login=login
        )
    return member


async def list_members(
    *, session: AsyncSession, principal: Principal, namespace: str
) -> list[Member]:
    found, _ = await _managed(session, principal, namespace)
    return await MemberRepo(session).in_namespace(found.id)


async def add_member(
    *, session: AsyncSession, principal: Principal, namespace: str, login: str, role: str
) -> Member:
    found, acting = await _managed(session, principal, namespace)
    parsed = parse_member_role(role)
    check_grant(acting, parsed)
    members = MemberRepo(session)
    member = await members.add(found.id, await _user(members, login), parsed)
    await _audit(session, principal, "member.add", found, login, {"role": parsed.value})
    return member


async def set_member_role(
    *, session: AsyncSession, principal: Principal, namespace: str, login: str, role: str
) -> Member:
    found, acting = await _managed(session, principal, namespace)
    parsed = parse_member_role(role)
    check_grant(acting, parsed)
    members = MemberRepo(session)
    current = await _member(members, found, login)
    _check_above(acting, current)
    updated = await members.set_role(found.id, current.user_id, parsed)
    revoked = await _revoke_keys(session, found, current.user_id, parsed)
    detail = {"role": parsed.value, "was": current.role.value, "keys_revoked": revoked}
    await _audit(session, principal, "member.update", found, login, detail)
    return updated


async def remove_member(
    *, session: AsyncSession, principal: Principal, namespace: str, login: str
) -> Member:
    """Remove a member (and revoke the keys they made there); the member as they were."""
    found, acting = await _managed(session, principal, namespace)
    members = MemberRepo(session)
    current = await _member(members, found, login)
    _check_above(acting, current)
    await members.remove(found.id, current.user_id)
    revoked = await _revoke_keys(session, found, current.user_id, None)
    detail = {"was": current.role.value, "keys_revoked": revoked}
    await _audit(session, principal, "member.remove", found, login, detail)
    return current


async def _revoke_keys(
    session: AsyncSession, namespace: Namespace, user_id: str, role: Role | None
) -> list[str]:
    """A member's keys never outlast their role: on leaving, every key they made in the
    namespace goes; on a demotion, those above the new role. Admin keys stay: they stand on
    the person being platform admin, not on the membership. The caller clears the key cache
    after committing."""
    keep = {Role.ADMIN} | ({r for r in Role if role.covers(r)} if role is not None else set())
    return await ApiKeyRepo(session).revoke_for_member(namespace.id, user_id, keep=frozenset(keep))


def _check_above(acting: Principal, member: Member) -> None:
    """Nobody changes the membership of someone whose role is above their own."""
    ceiling = role_ceiling(acting)
    if not ceiling.covers(member.role):
        raise RoleTooHigh(
            f"{member.login!r} is {member.role.value!r}, above your {ceiling.value!r}",
            login=member.login,
            role=member.role.value,
            your_role=ceiling.value,
        )


async def _audit(
    session: AsyncSession,
    principal: Principal,
    action: str,
    namespace: Namespace,
    login: str,
    detail: dict[str, Any],
) -> None:
    await audit.record(
        session,
        principal=principal,
        action=action,
        target=f"user:{login}",
        namespace_id=namespace.id,
        detail=detail,
    )
