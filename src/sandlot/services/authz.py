"""Authorisation: may this principal do this action? One table (`domain.actions`)."""

from __future__ import annotations

from sandlot.domain.actions import ROLE_ACTIONS, Action
from sandlot.domain.errors import PermissionDenied
from sandlot.domain.models import Principal


def allowed(principal: Principal, action: Action) -> bool:
    return principal.platform_admin or action in ROLE_ACTIONS.get(principal.role, frozenset())


def authorize(principal: Principal, action: Action) -> None:
    if not allowed(principal, action):
        raise PermissionDenied(
            f"role {principal.role.value!r} may not {action.value}",
            role=principal.role.value,
            action=action.value,
        )
