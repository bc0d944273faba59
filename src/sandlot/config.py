"""The one place settings are read. Everything else receives a `Settings` value."""

from __future__ import annotations

from enum import StrEnum
from ipaddress import IPv4Network, IPv6Network
from pathlib import Path
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Role(StrEnum):
    """What `sandlot serve` runs: everything in one process, or only the API (workers run
    functions: `sandlot worker`)."""

    ALL = "all"
    API = "api"


class SandboxMode(StrEnum):
    STRICT = "strict"
    INSECURE_DEV = "insecure-dev"


def _no_limit(value: Any) -> Any:
    """A quota default of "none" (or "unlimited", or empty) is no limit at all."""
    if isinstance(value, str) and value.strip().lower() in ("", "none", "unlimited"):
        return None
    return value


QuotaDefault = Annotated[
    Annotated[int, Field(ge=0, le=2**31 - 1)] | None, BeforeValidator(_no_limit)
]


class Settings(BaseSettings):
    """Sandlot's settings; each field is read from `SANDLOT_<FIELD>` as well."""

    model_config = SettingsConfigDict(env_prefix="SANDLOT_", extra="ignore")

    data_dir: Path = Field(default=Path(".sandlot"), description="Where state lives.")
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy async URL; defaults to a SQLite file in the data dir. "
        "Use postgresql+asyncpg://user@host/db for PostgreSQL.",
    )
    host: str = "127.0.0.1"
    port: int = 8000
    access_log: bool = Field(
        default=False,
        description="Log every HTTP request; invocations are recorded in their history anyway.",
    )
    bootstrap_api_key: str | None = Field(
        default=None, description="The admin key to create on first start (else generated)."
    )
    secret_key: SecretStr | None = Field(
        default=None,
        description="The key (32 bytes, base64) that encrypts secrets at rest; unset, a key "
        "is generated into <data dir>/secret.key (0600). Servers sharing a database need the "
        "same one.",
    )
    secret_previous_keys: list[SecretStr] = Field(
        default_factory=list,
        description="Earlier secret keys (a JSON list of base64 keys) that still decrypt while "
        "`sandlot secrets rotate-key` re-encrypts every secret under SANDLOT_SECRET_KEY.",
    )
    bootstrap_admin_password: SecretStr | None = Field(
        default=None,
        description="The password of the platform admin user `admin`, created on the first "
        "start (else a generated one, written to <data dir>/admin.password and printed once).",
    )
    session_idle_minutes: int = Field(
        default=60,
        ge=1,
        description="A browser session unused this long ends (checked to about a minute).",
    )
    session_max_hours: float = Field(
        default=12.0,
        gt=0,
        description="A browser session ends this long after sign-in, however much it is used.",
    )
    login_account_limit: str = Field(
        default="10/5minutes",
        description="Failed sign-ins allowed per account (a `limits` rate); past it, sign-ins "
        "to that account get 429 TooManyLoginAttempts until the window ends.",
    )
    login_address_limit: str = Field(
        default="30/5minutes",
        description="Failed sign-ins allowed per client address (IPv4, or IPv6 /64); past "
        "it, sign-ins from there get 429 TooManyLoginAttempts until the window ends.",
    )
    sandbox: SandboxMode = SandboxMode.STRICT

    @field_validator("egress_subnet6")
    @classmethod
    def _egress_subnet6_is_local(cls, value: IPv6Network) -> IPv6Network:
        # Masqueraded out of the host: a public range here would only shadow real addresses.
        if not value.subnet_of(IPv6Network("fc00::/7")) or value.prefixlen > 64:
            raise ValueError("a unique-local range (inside fc00::/7) of /64 or larger")
        return value

    @field_validator("egress_default_bound")
    @classmethod
    def _egress_bound_parses(cls, value: str) -> str:
        from sandlot.domain.egress import parse_bound
        from sandlot.domain.errors import InvalidEgressPolicy

        try:
            parse_bound(value.split())
        except InvalidEgressPolicy as error:
            raise ValueError(error.message) from None
        return value

    sandbox_uid_base: int = Field(
        default=100_000,
        ge=1_000,
        description="As root, each function version runs as its own host uid from this one "
        "up (65,536 of them); servers sharing a host should use ranges that do not overlap.",
    )

    egress_subnet: IPv4Network = Field(
        default=IPv4Network("100.64.0.0/16"),
        description="The pool each function version's network link (a /30) comes from, when "
        "its egress policy is not `none`; servers sharing a host need pools that do not overlap.",
    )
    # fd4c:91e2:7a05::/48 was drawn at random once (RFC 4193's way to pick a unique-local
    # prefix), so that it is unlikely to be any operator's own ULA range.
    egress_subnet6: IPv6Network = Field(
        default=IPv6Network("fd4c:91e2:7a05::/48"),
        description="The IPv6 pool each function version's link gets a /64 of (the same "
        "number as its IPv4 /30), a unique-local range (fc00::/7) of /64 or larger; servers "
        "sharing a host need pools that do not overlap.",
    )
    egress_route_table: int | None = Field(
        default=None,
        ge=1,
        le=2**31 - 1,
        description="Route functions' traffic by this policy-routing table only (never the "
        "main table), e.g. to confine it to a test network; unset, it follows the host's routes.",
    )
    egress_hosts_file: Path | None = Field(
        default=None,
        description="A hosts(5) file the egress resolver answers from instead of the host's "
        "resolver (fixed TTL of 60 s); for tests and fixed name maps.",
    )

    aws_region: str = Field(
        default="us-east-1",
        pattern=r"^[a-z]{2}(-[a-z]+)+-[0-9]$",
        description="The region Lambda-compatible names carry: functions see it as AWS_REGION "
        "and in their ARNs, and Lambda API requests must be signed for it.",
    )

    # Limits on what callers send.
    max_event_bytes: int = 6 * 1024 * 1024
    max_result_bytes: int = 6 * 1024 * 1024
    max_upload_bytes: int = 50 * 1024 * 1024
    max_unpacked_bytes: int = 250 * 1024 * 1024
    max_archive_files: int = 10_000
    max_log_bytes: int = 1024 * 1024
    log_excerpt_bytes: int = 4096
    # Each invocation's event is kept with its record up to this many bytes (cut beyond it,
    # flagged `event_truncated`); 0 keeps none. Bounded so that a busy function's history
    # does not store every large body it was sent.
    invocation_event_bytes: int = Field(default=64 * 1024, ge=0, le=16 * 1024 * 1024)
    # Finished invocations a live log stream's reader may fall behind by before it is dropped.
    log_stream_queue: int = Field(default=256, ge=1, le=100_000)

    # The HTTP door: slow, oversized and unauthenticated callers.
    http_header_timeout_s: float = Field(
        default=10.0,
        gt=0,
        description="A request's line and headers must arrive within this, counted from the "
        "connection's start (or, on a kept-alive connection, from the request's first byte).",
    )
    http_body_timeout_s: float = Field(
        default=30.0,
        gt=0,
        description="The longest wait for the next part of a request body; also the grace "
        "before http_body_min_rate applies.",
    )
    http_body_min_rate: int = Field(
        default=1024,
        ge=0,
        description="Bytes per second a body must average once http_body_timeout_s has "
        "passed (0: no minimum), so that a body trickled in byte by byte is cut off too.",
    )
    http_max_connections: int = Field(
        default=1024,
        ge=1,
        description="Open connections at most; the ones past it are answered 503 "
        "TooManyConnections and closed.",
    )
    http_drain_bytes: int = Field(
        default=128 * 1024 * 1024,
        ge=0,
        description="When an answer (413, 401, ...) is ready before the request body was "
        "read, up to this many more body bytes are read and dropped so that the client reads "
        "the answer; a longer body gets the answer and a closed connection.",
    )
    http_drain_timeout_s: float = Field(
        default=30.0, gt=0, description="The longest time spent reading a body to drop it."
    )
    auth_failure_limit: str = Field(
        default="30/minute",
        description="Wrong API keys one client address may present (a `limits` rate such as "
        "'30/minute'); past it, its calls get 429 TooManyAuthFailures until the window ends.",
    )
    audit_auth_failure_limit: str = Field(
        default="60/minute",
        description="Failed authentications written to the audit log, all addresses together "
        "(a `limits` rate); each address has at most one a minute anyway, like its log line.",
    )
    auth_miss_ttl_s: float = Field(
        default=5.0,
        ge=0,
        description="How long an unknown key is remembered as unknown, so that a flood of "
        "bad keys does not reach the database; a key created on this server is known at once.",
    )
    monitor_token: str | None = Field(
        default=None,
        description="A bearer token that may read /metrics and the detailed /readyz "
        "(for a scraper); admin API keys may always.",
    )
    monitor_allow: list[str] = Field(
        default_factory=list,
        description="Client addresses or networks (CIDR) that may read /metrics and the "
        "detailed /readyz without a token.",
    )

    # The runtime pool.
    keep_alive_s: float = 600.0
    max_instances: int = 1000
    max_memory_mb: int = Field(
        default=16 * 1024,
        description="The memory the pool may promise in all: each instance at its memory "
        "size, each zygote at its imports' peak.",
    )
    min_available_memory_mb: int = Field(
        default=256,
        description="When the host's available memory falls under this, the reaper evicts "
        "idle instances (beyond min_warm), spares and unused zygotes, least recently used "
        "first.",
    )
    default_max_concurrency: int = 10
    queue_timeout_s: float = 10.0
    shutdown_grace_s: float = 10.0
    tmp_mb: int = 64
    pids_max: int = 64
    instance_cpus: float = Field(
        default=1.0,
        gt=0,
        le=64,
        description="The CPU time each function instance may use, in CPUs (its cgroup's "
        "quota). A worker held to less CPU than one (a cgroup of its own) needs this at or "
        "below its share: cgroup v1 refuses a child a quota above its parent's.",
    )
    zygotes: bool = Field(
        default=True,
        description="Fork instances from a per-version zygote that has imported the handler "
        "(fast cold starts); false starts a new process per instance.",
    )
    reuse_instances: bool = Field(
        default=True,
        description="Hand an idle instance to the next call of its version; false discards "
        "each instance after its call (the zygote stays), so that every call is a cold start "
        "(for benchmarks and for functions that must not share state between calls).",
    )
    spare_instances: int = Field(
        default=2,
        ge=0,
        description="With zygotes: after a cold start, fork and initialise the version's next "
        "instance ahead of need, so that the next cold start only takes it; a version whose "
        "cold starts come faster than that keeps up to this many (0: none). Spares stop with "
        "their zygote.",
    )

    # Per-namespace quotas: what a namespace without a limit of its own is held to
    # (`sandlot quota set` gives it one). "none" means no limit.
    quota_functions: QuotaDefault = Field(default=100, description="Live functions per namespace.")
    quota_memory_mb: QuotaDefault = Field(
        default=8192,
        description="MB of live instances per namespace on a server (each at its memory size; "
        "zygotes and spares are the platform's and not counted); past it its idle instances "
        "are evicted for new ones, then calls get 429 QuotaExceeded.",
    )
    quota_concurrency: QuotaDefault = Field(
        default=100,
        description="Calls of one namespace a server holds at once, running or queued; past "
        "it, 429 QuotaExceeded with Retry-After.",
    )
    quota_rate_per_minute: QuotaDefault = Field(
        default=60_000,
        description="Calls per minute per namespace on a server: a token bucket that bursts "
        "up to this many and refills at a sixtieth of it each second; past it, 429 "
        "QuotaExceeded with Retry-After.",
    )
    quota_code_mb: QuotaDefault = Field(
        default=1024,
        description="MB of zipped code per namespace: the newest version of each live function.",
    )
    quota_env_kb: QuotaDefault = Field(
        default=256,
        description="KB of environment variables (names and values) per namespace: the newest "
        "version of each live function.",
    )

    # Network egress: what a namespace's functions may reach when it has no bound of its own
    # (`sandlot namespaces egress set`). Destinations separated by spaces.
    egress_default_bound: str = Field(
        default="none",
        description="The egress bound of a namespace without one of its own: `none` (no "
        "network, the default), `internet`, or destinations separated by spaces "
        "(`10.0.0.0/8:5432 *.example.com:443`), optionally with `internet`.",
    )

    # Dependency builds.
    package_index_url: str | None = None
    extra_index_urls: list[str] = Field(default_factory=list)
    find_links: list[str] = Field(default_factory=list)
    build_timeout_s: float = 600.0
    max_env_bytes: int = 1024 * 1024 * 1024
    env_gc_grace_s: float = 24 * 3600.0
    env_gc_interval_s: float = Field(
        default=3600.0, description="How often unused environments are looked for and removed."
    )

    # Writes of sync invocation records are batched off the hot path.
    record_flush_interval_s: float = 0.2
    record_batch_size: int = 500
    journal: bool = Field(
        default=True,
        description="Append each sync invocation's start and record to a local journal before "
        "it runs and before its answer, so that a crash of the server loses no answered call "
        "and records calls in flight as ServerCrashed; false only to measure what it costs.",
    )
    journal_segment_bytes: int = Field(
        default=16 * 1024 * 1024,
        ge=64 * 1024,
        description="Size of each preallocated journal segment; one spare is kept ahead, so "
        "the journal takes records while the disk is too full for the database.",
    )
    invocation_wait_max_s: float = Field(
        default=30.0,
        ge=0,
        le=300,
        description="The longest `GET /invocations/{id}?wait=` holds a request open for the "
        "call to end; a longer wait asks is shortened to this.",
    )

    # Schedules (services.scheduler).
    scheduler: bool = Field(
        default=True,
        description="Run the scheduler in this server: it fires schedules' due slots. Any "
        "number of servers on one PostgreSQL may run it; each slot fires once.",
    )
    scheduler_max_sleep_s: float = Field(
        default=30.0,
        gt=0,
        description="The longest the scheduler sleeps between looks, so that a schedule made "
        "on another server is noticed within this long.",
    )

    # Releases (services.release_driver).
    release_driver: bool = Field(
        default=True,
        description="Run the release driver in this server: it judges running releases' "
        "steps, moves them on and rolls bad ones back. Any number of servers on one "
        "PostgreSQL may run it; each step is taken once.",
    )
    release_driver_max_sleep_s: float = Field(
        default=5.0,
        gt=0,
        description="The longest the release driver sleeps between looks, so that a release "
        "started on another server is judged within this long of its step's end.",
    )

    # Webhook destinations of async calls (services.webhooks): sent by the server.
    webhook_timeout_s: float = Field(
        default=10.0, gt=0, description="How long one webhook attempt may take, in all."
    )
    webhook_max_attempts: int = Field(
        default=8, ge=1, le=100, description="Attempts at one delivery before it is failed."
    )
    webhook_backoff_base_s: float = Field(
        default=2.0,
        gt=0,
        description="The wait after a delivery's first failed attempt; "
        "doubled after each next one (with jitter), up to the cap.",
    )
    webhook_backoff_cap_s: float = Field(
        default=900.0, gt=0, description="The longest wait between two attempts."
    )
    webhook_poll_interval_s: float = Field(
        default=1.0, gt=0, description="How often the sender looks for due deliveries."
    )
    # The runner of queued asynchronous calls (services.async_runner).
    async_poll_interval_s: float = Field(
        default=1.0,
        gt=0,
        le=60,
        description="How often the runner of asynchronous calls looks for due calls, expired "
        "leases and cancels when nothing woke it (an accept wakes it at once).",
    )
    async_lease_grace_s: float = Field(
        default=30.0,
        ge=1,
        description="A claimed call's lease lasts its timeout, its import budget and the pool's "
        "queue time, plus this; a call still running past its lease is taken to be lost.",
    )
    async_backoff_base_s: float = Field(
        default=1.0,
        gt=0,
        description="The back-off before a retry: uniformly random up to base * 2^(attempt-1).",
    )
    async_backoff_cap_s: float = Field(
        default=300.0, gt=0, description="The most a retry's back-off can be."
    )
    async_sync_share: float = Field(
        default=0.25,
        ge=0,
        lt=1,
        description="The share of a version's max_concurrency kept free of asynchronous calls "
        "for sync calls (at least one slot); with max_concurrency 1, an asynchronous call runs "
        "only while the version is idle.",
    )
    async_claim_batch: int = Field(
        default=32, ge=1, le=1000, description="How many due calls one claim takes at most."
    )
    # Function URLs.
    public_url: str | None = Field(
        default=None,
        description="The base URL function URLs are announced with (https://fn.example); "
        "unset, the address the request for the URL's settings came to.",
    )
    # More machines (README "More machines"): API servers, workers, one PostgreSQL.
    role: Role = Field(
        default=Role.ALL,
        description="`all`: API, runtime pool and queue in one process (the default). `api`: "
        "only the API; calls go to the workers registered in the database (PostgreSQL).",
    )
    cluster_secret: SecretStr | None = Field(
        default=None,
        description="The secret (at least 32 characters) that signs calls from API servers to "
        "workers; every API server and worker of a cluster needs the same one.",
    )
    worker_host: str = Field(
        default="127.0.0.1", description="Where `sandlot worker` listens for API servers."
    )
    worker_port: int = Field(default=8070, description="The port `sandlot worker` listens on.")
    worker_url: str | None = Field(
        default=None,
        description="The address API servers reach this worker at (unset: http://<worker "
        "host>:<worker port>, the port it bound when that is 0).",
    )
    heartbeat_interval_s: float = Field(
        default=1.0, gt=0, description="How often a worker writes its row in the registry."
    )
    worker_stale_s: float = Field(
        default=5.0,
        gt=0,
        description="A worker silent this long gets no calls, and its asynchronous calls are "
        "queued again for other workers.",
    )

    @property
    def cluster_key(self) -> bytes | None:
        """The cluster secret as HMAC key bytes, if one is set."""
        if self.cluster_secret is None:
            return None
        return self.cluster_secret.get_secret_value().encode()

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'sandlot.db').resolve()}"

    @property
    def admin_key_path(self) -> Path:
        return self.data_dir / "admin.key"

    @property
    def secret_key_path(self) -> Path:
        return self.data_dir / "secret.key"

    @property
    def admin_password_path(self) -> Path:
        return self.data_dir / "admin.password"

    @property
    def code_dir(self) -> Path:
        return self.data_dir / "code"

    @property
    def envs_dir(self) -> Path:
        return self.data_dir / "envs"

    @property
    def run_dir(self) -> Path:
        return self.data_dir / "run"

    @property
    def journal_dir(self) -> Path:
        return self.data_dir / "journal"
