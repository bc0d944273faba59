"""Authorisation: may this principal do this action? One table (`domain.actions`), and a key's
function scope."""

from __future__ import annotations

from sandlot.domain.actions import PLATFORM_ACTIONS, ROLE_ACTIONS, Action
from sandlot.domain.errors import FunctionNotFound, PermissionDenied
from sandlot.domain.models import Principal, Role


def is_platform_admin(principal: Principal) -> bool:
    """A platform-admin person, or a key with the `admin` role (the bootstrap key is one)."""
    return principal.platform_admin or principal.role is Role.ADMIN


def allowed(principal: Principal, action: Action) -> bool:
    return is_platform_admin(principal) or action in ROLE_ACTIONS.get(principal.role, frozenset())


def authorize(principal: Principal, action: Action) -> None:
    if allowed(principal, action):
        return
    if action in PLATFORM_ACTIONS:
        message = f"only the platform admin may {action.value}"
    else:
        message = f"role {principal.role.value!r} may not {action.value}"
    raise PermissionDenied(message, role=principal.role.value, action=action.value)


def in_scope(principal: Principal, function: str) -> bool:
    """Whether a key limited to named functions may touch this one (unlimited: always)."""
    return principal.functions is None or function in principal.functions


def check_function_scope(principal: Principal, function: str) -> None:
    """A function outside a limited key's scope does not exist for it: the same 404 as a
    function of another namespace, so the key learns nothing of the others."""
    if not in_scope(principal, function):
        raise FunctionNotFound(f"no function named {function!r}", function=function)


def authorize_function(principal: Principal, action: Action, function: str) -> None:
    """One use case on one function: the role may do it, and the function is in scope. Scope
    first, so that a limited key asking about a function it cannot see gets the 404."""
    check_function_scope(principal, function)
    authorize(principal, action)
