"""Network egress above the sandbox: each namespace's bound (what its functions' policies
may ask for, set by the platform admin), and the checks a deploy passes before a version
with a policy is stored.

Two checks, in this order: the policy stays within the namespace's bound
(`EgressNotAllowed`, 403), and this host can enforce it (`EgressUnavailable`, 409). In
insecure-dev mode functions share the host's network, so nothing is enforced: a policy is
accepted with a warning in the deploy's answer, never silently.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from sandlot.domain.actions import Action
from sandlot.domain.egress import NONE, EgressPolicy, first_excess, parse_bound, within
from sandlot.domain.errors import EgressNotAllowed, EgressUnavailable
from sandlot.domain.models import Namespace, Principal
from sandlot.services import audit, namespaces
from sandlot.services.authz import authorize
from sandlot.storage.egress import EgressBoundRepo

NOT_ENFORCED = (
    "egress is NOT enforced: this server runs functions in insecure-dev mode, where they "
    "share the host's network; the policy is stored but every destination is reachable"
)


@dataclass(frozen=True)
class EgressHost:
    """What this server can do about egress, decided once at start."""

    default_bound: EgressPolicy = NONE  # a namespace without a bound of its own
    enforced: bool = False  # the sandbox can enforce policies here
    reason: str = "egress enforcement was not checked"  # why not, when not
    insecure: bool = False  # insecure-dev: accepted, with NOT_ENFORCED said


@dataclass(frozen=True)
class BoundView:
    namespace: str
    bound: EgressPolicy
    is_default: bool
    enforced: bool
    reason: str


async def bound_of(session: AsyncSession, namespace_id: str, host: EgressHost) -> EgressPolicy:
    stored = await EgressBoundRepo(session).get(namespace_id)
    return host.default_bound if stored is None else parse_bound(stored)


async def check_policy(
    session: AsyncSession, *, namespace_id: str, policy: EgressPolicy, host: EgressHost
) -> tuple[str, ...]:
    """Refuse a policy beyond the namespace's bound or one this host cannot enforce; the
    warnings the deploy's answer carries."""
    if policy.is_none:
        return ()
    bound = await bound_of(session, namespace_id, host)
    why = within(policy, bound)
    if why is not None:
        raise EgressNotAllowed(
            why,
            destination=first_excess(policy, bound),
            policy=policy.as_text(),
            bound=bound.as_text(),
        )
    if host.insecure:
        return (NOT_ENFORCED,)
    if not host.enforced:
        raise EgressUnavailable(
            f"this host cannot enforce network policies ({host.reason}); only 'none' is "
            "accepted here (see `sandlot doctor`)",
            reason=host.reason,
        )
    return ()


async def _view(session: AsyncSession, namespace: Namespace, host: EgressHost) -> BoundView:
    stored = await EgressBoundRepo(session).get(namespace.id)
    return BoundView(
        namespace=namespace.name,
        bound=host.default_bound if stored is None else parse_bound(stored),
        is_default=stored is None,
        enforced=host.enforced and not host.insecure,
        reason=NOT_ENFORCED if host.insecure else ("" if host.enforced else host.reason),
    )


async def get_bound(
    *, session: AsyncSession, principal: Principal, host: EgressHost, name: str
) -> BoundView:
    """Anyone who can read the namespace may read its bound (an author needs to know it)."""
    authorize(principal, Action.FUNCTION_READ)
    namespace, _ = await namespaces.reach(session, principal, name, manage=False)
    return await _view(session, namespace, host)


async def set_bound(
    *,
    session: AsyncSession,
    principal: Principal,
    host: EgressHost,
    name: str,
    bound: list[str] | None,
) -> BoundView:
    """Set a namespace's bound (None: back to the server's default); the platform admin's
    only. Versions already deployed keep their policies: the bound is checked at deploy."""
    namespace, _ = await namespaces.reach(session, principal, name, manage=False)
    authorize(principal, Action.EGRESS_BOUND_SET)
    parsed = None if bound is None else parse_bound(bound)
    repo = EgressBoundRepo(session)
    before = await _view(session, namespace, host)
    await repo.put(namespace.id, None if parsed is None else parsed.as_text())
    after = await _view(session, namespace, host)
    await audit.record(
        session,
        principal=principal,
        action="namespace.egress-bound",
        target=f"namespace:{namespace.name}",
        namespace_id=namespace.id,
        detail={
            "old": before.bound.as_text(),
            "new": after.bound.as_text(),
            "default": after.is_default,
        },
        address=principal.address,
    )
    return after
