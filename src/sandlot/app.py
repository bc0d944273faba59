"""Assembling one Sandlot server process: `create_app(settings)`."""

from __future__ import annotations

import asyncio
import getpass
import logging
import math
import os
import socket
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from starlette.types import ASGIApp

from sandlot import __version__
from sandlot.api import docs, errors, lambda_api, openapi, ui
from sandlot.api.drain import DrainLimits, DrainUnreadBody
from sandlot.api.http_guard import ConnectionLimits, guarded_protocol
from sandlot.api.invoke_path import LeanInvokeRoute
from sandlot.api.routes import aliases as alias_routes
from sandlot.api.routes import (
    async_calls,
    audit,
    dead_letters,
    egress,
    environments,
    function_metrics,
    function_urls,
    functions,
    health,
    invocations,
    keys,
    log_stream,
    members,
    namespaces,
    quotas,
    schedules,
    secrets,
    test_events,
    users,
)
from sandlot.api.routes import auth as auth_routes
from sandlot.api.routes import destinations as destination_routes
from sandlot.api.routes import pool as pool_routes
from sandlot.api.routes import releases as release_routes
from sandlot.api.routes import workers as worker_routes
from sandlot.api.serving import log_config
from sandlot.api.url_path import LeanUrlRoute
from sandlot.config import Role, SandboxMode, Settings
from sandlot.domain.egress import parse_bound
from sandlot.domain.errors import DataDirInUse
from sandlot.domain.models import Function
from sandlot.envs import BuildOptions
from sandlot.sandbox.egress_probe import egress_support
from sandlot.sandbox.factory import make_starter
from sandlot.sandbox.probe import probe_host, render_text
from sandlot.sandbox.spec import Starter
from sandlot.services import auth, parts
from sandlot.services import users as user_service
from sandlot.services.activation import Activator
from sandlot.services.async_runner import AsyncRunner
from sandlot.services.builds import Builder
from sandlot.services.catalog import Catalog
from sandlot.services.cluster_setup import require_cluster_settings
from sandlot.services.destinations import Destinations
from sandlot.services.egress import NOT_ENFORCED, EgressHost
from sandlot.services.invocations import Invoker
from sandlot.services.lambda_auth import LambdaAuth, access_key_id
from sandlot.services.metrics import HttpStats, Metrics
from sandlot.services.monitor_access import MonitorAccess
from sandlot.services.recorder import InvocationRecorder
from sandlot.services.registry import Registry
from sandlot.services.release_driver import ReleaseDriver
from sandlot.services.remote_pool import RemotePool
from sandlot.services.runtime import Runtime
from sandlot.services.scheduler import Scheduler
from sandlot.services.secret_keys import Keyring, load_keyring
from sandlot.services.secret_rotation import SecretRotator
from sandlot.services.signin import LoginLimiter
from sandlot.services.webhooks import SenderPolicy, WebhookSender
from sandlot.storage.datadir import DataDirLock
from sandlot.storage.db import Database, is_sqlite, upgrade_sync
from sandlot.storage.journal import Journal
from sandlot.storage.node_id import new_owner, node_id
from sandlot.storage.queue_notify import QueueChannel
from sandlot.worker.interface import Pool
from sandlot.worker.pool import RuntimePool

log = logging.getLogger("sandlot")

API_PREFIX = "/api/v1"
# After the grace period the pool stops the calls still running and they are answered 503;
# Uvicorn waits this much longer than the grace, so that those answers go out before it
# cancels what is left.
_ANSWER_MARGIN_S = 3


def migrate(settings: Settings) -> None:
    """Apply database migrations (the server also does this when it starts)."""
    upgrade_sync(settings.resolved_database_url)


@dataclass(frozen=True)
class OfflineKey:
    """A key made by `create_key_offline`: the API's answer to `POST /keys`, and the pid of
    the server that was running on the data dir meanwhile, if one was."""

    created: dict[str, Any]
    server_pid: int | None


def create_key_offline(settings: Settings, *, name: str, role: str) -> OfflineKey:
    """`sandlot keys create --offline`: a key written to the database directly, no key needed.

    With the server stopped it holds the data dir meanwhile (and migrates the database, as a
    start would). With a server running it goes ahead all the same: a key is one row written
    in one transaction, the server reads keys from the database, so the new key works at once
    and nobody has to stop a server to get back in.
    """
    try:
        lock: DataDirLock | None = DataDirLock.acquire(settings.data_dir)
        server_pid = None
    except DataDirInUse as busy:
        lock, server_pid = None, busy.extra.get("pid")
    try:
        if lock is not None:
            migrate(settings)
        url = settings.resolved_database_url
        keyring = load_keyring(settings)
        created = asyncio.run(_write_key(url, name, role, _local_operator(), keyring))
        created["aws_region"] = settings.aws_region
    finally:
        if lock is not None:
            lock.release()
    return OfflineKey(created, server_pid)


def _local_operator() -> tuple[str, str]:
    """(who, where) for the audit log of an offline key: the local user and this host."""
    try:
        who = getpass.getuser()
    except (OSError, KeyError):  # no login name and no passwd entry: a bare container
        who = f"uid {os.getuid()}"
    return who, f"local:{socket.gethostname()}"


async def _write_key(
    url: str, name: str, role: str, operator: tuple[str, str], keyring: Keyring
) -> dict[str, Any]:
    database = Database(url)
    who, host = operator
    try:
        async with database.sessions.begin() as session:
            key, secret = await auth.create_key_offline(
                session=session, name=name, role=role, operator=who, host=host, keyring=keyring
            )
    finally:
        await database.dispose()
    return {
        "id": key.id,
        "name": key.name,
        "role": key.role.value,
        "prefix": key.prefix,
        "created_at": key.created_at.isoformat(),
        "key": secret,
        "aws_access_key_id": access_key_id(key.prefix),
    }


def server_options(settings: Settings, app: FastAPI | None = None) -> dict[str, Any]:
    """How Uvicorn serves Sandlot; the benchmark serves its baseline the same way. With `app`,
    its connections are counted in that app's /metrics."""
    limits = ConnectionLimits(
        header_timeout_s=settings.http_header_timeout_s,
        body_timeout_s=settings.http_body_timeout_s,
        body_min_rate=settings.http_body_min_rate,
        max_connections=settings.http_max_connections,
    )
    stats = app.state.runtime.metrics.http if app is not None else HttpStats()
    return {
        "host": settings.host,
        "port": settings.port,
        # Header and body deadlines and the connection cap (api.http_guard).
        "http": guarded_protocol(limits, stats),
        "log_level": "info",
        "log_config": log_config(),
        "access_log": settings.access_log,
        # In-flight invocations get the grace period after SIGTERM (api.serving starts it when
        # the signal arrives); then the pool stops every function process.
        "timeout_graceful_shutdown": math.ceil(settings.shutdown_grace_s) + _ANSWER_MARGIN_S,
    }


def sandbox_report(settings: Settings) -> tuple[str, bool]:
    """What `sandlot doctor` prints, and whether strict mode can run functions here."""
    from sandlot.sandbox.probe import required_missing

    results = probe_host(uid_base=settings.sandbox_uid_base)
    text = render_text(results) + "\n" + egress_report(settings)
    return text, not required_missing(results)


def _is_api(settings: Settings) -> bool:
    """Role api: the API only; functions run on the workers (README "More machines")."""
    return settings.role is Role.API


def _pool_of(settings: Settings, starter: Starter | None, database: Database) -> Pool:
    """The runtime pool of this process, or (role api) the workers behind a RemotePool,
    found through the registry of workers in the database."""
    if starter is None:
        registry = Registry(
            database=database,
            interval_s=settings.heartbeat_interval_s,
            stale_after_s=settings.worker_stale_s,
        )
        assert settings.cluster_key is not None, "require_cluster_settings checked it"
        return RemotePool(registry=registry, cluster_key=settings.cluster_key)
    return RuntimePool(starter, settings)


def _starter_of(settings: Settings, given: Starter | None) -> Starter | None:
    """How function processes start here; None in role api (nothing runs here, so nothing
    of the sandbox is swept, probed or set up either)."""
    if _is_api(settings):
        return None
    return given or make_starter(settings)


def _sandbox_summary(settings: Settings) -> str:
    if _is_api(settings):
        return "none here: role api, functions run on the workers (`sandlot worker`)"
    return render_text(probe_host(uid_base=settings.sandbox_uid_base))


def _assemble(settings: Settings, starter: Starter | None) -> Runtime:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    database = Database(settings.resolved_database_url)
    code = parts.code_store(settings)
    pool = _pool_of(settings, starter, database)

    def on_ready(function: Function) -> None:
        # Late-bound: the activator needs the catalog, which needs this builder.
        activator.version_ready(function)

    defaults = parts.spec_defaults(settings)
    keyring = load_keyring(settings)
    builder = Builder(
        database=database,
        code=code,
        envs_root=settings.envs_dir,
        options=BuildOptions.from_settings(settings),
        pool=pool,
        defaults=defaults,
        on_ready=on_ready,
        keyring=keyring,
        local_envs=starter is not None,
    )
    quota_defaults = parts.quota_defaults(settings)
    catalog = Catalog(
        database=database,
        code=code,
        builder=builder,
        defaults=defaults,
        keyring=keyring,
        quota_defaults=quota_defaults,
        local_paths=starter is not None,
    )
    activator = Activator(database=database, catalog=catalog, pool=pool)
    journal = Journal(settings.journal_dir, settings.journal_segment_bytes)
    recorder = InvocationRecorder(
        database.sessions,
        journal=journal if settings.journal else None,
        interval_s=settings.record_flush_interval_s,
        batch_size=settings.record_batch_size,
        tail_capacity=settings.log_stream_queue,
    )
    metrics = Metrics(pool.stats, pool.egress_denied if isinstance(pool, RuntimePool) else None)
    keys = auth.KeyCache(ttl_s=5.0)
    authenticator = parts.authenticator(settings, database, keys, metrics)
    invoker = Invoker(
        catalog=catalog,
        pool=pool,
        recorder=recorder,
        metrics=metrics,
        max_event_bytes=settings.max_event_bytes,
        log_excerpt_bytes=settings.log_excerpt_bytes,
        event_bytes=settings.invocation_event_bytes,
    )
    return Runtime(
        settings=settings,
        database=database,
        pool=pool,
        catalog=catalog,
        code=code,
        recorder=recorder,
        metrics=metrics,
        keys=keys,
        invoker=invoker,
        builder=builder,
        activator=activator,
        authenticator=authenticator,
        monitor=MonitorAccess(
            token=settings.monitor_token, allow=settings.monitor_allow, authenticator=authenticator
        ),
        insecure=settings.sandbox is SandboxMode.INSECURE_DEV,
        login_limiter=LoginLimiter(
            per_account=settings.login_account_limit, per_address=settings.login_address_limit
        ),
        quota_defaults=quota_defaults,
        egress=egress_host_of(settings),
        keyring=keyring,
        rotator=SecretRotator(database=database, keyring=keyring),
    )


def _scheduler(runtime: Runtime) -> Scheduler:
    """The schedules' loop, started when SANDLOT_SCHEDULER is on (tests drive `run_once`
    by hand otherwise); its firings wake the queue's claimers."""
    return Scheduler(
        database=runtime.database,
        invoker=runtime.invoker,
        queue_waker=runtime.queue_waker,
        max_sleep_s=runtime.settings.scheduler_max_sleep_s,
    )


def _release_driver(runtime: Runtime) -> ReleaseDriver:
    """The releases' loop, started when SANDLOT_RELEASE_DRIVER is on (tests drive
    `run_once` by hand otherwise)."""
    return ReleaseDriver(
        database=runtime.database,
        activator=runtime.activator,
        max_sleep_s=runtime.settings.release_driver_max_sleep_s,
    )


def _wire_destinations(runtime: Runtime) -> None:
    """Destinations of async calls: function destinations go through the invoker and wake
    the queue; webhook deliveries wake the sender, which signs and sends them."""
    settings = runtime.settings
    sender = WebhookSender(
        sessions=runtime.database.sessions,
        keyring=runtime.keyring,
        policy=SenderPolicy(
            timeout_s=settings.webhook_timeout_s,
            max_attempts=settings.webhook_max_attempts,
            backoff_base_s=settings.webhook_backoff_base_s,
            backoff_cap_s=settings.webhook_backoff_cap_s,
            poll_interval_s=settings.webhook_poll_interval_s,
        ),
    )
    runtime.webhooks = sender
    runtime.destinations = Destinations(
        invoker=runtime.invoker,
        max_attempts=settings.webhook_max_attempts,
        on_queued=runtime.queue_waker.notify,
        on_delivery=sender.notify,
    )


def _queue_channel(runtime: Runtime) -> QueueChannel | None:
    """On PostgreSQL: LISTEN for other processes' accepts, and NOTIFY them of this one's
    (role api: the workers claim what this server accepts)."""
    settings = runtime.settings
    if is_sqlite(settings.resolved_database_url):
        return None
    waker = runtime.queue_waker
    channel = QueueChannel(settings.resolved_database_url, waker.wake)
    waker.remote = channel.notify
    return channel


def _async_runner(runtime: Runtime, channel: QueueChannel | None) -> AsyncRunner | None:
    """The claimer of queued calls (none in role api: the workers claim them)."""
    if _is_api(runtime.settings):
        return None
    settings = runtime.settings
    waker = runtime.queue_waker
    return AsyncRunner(
        database=runtime.database,
        catalog=runtime.catalog,
        pool=runtime.pool,
        destinations=runtime.destinations,
        waker=waker,
        owner=new_owner(node_id(settings.data_dir)),
        options=parts.runner_options(settings),
        channel=channel,
    )


def egress_host_of(settings: Settings) -> EgressHost:
    """The default bound, and whether this host can enforce egress (its probe, once)."""
    default_bound = parse_bound(settings.egress_default_bound.split())
    if settings.sandbox is SandboxMode.INSECURE_DEV:
        return EgressHost(default_bound=default_bound, insecure=True, reason=NOT_ENFORCED)
    if _is_api(settings):
        # Functions run on the workers, not on this host: its own probe says nothing about
        # them. A deploy is checked against the namespace's bound only, and each worker
        # refuses a version whose policy it cannot enforce (`EgressUnavailable` in its
        # prepare and its calls, `WorkerNode.check_egress`), so no policy ever runs open.
        return EgressHost(default_bound=default_bound, enforced=True, reason="")
    support = egress_support(settings.egress_route_table)
    return EgressHost(default_bound=default_bound, enforced=support.ok, reason=support.reason)


def egress_report(settings: Settings) -> str:
    """`sandlot doctor`'s egress line."""
    if settings.sandbox is SandboxMode.INSECURE_DEV:
        return f"egress: NOT ENFORCED ({NOT_ENFORCED})"
    support = egress_support(settings.egress_route_table)
    if support.ok:
        return f"egress: enforced ({support.reason})" if support.reason else "egress: enforced"
    return (
        f"egress: CANNOT BE ENFORCED ({support.reason}); deploys with a policy other than "
        "'none' are refused (EgressUnavailable)"
    )


async def _first_start(runtime: Runtime) -> None:
    settings = runtime.settings
    async with runtime.database.sessions.begin() as session:
        created = await auth.bootstrap(
            session=session,
            bootstrap_key=settings.bootstrap_api_key,
            key_file=settings.admin_key_path,
            keyring=runtime.keyring,
        )
    if created.created and not settings.bootstrap_api_key:
        # Printed once, on the first start only; it is also in the key file (mode 0600).
        print(
            f"\nSandlot created the namespace 'default' and an admin API key:\n\n"
            f"    {created.key}\n\n(saved to {settings.admin_key_path.resolve()}, mode 0600)\n",
            file=sys.stderr,
            flush=True,
        )
    await _first_admin(runtime)


async def _first_admin(runtime: Runtime) -> None:
    """The platform admin user, on the first start (no user yet): with the password from
    SANDLOT_BOOTSTRAP_ADMIN_PASSWORD, or a generated one, printed this once and saved."""
    settings = runtime.settings
    given = settings.bootstrap_admin_password
    async with runtime.database.sessions.begin() as session:
        made = await user_service.bootstrap_admin(
            session=session,
            password=given.get_secret_value() if given is not None else None,
            password_file=settings.admin_password_path,
        )
    if made.password is not None:
        # Printed once, on the first start only; it is also in the file (mode 0600).
        print(
            f"\nSandlot created the platform admin user 'admin' with the password:\n\n"
            f"    {made.password}\n\n(saved to {settings.admin_password_path.resolve()}, "
            "mode 0600; sign in with `sandlot login`, then change it)\n",
            file=sys.stderr,
            flush=True,
        )


def _announce_sandbox(runtime: Runtime) -> None:
    log.info("sandbox layers on this host (see `sandlot doctor`):\n%s", runtime.sandbox_summary)
    if runtime.insecure:
        # Said on every start, and in /readyz, so nobody runs this way by accident.
        log.warning(
            "SANDLOT_SANDBOX=insecure-dev: functions run as plain processes WITHOUT isolation; "
            "never use this with code you do not trust"
        )
        log.warning("SANDLOT_SANDBOX=insecure-dev: %s", NOT_ENFORCED)
    elif not runtime.egress.enforced:
        log.warning(
            "egress cannot be enforced on this host (%s): deploys with a network policy "
            "other than 'none' are refused",
            runtime.egress.reason,
        )


def _releasing(
    lock: DataDirLock, lifespan: Callable[[FastAPI], AbstractAsyncContextManager[None]]
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """The lifespan, giving the data dir up once it has ended (or failed to start)."""

    @asynccontextmanager
    async def held(app: FastAPI) -> AsyncIterator[None]:
        try:
            async with lifespan(app):
                yield
        finally:
            lock.release()

    return held


def create_app(settings: Settings, starter: Starter | None = None) -> FastAPI:
    """The whole server. `starter` overrides how function processes start (tests).

    Raises `DataDirInUse` when another server holds the data dir, `ClusterSetupInvalid` in
    role api on SQLite or without the cluster secret.
    """
    if _is_api(settings):  # refused before anything is written, even the data dir
        require_cluster_settings(settings, "sandlot serve --role api")
    # First of all: a second server on this data dir must refuse before anything writes
    # (the starter's sweep of the last run's leftovers, the probe's cgroups, migrations).
    lock = DataDirLock.acquire(settings.data_dir)
    try:
        runtime = _assemble(settings, _starter_of(settings, starter))
        runtime.scheduler = _scheduler(runtime)
        runtime.release_driver = _release_driver(runtime)
        runtime.sandbox_summary = _sandbox_summary(settings)
        _wire_destinations(runtime)
    except BaseException:
        lock.release()
        raise

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await runtime.database.upgrade()
        await _first_start(runtime)
        await runtime.recorder.recover()
        _announce_sandbox(runtime)
        registry = runtime.pool.registry if isinstance(runtime.pool, RemotePool) else None
        if registry is not None:
            await registry.start()
        await runtime.pool.start()
        await runtime.builder.start(settings.env_gc_interval_s)
        runtime.recorder.start()
        runtime.authenticator.start()
        if runtime.webhooks is not None:
            runtime.webhooks.start()
        await runtime.activator.warm_all()
        if runtime.scheduler is not None and settings.scheduler:
            runtime.scheduler.start()
        if runtime.release_driver is not None and settings.release_driver:
            runtime.release_driver.start()
        channel = _queue_channel(runtime)
        runner = runtime.async_runner = _async_runner(runtime, channel)
        if channel is not None:
            await channel.start()
        if runner is not None:
            await runner.start()
        runtime.ready = True
        try:
            yield
        finally:
            runtime.ready = False
            if runtime.scheduler is not None:
                await runtime.scheduler.close()
            if runtime.release_driver is not None:
                await runtime.release_driver.close()
            if runner is not None:
                runner.stop()
            await runtime.activator.drain()
            await runtime.builder.close()
            await runtime.pool.close(settings.shutdown_grace_s)
            if runner is not None:
                await runner.close()  # the calls the pool ended, written while the db is open
            if channel is not None:
                await channel.close()
            if registry is not None:
                await registry.close()
            await runtime.recorder.close()
            await runtime.authenticator.close()
            if runtime.webhooks is not None:
                await runtime.webhooks.close()
            await runtime.database.dispose()

    app = FastAPI(
        title="Sandlot",
        version=__version__,
        summary="A self-hosted serverless platform for Python functions.",
        description="Every call under /api/v1 needs `Authorization: Bearer <API key>` "
        "(in /docs: Authorize), or a browser session from POST /api/v1/auth/login (its "
        "cookie, and for changes its CSRF token in `X-CSRF-Token`). "
        'Errors always look like `{"error": "<Name>", "detail": {"message": ...}}`.',
        lifespan=_releasing(lock, lifespan),
        docs_url=None,  # served by api.docs, with local assets
        redoc_url=None,
    )
    app.state.runtime = runtime
    app.state.lambda_auth = LambdaAuth(
        database=runtime.database,
        keyring=runtime.keyring,
        authenticator=runtime.authenticator,
        region=settings.aws_region,
    )
    errors.install(app)
    openapi.install(app)
    docs.install(app)
    app.include_router(health.router)
    for router in (
        functions.router,
        function_metrics.router,
        function_metrics.stats_router,
        log_stream.router,
        invocations.router,
        keys.router,
        environments.router,
        namespaces.router,
        members.router,
        quotas.router,
        egress.router,
        audit.router,
        secrets.router,
        secrets.key_router,
        test_events.router,
        users.router,
        auth_routes.router,
        pool_routes.router,
        worker_routes.router,
        schedules.router,
        destination_routes.router,
        async_calls.router,
        function_urls.router,
        dead_letters.router,
        alias_routes.router,
        release_routes.router,
    ):
        app.include_router(router, prefix=API_PREFIX)
    app.include_router(lambda_api.build_router())
    ui.install(app)
    return app


def served(app: FastAPI) -> ASGIApp:
    """What Uvicorn runs: the app behind the lean invoke route, which sits outside all of
    FastAPI's middleware so invocations skip its per-request machinery (api.invoke_path),
    and outermost the drain of unread bodies, so that early answers reach every client."""
    runtime: Runtime = app.state.runtime
    settings = runtime.settings
    drain = DrainLimits(
        max_bytes=settings.http_drain_bytes, timeout_s=settings.http_drain_timeout_s
    )
    # Function URLs (api.url_path) are lean for the same reason as invocations.
    return DrainUnreadBody(LeanUrlRoute(LeanInvokeRoute(app, runtime), runtime), drain)


def serve(
    app: FastAPI,
    *,
    on_listening: Callable[[int], None] | None = None,
    on_stopping: Callable[[], None] | None = None,
) -> None:
    """Run an app made by `create_app` until SIGTERM or Ctrl-C (`sandlot serve`); the hooks
    are `api.serving.SandlotServer`'s."""
    from sandlot.api.serving import run

    runtime: Runtime = app.state.runtime
    options = server_options(runtime.settings, app)
    run(served(app), runtime, options, on_listening=on_listening, on_stopping=on_stopping)
