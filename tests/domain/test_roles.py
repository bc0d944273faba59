"""The role table: each role may do what the one below it may, and platform-wide actions are
the platform admin's alone."""

from __future__ import annotations

from itertools import pairwise

from sandlot.domain.actions import PLATFORM_ACTIONS, ROLE_ACTIONS, Action
from sandlot.domain.models import MEMBER_ROLES, Principal, Role
from sandlot.services.authz import allowed

LADDER = [Role.VIEWER, Role.INVOKER, Role.DEVELOPER, Role.OWNER, Role.ADMIN]


def test_every_role_has_a_row_and_each_may_do_what_the_one_below_may() -> None:
    assert set(ROLE_ACTIONS) == set(Role)
    for lower, higher in pairwise(LADDER):
        assert ROLE_ACTIONS[lower] < ROLE_ACTIONS[higher], (lower, higher)
        assert higher.covers(lower) and not lower.covers(higher)


def test_what_each_role_may_do() -> None:
    assert ROLE_ACTIONS[Role.VIEWER] == {Action.FUNCTION_READ}
    assert Action.FUNCTION_INVOKE in ROLE_ACTIONS[Role.INVOKER]
    assert Action.FUNCTION_WRITE not in ROLE_ACTIONS[Role.INVOKER]
    assert {Action.SECRET_READ, Action.SECRET_WRITE} <= ROLE_ACTIONS[Role.DEVELOPER]
    assert Action.KEY_MANAGE not in ROLE_ACTIONS[Role.DEVELOPER]
    owner = ROLE_ACTIONS[Role.OWNER]
    assert {Action.MEMBER_MANAGE, Action.KEY_MANAGE, Action.NAMESPACE_MANAGE} <= owner
    assert Action.AUDIT_READ in owner
    assert ROLE_ACTIONS[Role.ADMIN] == frozenset(Action)


def test_platform_actions_are_the_platform_admins_alone() -> None:
    for role in MEMBER_ROLES:
        assert not (ROLE_ACTIONS[role] & PLATFORM_ACTIONS), role
    person = Principal(key_id="k", namespace_id="n", namespace="n", role=Role.VIEWER)
    admin_person = Principal(
        key_id="k", namespace_id="n", namespace="n", role=Role.VIEWER, platform_admin=True
    )
    for action in PLATFORM_ACTIONS:
        assert not allowed(person, action)
        assert allowed(admin_person, action)
