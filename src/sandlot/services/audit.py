"""The audit log: who changed what, when, from where.

Every control-plane service calls `record` in the transaction of its change, so the event
and the change commit together or not at all; `record` flushes and never commits. Reading
(`list_events`) is for namespace owners (their namespace's events) and the platform admin
(all of them, platform-wide events too). Events are kept forever: they are few (people's
changes, and failed sign-ins bounded per address and per minute), and a log that forgets is
no audit.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sandlot.domain import audit as rules
from sandlot.domain.actions import Action
from sandlot.domain.audit import AuditEvent, AuditFilter, AuditPage, UnsafeAuditDetail
from sandlot.domain.errors import InvalidInput, NamespaceNotFound
from sandlot.domain.ids import new_invocation_id
from sandlot.domain.models import Principal, Role
from sandlot.services.authz import authorize
from sandlot.storage.audit import AuditRepo
from sandlot.storage.keys import NamespaceRepo

MAX_PAGE = 200

log = logging.getLogger(__name__)


async def record(
    session: AsyncSession,
    *,
    principal: Principal | None,
    action: str,
    target: str,
    namespace_id: str | None = None,
    detail: Mapping[str, Any] | None = None,
    actor: str | None = None,
    address: str | None = None,
) -> None:
    """One audit event, e.g. action="function.deploy", target="function:hello". `actor` and
    `address` name the caller when there is no principal (a failed sign-in), or override it.

    `namespace_id` None is a platform-wide event. Raises `UnsafeAuditDetail` (a bug in the
    caller) for a detail whose keys read like a secret (`password`, `value`, `key`, `token`,
    `secret`, ...), that holds something like an API key, or that is too big.
    """
    rules.check_action(action)
    stored_detail = rules.check_detail(detail)
    who = actor or (principal.actor if principal is not None else None)
    if not who:
        raise UnsafeAuditDetail("an audit event needs a principal or an actor")
    event = AuditEvent(
        id=new_invocation_id(),
        at=datetime.now(UTC),
        actor=_clip(who, rules.ACTOR_MAX),
        action=action,
        target=_clip(target, rules.TARGET_MAX),
        namespace_id=namespace_id,
        user_id=rules.clip(principal.user_id if principal else None, rules.ID_MAX),
        key_id=rules.clip(_key_id(principal), rules.ID_MAX),
        address=_clip_optional(address or (principal.address if principal else None)),
        detail=stored_detail,
    )
    await AuditRepo(session).add(event)


def _clip_optional(address: str | None) -> str | None:
    return None if address is None else _clip(address, rules.ADDRESS_MAX)


def _key_id(principal: Principal | None) -> str | None:
    # A signed-in person's principal may carry a session's stand-in, not a key: only a key's.
    if principal is None or principal.login is not None:
        return None
    return principal.key_id or None


def _clip(text: str, limit: int) -> str:
    # PostgreSQL's text holds no NUL: a name someone typed (a failed sign-in's) must not make
    # the event, and with it the change, fail.
    return text.replace("\0", "\ufffd")[:limit]


async def record_alone(
    sessions: async_sessionmaker[AsyncSession],
    *,
    action: str,
    target: str,
    actor: str,
    address: str | None,
    detail: Mapping[str, Any] | None = None,
) -> bool:
    """An event that is not part of any change (a failed authentication), in a transaction of
    its own. A database that cannot take it does not turn the caller's answer into a 500:
    it is logged and False returned."""
    try:
        async with sessions.begin() as session:
            await record(
                session,
                principal=None,
                action=action,
                target=target,
                actor=actor,
                address=address,
                detail=detail,
            )
    except UnsafeAuditDetail:
        raise
    except Exception as exc:
        log.warning("could not write the audit event %s from %s: %s", action, address, exc)
        return False
    return True


@dataclass(frozen=True)
class AuditQuery:
    """`GET /audit`'s filters. `namespace` (a name) and `platform` are for the platform
    admin; a namespace owner sees their own namespace whatever they pass."""

    namespace: str | None = None
    platform: bool = False
    action: str | None = None
    actor: str | None = None
    target: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def is_platform_admin(principal: Principal) -> bool:
    # An `admin` key is the platform admin's (the bootstrap key is one), like a person's flag.
    return principal.platform_admin or principal.role is Role.ADMIN


async def list_events(
    *,
    session: AsyncSession,
    principal: Principal,
    query: AuditQuery,
    limit: int,
    cursor: str | None,
) -> AuditPage:
    """A page of events, newest first (continue with `cursor`)."""
    authorize(principal, Action.AUDIT_READ)
    since, until = _aware(query.since, "since"), _aware(query.until, "until")
    if since is not None and until is not None and since >= until:
        raise InvalidInput("'since' must be before 'until'", since=str(since), until=str(until))
    where = AuditFilter(
        namespace_ids=await _scope(session, principal, query),
        platform_only=query.platform and is_platform_admin(principal),
        action_prefix=query.action or None,
        actor=query.actor,
        target=query.target,
        since=since,
        until=until,
    )
    return await AuditRepo(session).page(where, limit=max(1, min(limit, MAX_PAGE)), cursor=cursor)


async def _scope(
    session: AsyncSession, principal: Principal, query: AuditQuery
) -> frozenset[str] | None:
    """Which namespaces' events the caller reads: None is all of them (the platform admin)."""
    if query.namespace is not None and query.platform:
        raise InvalidInput("give either 'namespace' or 'platform', not both")
    if not is_platform_admin(principal):
        if query.platform:
            raise InvalidInput("only the platform admin reads platform-wide events")
        if query.namespace is not None and query.namespace != principal.namespace:
            # Another namespace is a 404, never a 403 that says it exists.
            raise _no_namespace(query.namespace)
        return frozenset({principal.namespace_id})
    if query.namespace is None:
        return None
    namespace = rules.clip(query.namespace, 200) or ""
    found = "\0" not in namespace and await NamespaceRepo(session).get_by_name(namespace)
    if not found:
        raise _no_namespace(namespace)
    return frozenset({found.id})


def _no_namespace(name: str) -> NamespaceNotFound:
    return NamespaceNotFound(f"no namespace named {name!r}", namespace=name)


def _aware(moment: datetime | None, name: str) -> datetime | None:
    """A bound as UTC; a time without a zone is refused rather than guessed."""
    if moment is None:
        return None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidInput(
            f"'{name}' needs a time zone, e.g. 2026-12-01T12:00:00Z", **{name: moment.isoformat()}
        )
    try:
        return moment.astimezone(UTC)
    except OverflowError as exc:
        raise InvalidInput(f"'{name}' is out of range", **{name: moment.isoformat()}) from exc
