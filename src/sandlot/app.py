"""Assembling one Sandlot server process: `create_app(settings)`."""

from __future__ import annotations

import copy
import logging
import math
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from starlette.types import ASGIApp

from sandlot import __version__
from sandlot.api import errors
from sandlot.api.invoke_path import LeanInvokeRoute
from sandlot.api.routes import environments, functions, health, invocations, keys
from sandlot.config import SandboxMode, Settings
from sandlot.domain.models import Function
from sandlot.envs import BuildOptions
from sandlot.sandbox.factory import make_starter
from sandlot.sandbox.probe import probe_host, render_text
from sandlot.sandbox.spec import Starter
from sandlot.services import auth
from sandlot.services.activation import Activator
from sandlot.services.archives import ArchiveLimits
from sandlot.services.builds import Builder
from sandlot.services.catalog import Catalog
from sandlot.services.code import CodeStore
from sandlot.services.invocations import Invoker
from sandlot.services.metrics import Metrics
from sandlot.services.recorder import InvocationRecorder
from sandlot.services.runtime import Runtime
from sandlot.storage.db import Database, upgrade_sync
from sandlot.storage.journal import Journal
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


def server_options(settings: Settings) -> dict[str, Any]:
    """How Uvicorn serves Sandlot; the benchmark serves its baseline the same way."""
    return {
        "host": settings.host,
        "port": settings.port,
        "log_level": "info",
        "log_config": _log_config(),
        "access_log": settings.access_log,
        # In-flight invocations get the grace period after SIGTERM (api.serving starts it when
        # the signal arrives); then the pool stops every function process.
        "timeout_graceful_shutdown": math.ceil(settings.shutdown_grace_s) + _ANSWER_MARGIN_S,
    }


def _log_config() -> dict[str, Any]:
    """Uvicorn's logging, plus Sandlot's own logger on the same handler (the sandbox summary
    at start, warnings about functions, errors of ours)."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["sandlot"] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    return config


def sandbox_report() -> tuple[str, bool]:
    """What `sandlot doctor` prints, and whether strict mode can run functions here."""
    from sandlot.sandbox.probe import required_missing

    results = probe_host()
    return render_text(results), not required_missing(results)


def _assemble(settings: Settings, starter: Starter) -> Runtime:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    database = Database(settings.resolved_database_url)
    code = CodeStore(
        settings.code_dir.resolve(),
        ArchiveLimits(
            max_unpacked_bytes=settings.max_unpacked_bytes, max_files=settings.max_archive_files
        ),
    )
    pool = RuntimePool(starter, settings)

    def on_ready(function: Function) -> None:
        # Late-bound: the activator needs the catalog, which needs this builder.
        activator.version_ready(function)

    builder = Builder(
        database=database,
        code=code,
        envs_root=settings.envs_dir,
        options=BuildOptions.from_settings(settings),
        on_ready=on_ready,
    )
    catalog = Catalog(
        database=database,
        code=code,
        builder=builder,
        keep_alive_s=settings.keep_alive_s,
        max_concurrency=settings.default_max_concurrency,
        tmp_mb=settings.tmp_mb,
    )
    activator = Activator(database=database, catalog=catalog, pool=pool)
    journal = Journal(settings.journal_dir, settings.journal_segment_bytes)
    recorder = InvocationRecorder(
        database.sessions,
        journal=journal if settings.journal else None,
        interval_s=settings.record_flush_interval_s,
        batch_size=settings.record_batch_size,
    )
    metrics = Metrics(pool.stats)
    invoker = Invoker(
        catalog=catalog,
        pool=pool,
        recorder=recorder,
        metrics=metrics,
        max_event_bytes=settings.max_event_bytes,
        log_excerpt_bytes=settings.log_excerpt_bytes,
    )
    return Runtime(
        settings=settings,
        database=database,
        pool=pool,
        catalog=catalog,
        code=code,
        recorder=recorder,
        metrics=metrics,
        keys=auth.KeyCache(ttl_s=5.0),
        invoker=invoker,
        builder=builder,
        activator=activator,
        insecure=settings.sandbox is SandboxMode.INSECURE_DEV,
    )


async def _first_start(runtime: Runtime) -> None:
    settings = runtime.settings
    async with runtime.database.sessions.begin() as session:
        created = await auth.bootstrap(
            session=session,
            bootstrap_key=settings.bootstrap_api_key,
            key_file=settings.admin_key_path,
        )
    if created.created and not settings.bootstrap_api_key:
        # Printed once, on the first start only; it is also in the key file (mode 0600).
        print(
            f"\nSandlot created the namespace 'default' and an admin API key:\n\n"
            f"    {created.key}\n\n(saved to {settings.admin_key_path.resolve()}, mode 0600)\n",
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


def create_app(settings: Settings, starter: Starter | None = None) -> FastAPI:
    """The whole server. `starter` overrides how function processes start (tests)."""
    runtime = _assemble(settings, starter or make_starter(settings))
    runtime.sandbox_summary = render_text(probe_host())

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await runtime.database.upgrade()
        await _first_start(runtime)
        await runtime.recorder.recover()
        _announce_sandbox(runtime)
        await runtime.pool.start()
        await runtime.builder.start(settings.env_gc_interval_s)
        runtime.recorder.start()
        await runtime.activator.warm_all()
        runtime.ready = True
        try:
            yield
        finally:
            runtime.ready = False
            await runtime.activator.drain()
            await runtime.builder.close()
            await runtime.pool.close(settings.shutdown_grace_s)
            await runtime.recorder.close()
            await runtime.database.dispose()

    app = FastAPI(
        title="Sandlot",
        version=__version__,
        summary="A self-hosted serverless platform for Python functions.",
        description="Every call under /api/v1 needs `Authorization: Bearer <API key>`. "
        'Errors always look like `{"error": "<Name>", "detail": {"message": ...}}`.',
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    errors.install(app)
    app.include_router(health.router)
    for router in (functions.router, invocations.router, keys.router, environments.router):
        app.include_router(router, prefix=API_PREFIX)
    return app


def served(app: FastAPI) -> ASGIApp:
    """What Uvicorn runs: the app behind the lean invoke route, which sits outside all of
    FastAPI's middleware so invocations skip its per-request machinery (api.invoke_path)."""
    runtime: Runtime = app.state.runtime
    return LeanInvokeRoute(app, runtime)


def serve(settings: Settings) -> None:
    """Run the server until SIGTERM or Ctrl-C (`sandlot serve`)."""
    from sandlot.api.serving import run

    app = create_app(settings)
    run(served(app), app.state.runtime, server_options(settings))
