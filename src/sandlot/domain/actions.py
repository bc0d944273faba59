"""What a caller may do: one table from role to allowed actions, checked by
`services.authz.authorize` once per use case."""

from __future__ import annotations

from enum import StrEnum

from sandlot.domain.models import Role


class Action(StrEnum):
    FUNCTION_READ = "function.read"  # functions, versions, builds, invocations, logs
    FUNCTION_INVOKE = "function.invoke"
    FUNCTION_WRITE = "function.write"  # deploy, configure, delete
    SECRET_READ = "secret.read"  # noqa: S105 (names, versions, who changed them; no value)
    SECRET_WRITE = "secret.write"  # noqa: S105 (an action, not a password)
    KEY_MANAGE = "key.manage"  # other people's keys in the namespace
    MEMBER_MANAGE = "member.manage"
    NAMESPACE_MANAGE = "namespace.manage"  # rename, delete
    AUDIT_READ = "audit.read"
    # Platform-wide: only the platform admin.
    NAMESPACE_CREATE = "namespace.create"
    QUOTA_SET = "quota.set"
    EGRESS_BOUND_SET = "egress.bound-set"  # what a namespace's functions may reach
    USER_MANAGE = "user.manage"
    ENVIRONMENT_MANAGE = "environment.manage"
    MONITOR_READ = "monitor.read"
    SECRET_KEY_ROTATE = "secret.rotate-key"  # noqa: S105 (re-encrypt every namespace's secrets)


# Each role may do what the one below it may, and more.
_VIEW = frozenset({Action.FUNCTION_READ})
_INVOKE = _VIEW | {Action.FUNCTION_INVOKE}
_DEVELOP = _INVOKE | {Action.FUNCTION_WRITE, Action.SECRET_READ, Action.SECRET_WRITE}
_OWN = _DEVELOP | {
    Action.KEY_MANAGE,
    Action.MEMBER_MANAGE,
    Action.NAMESPACE_MANAGE,
    Action.AUDIT_READ,
}
# What reaches past one namespace: only the platform admin.
PLATFORM_ACTIONS = frozenset(
    {
        Action.NAMESPACE_CREATE,
        Action.QUOTA_SET,
        Action.EGRESS_BOUND_SET,
        Action.USER_MANAGE,
        Action.ENVIRONMENT_MANAGE,
        Action.MONITOR_READ,
        Action.SECRET_KEY_ROTATE,
    }
)

ROLE_ACTIONS: dict[Role, frozenset[Action]] = {
    Role.ADMIN: frozenset(Action),
    Role.OWNER: _OWN,
    Role.DEVELOPER: _DEVELOP,
    Role.INVOKER: _INVOKE,
    Role.VIEWER: _VIEW,
}
