"""SQLAlchemy table definitions. One Alembic chain creates them on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both databases (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class NamespaceRow(Base):
    __tablename__ = "namespaces"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(63), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    display_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    # A deleted namespace's functions are stopped; its history stays.
    deleted_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    # What its functions' egress policies may ask for (text form, `domain.egress`); None:
    # the server's default bound (SANDLOT_EGRESS_DEFAULT_BOUND).
    egress_bound: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)


class UserRow(Base):
    """A person who signs in. `platform_admin` may do everything everywhere; a disabled user's
    sessions and keys stop working."""

    __tablename__ = "users"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    login: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(200))
    platform_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    disabled_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)


class MembershipRow(Base):
    """A user's role in one namespace."""

    __tablename__ = "memberships"
    namespace_id: Mapped[str] = mapped_column(ForeignKey("namespaces.id"), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), primary_key=True, index=True)
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class SessionRow(Base):
    """A browser session. Only the token's sha256 is kept: a copy of the database lets no one
    sign in. Idle and absolute expiry are reckoned from `last_seen_at` and `created_at`
    against the server's settings, so changing the settings applies to sessions already open."""

    __tablename__ = "sessions"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    # A public handle for the session (audit, listings); never the token.
    id: Mapped[str] = mapped_column(String(36), unique=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime())
    address: Mapped[str | None] = mapped_column(String(64), nullable=True)


class ApiKeyRow(Base):
    __tablename__ = "api_keys"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    namespace_id: Mapped[str] = mapped_column(ForeignKey("namespaces.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    # Who made it (None: the bootstrap or offline keys); a disabled creator's keys stop.
    user_id: Mapped[str | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    # Function names the key is limited to; None means every function of its namespace.
    functions: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    # The key, sealed under the secrets keyring key `sigv4_key_id`, for verifying AWS
    # Signature Version 4 (which needs the secret itself, not a hash); None: made before
    # migration 0019, such a key cannot sign Lambda API requests.
    sigv4_key_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    sigv4_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)


class FunctionRow(Base):
    __tablename__ = "functions"
    __table_args__ = (
        # A deleted function keeps its history; its name may be used again.
        Index(
            "uq_functions_live_name",
            "namespace_id",
            "name",
            unique=True,
            sqlite_where=text("deleted_at IS NULL"),
            postgresql_where=text("deleted_at IS NULL"),
        ),
    )
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    namespace_id: Mapped[str] = mapped_column(ForeignKey("namespaces.id"), index=True)
    name: Mapped[str] = mapped_column(String(63))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    deleted_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    latest_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    version_count: Mapped[int] = mapped_column(Integer, default=0)


class CodeBlobRow(Base):
    """Zipped code, content-addressed, so identical uploads are stored once."""

    __tablename__ = "code_blobs"
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class VersionRow(Base):
    __tablename__ = "versions"
    __table_args__ = (
        UniqueConstraint("function_id", "number", name="uq_versions_function_number"),
    )
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    function_id: Mapped[str] = mapped_column(ForeignKey("functions.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16))
    handler: Mapped[str] = mapped_column(String(200))
    memory_mb: Mapped[int] = mapped_column(Integer)
    timeout_s: Mapped[int] = mapped_column(Integer)
    env: Mapped[dict[str, str]] = mapped_column(JSON)
    max_concurrency: Mapped[int | None] = mapped_column(Integer, nullable=True)
    min_warm: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    keep_alive_s: Mapped[int | None] = mapped_column(Integer, nullable=True)
    code_sha256: Mapped[str] = mapped_column(ForeignKey("code_blobs.sha256"))
    code_size: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    lock_text: Mapped[str | None] = mapped_column(Text, nullable=True)
    env_key: Mapped[str | None] = mapped_column(String(64), nullable=True)
    build_log: Mapped[str | None] = mapped_column(Text, nullable=True)
    # The secrets the version names ([{"name": ..., "as": "env"|"file"}]): never a value.
    secrets: Mapped[list[dict[str, str]] | None] = mapped_column(JSON, nullable=True)
    # Who deployed it (a login, or `key:<key name>`); None before migration 0010.
    deployed_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    # Its egress policy's text form (`domain.egress`); None: `none`, no network.
    egress: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    # The level its root logger starts at (Lambda's log-level setting); None: INFO.
    log_level: Mapped[str | None] = mapped_column(String(8), nullable=True)
    # What its build found worth saying (imports no dependency provides); None: nothing.
    build_warnings: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)


class SecretRow(Base):
    """A namespace's secret: only its current value, sealed (AES-GCM) under the key `key_id`
    names; the key itself is never in the database."""

    __tablename__ = "secrets"
    __table_args__ = (UniqueConstraint("namespace_id", "name", name="uq_secrets_namespace_name"),)
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    namespace_id: Mapped[str] = mapped_column(ForeignKey("namespaces.id"))
    name: Mapped[str] = mapped_column(String(128))
    version: Mapped[int] = mapped_column(Integer)
    key_id: Mapped[str] = mapped_column(String(16), index=True)
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_by: Mapped[str] = mapped_column(String(200))


class InvocationRow(Base):
    __tablename__ = "invocations"
    __table_args__ = (
        Index("ix_invocations_namespace_id_id", "namespace_id", "id"),
        Index("ix_invocations_function_id_id", "function_id", "id"),
        # A function's metrics read one time window of its calls (storage.function_metrics),
        # from this index alone but for the error rows' names.
        Index(
            "ix_invocations_function_metrics",
            "function_id",
            "created_at",
            "state",
            "cold_start",
            "duration_ms",
            "finished_at",
        ),
        # What a claimer reads: the queued rows whose time has come, oldest first.
        Index("ix_invocations_queue", "state", "run_after"),
        # A repeated Idempotency-Key finds the first call; a key is freed after 24 hours by
        # setting it NULL (NULLs never collide, on SQLite and PostgreSQL alike).
        Index(
            "ux_invocations_idempotency",
            "namespace_id",
            "function_id",
            "idempotency_key",
            unique=True,
        ),
    )
    # Time-ordered ids (see domain.ids): newest first is ORDER BY id DESC.
    id: Mapped[str] = mapped_column(String(26), primary_key=True)
    namespace_id: Mapped[str] = mapped_column(String(36))
    function_id: Mapped[str] = mapped_column(String(36))
    function_name: Mapped[str] = mapped_column(String(63))
    version: Mapped[int] = mapped_column(Integer)
    trigger: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16))
    cold_start: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    duration_ms: Mapped[float | None] = mapped_column(Float, nullable=True)
    timings: Mapped[dict[str, float]] = mapped_column(JSON)
    result_json: Mapped[str | None] = mapped_column(Text, nullable=True)
    error: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    log_excerpt: Mapped[str] = mapped_column(Text, default="")
    logs_truncated: Mapped[bool] = mapped_column(Boolean, default=False)
    # The event as kept (domain.invocation_events): the text, or NULL when none was kept.
    event_text: Mapped[str | None] = mapped_column(Text, nullable=True)
    event_truncated: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # The queue (asynchronous calls; DESIGN.md "Durable work"): a sync call's row has
    # attempt 1 and NULL in the rest; a queued one starts at attempt 0.
    attempt: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    max_attempts: Mapped[int | None] = mapped_column(Integer, nullable=True)
    run_after: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    lease_owner: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # The whole event each attempt runs with (event_text is only what is kept for display).
    payload: Mapped[str | None] = mapped_column(Text, nullable=True)
    # Earlier attempts' ends, oldest first: [{attempt, state, error, started_at, finished_at}].
    attempts: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, nullable=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(256), nullable=True)
    caused_by: Mapped[str | None] = mapped_column(String(26), nullable=True)
    # The alias the caller named (`latest` when it named none, NULL when it named a version
    # number): with `version`, which alias and which version served the call.
    alias: Mapped[str | None] = mapped_column(String(63), nullable=True)


class InvocationLogRow(Base):
    """The whole captured output, apart from the record so listings stay light."""

    __tablename__ = "invocation_logs"
    invocation_id: Mapped[str] = mapped_column(String(26), primary_key=True)
    text: Mapped[str] = mapped_column(Text)


class AuditEventRow(Base):
    """Who changed what, when, from where. No foreign keys: the log outlives what it names
    (a deleted namespace, a revoked key) and an audit row must never fail a change."""

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_namespace_id_id", "namespace_id", "id"),
        Index("ix_audit_events_at", "at"),
    )
    # Time-ordered ids (see domain.ids): newest first is ORDER BY id DESC.
    id: Mapped[str] = mapped_column(String(26), primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    actor: Mapped[str] = mapped_column(String(200))
    user_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    key_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    namespace_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(300))
    address: Mapped[str | None] = mapped_column(String(200), nullable=True)
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class QuotaRow(Base):
    """A namespace's own quota limits; a null column (or no row) takes the server's default
    (`Settings.quota_*`)."""

    __tablename__ = "quotas"

    namespace_id: Mapped[str] = mapped_column(ForeignKey("namespaces.id"), primary_key=True)
    functions: Mapped[int | None] = mapped_column(Integer, nullable=True)
    memory_mb: Mapped[int | None] = mapped_column(Integer, nullable=True)
    concurrency: Mapped[int | None] = mapped_column(Integer, nullable=True)
    rate_per_minute: Mapped[int | None] = mapped_column(Integer, nullable=True)
    code_mb: Mapped[int | None] = mapped_column(Integer, nullable=True)
    env_kb: Mapped[int | None] = mapped_column(Integer, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class TestEventRow(Base):
    """A saved test event of a function, shared by its namespace. Keyed to the function row,
    so a new version keeps them and a deleted (soft-deleted) function's go with its row."""

    __tablename__ = "test_events"
    __table_args__ = (UniqueConstraint("function_id", "name", name="uq_test_events_function_name"),)
    __test__ = False  # a table, not a pytest class
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    function_id: Mapped[str] = mapped_column(ForeignKey("functions.id"))
    name: Mapped[str] = mapped_column(String(100))
    # The JSON text as the door checked it: kept byte for byte, so what runs is what was saved.
    event: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_by: Mapped[str] = mapped_column(String(200))


class FunctionAsyncConfigRow(Base):
    """A function's retry policy for its asynchronous calls; no row: the defaults. Kept by
    function id, so a function made again under a deleted one's name starts afresh."""

    __tablename__ = "function_async_configs"
    function_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    max_attempts: Mapped[int] = mapped_column(Integer)
    retry_on_error: Mapped[bool] = mapped_column(Boolean)
    max_event_age_s: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class FunctionUrlRow(Base):
    """A function's public URLs (`/fn/{namespace}/{function}[:{alias}]/...`): at most one per
    function row and alias (`latest` for the unqualified one), so a function deleted and made
    again starts without any."""

    __tablename__ = "function_urls"
    function_id: Mapped[str] = mapped_column(ForeignKey("functions.id"), primary_key=True)
    alias: Mapped[str] = mapped_column(String(63), primary_key=True, server_default="latest")
    auth: Mapped[str] = mapped_column(String(10))
    # The checked CORS settings (domain.http_events.Cors.as_dict()).
    cors: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_by: Mapped[str] = mapped_column(String(200))
