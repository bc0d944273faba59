"""Domain values returned by repositories and passed between services."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from sandlot.domain.egress import NONE, EgressPolicy
from sandlot.domain.secrets import SecretRef
from sandlot.domain.states import InvocationState, VersionState


class Role(StrEnum):
    """What a caller may do in a namespace (`domain.actions.ROLE_ACTIONS`). `admin` is a key
    role only: it means the platform admin (the bootstrap key is one); people become platform
    admins through `users.platform_admin`. Members hold one of the other four."""

    ADMIN = "admin"
    OWNER = "owner"
    DEVELOPER = "developer"
    INVOKER = "invoker"
    VIEWER = "viewer"

    @property
    def rank(self) -> int:
        """Higher may do more; each role may do all that those below it may."""
        return _RANK[self]

    def covers(self, other: Role) -> bool:
        """Whether someone with this role may grant `other` (never above their own)."""
        return self.rank >= other.rank


_RANK = {
    Role.VIEWER: 0,
    Role.INVOKER: 1,
    Role.DEVELOPER: 2,
    Role.OWNER: 3,
    Role.ADMIN: 4,
}

# The roles a person can hold in a namespace.
MEMBER_ROLES = (Role.OWNER, Role.DEVELOPER, Role.INVOKER, Role.VIEWER)


@dataclass(frozen=True)
class Namespace:
    id: str
    name: str
    created_at: datetime
    display_name: str | None = None
    deleted_at: datetime | None = None


@dataclass(frozen=True)
class Member:
    """A person's role in one namespace."""

    namespace_id: str
    user_id: str
    login: str
    display_name: str
    role: Role
    created_at: datetime


@dataclass(frozen=True)
class ApiKey:
    id: str
    namespace_id: str
    name: str
    role: Role
    prefix: str
    created_at: datetime
    revoked_at: datetime | None = None
    # Who made it: the person's id and login; None for the bootstrap and offline keys.
    user_id: str | None = None
    created_by: str | None = None
    # None: every function of the namespace.
    functions: tuple[str, ...] | None = None
    expires_at: datetime | None = None
    last_used_at: datetime | None = None


@dataclass(frozen=True)
class Principal:
    """Who is calling: the key's namespace and role; for a signed-in person also who they are
    (`user_id`, `login`). `address` is the client's, set per request, for the audit log."""

    key_id: str
    namespace_id: str
    namespace: str
    role: Role
    user_id: str | None = None
    login: str | None = None
    platform_admin: bool = False
    address: str | None = None
    # The function names a key is limited to; None: every function of the namespace.
    functions: frozenset[str] | None = None
    # The key's own name, for an API key (None for a browser session).
    key_name: str | None = None

    @property
    def actor(self) -> str:
        """How the audit log names this caller: the person, else the key."""
        return f"user:{self.login}" if self.login else f"key:{self.key_id}"


@dataclass(frozen=True)
class User:
    """A person who signs in; never carries the password hash out of storage."""

    id: str
    login: str
    display_name: str
    platform_admin: bool
    created_at: datetime
    disabled_at: datetime | None = None


@dataclass(frozen=True)
class Membership:
    """A user's role in one namespace."""

    namespace_id: str
    namespace: str
    role: Role


@dataclass(frozen=True)
class Function:
    id: str
    namespace_id: str
    name: str
    created_at: datetime
    updated_at: datetime
    latest_version: int | None
    version_count: int
    deleted_at: datetime | None = None


@dataclass(frozen=True)
class VersionConfig:
    """The configuration part of a version: what `PUT /functions/{name}` may change."""

    handler: str
    memory_mb: int
    timeout_s: int
    env: dict[str, str] = field(default_factory=dict)
    # Pool policy, like Lambda's reserved and provisioned concurrency. None: the server's default.
    max_concurrency: int | None = None
    min_warm: int = 0
    keep_alive_s: int | None = None
    # The secrets its instances get (names and how; values are resolved when one starts).
    secrets: tuple[SecretRef, ...] = ()
    # What its network may reach (`domain.egress`); each version carries its own.
    egress: EgressPolicy = NONE
    # Its instances' root logger level (`domain.limits.LOG_LEVELS`); None: INFO, as on Lambda.
    log_level: str | None = None


@dataclass(frozen=True)
class Version:
    id: str
    function_id: str
    function_name: str
    number: int
    state: VersionState
    config: VersionConfig
    code_sha256: str
    code_size: int
    created_at: datetime
    error: str | None = None
    lock_text: str | None = None
    env_key: str | None = None
    # Who made it: a login, or `key:<key name>`; None for versions made before it was kept.
    deployed_by: str | None = None


@dataclass(frozen=True)
class Invocation:
    id: str
    namespace_id: str
    function_id: str
    function_name: str
    version: int
    trigger: str
    state: InvocationState
    cold_start: bool
    created_at: datetime
    finished_at: datetime | None
    duration_ms: float | None
    timings: dict[str, float]
    result: Any = None
    error: dict[str, Any] | None = None
    log_excerpt: str = ""
    logs_truncated: bool = False
    # The event it was invoked with, up to SANDLOT_INVOCATION_EVENT_BYTES (None: none kept).
    event: str | None = None
    event_truncated: bool = False
    # Asynchronous calls only (a sync call has attempt 1 once it ran, max_attempts None):
    # the attempt now running or last run, the most it may have, when it may next run, and
    # each earlier attempt's end ({attempt, state, error, started_at, finished_at}).
    attempt: int = 0
    max_attempts: int | None = None
    run_after: datetime | None = None
    attempts: tuple[dict[str, Any], ...] = ()
    # The invocation whose destination queued this one, if any.
    caused_by: str | None = None
    # The alias the caller named (`latest` when none; None when it named a version number).
    alias: str | None = None


@dataclass(frozen=True)
class QueuedCall:
    """An asynchronous call as it is accepted: one row, committed before the 202."""

    id: str
    namespace_id: str
    function_id: str
    function_name: str
    version: int  # resolved when accepted: every attempt runs the same version
    trigger: str
    created_at: datetime
    run_after: datetime
    payload: str  # the whole event, as JSON text: what each attempt runs with
    event: str | None = None  # as kept for display (see `Invocation.event`)
    event_truncated: bool = False
    max_attempts: int = 3
    idempotency_key: str | None = None
    caused_by: str | None = None
    alias: str | None = None  # see `Invocation.alias`


@dataclass(frozen=True)
class InvocationStart:
    """What is known of a call before it runs: enough to list it as running, or to record
    that the server died under it."""

    id: str
    namespace_id: str
    function_id: str
    function_name: str
    version: int
    trigger: str
    created_at: datetime
    # The event as kept (see `Invocation.event`): a call the server died under keeps it too.
    event: str | None = None
    event_truncated: bool = False
    alias: str | None = None  # see `Invocation.alias`


@dataclass(frozen=True)
class InvocationFilters:
    """What narrows a listing of invocations, besides its function and state."""

    version: int | None = None
    cold_start: bool | None = None
    since: datetime | None = None  # created at or after
    until: datetime | None = None  # created before
    alias: str | None = None  # served through this alias (`latest`: named none)


@dataclass(frozen=True)
class InvocationPage:
    items: list[Invocation]
    next_cursor: str | None
