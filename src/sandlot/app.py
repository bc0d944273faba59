"""Assembling one Sandlot server process: `create_app(settings)`."""

from __future__ import annotations

import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from sandlot import __version__
from sandlot.api import errors
from sandlot.api.routes import functions, health, invocations, keys
from sandlot.api.runtime import Runtime
from sandlot.config import SandboxMode, Settings
from sandlot.sandbox.spec import Starter
from sandlot.services import auth
from sandlot.services.archives import ArchiveLimits
from sandlot.services.catalog import Catalog
from sandlot.services.code import CodeStore
from sandlot.services.invocations import Invoker
from sandlot.services.metrics import Metrics
from sandlot.services.recorder import InvocationRecorder
from sandlot.storage.db import make_engine, make_sessionmaker, upgrade
from sandlot.worker.pool import RuntimePool

log = logging.getLogger("sandlot")

API_PREFIX = "/api/v1"


def _assemble(settings: Settings, starter: Starter) -> Runtime:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.resolved_database_url)
    sessions = make_sessionmaker(engine)
    code = CodeStore(
        settings.code_dir.resolve(),
        ArchiveLimits(
            max_unpacked_bytes=settings.max_unpacked_bytes, max_files=settings.max_archive_files
        ),
    )
    pool = RuntimePool(starter=starter, settings=settings)
    catalog = Catalog(
        sessions=sessions,
        code=code,
        keep_alive_s=settings.keep_alive_s,
        max_concurrency=settings.default_max_concurrency,
        tmp_mb=settings.tmp_mb,
    )
    recorder = InvocationRecorder(
        sessions,
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
        engine=engine,
        sessions=sessions,
        pool=pool,
        catalog=catalog,
        code=code,
        recorder=recorder,
        metrics=metrics,
        keys=auth.KeyCache(ttl_s=5.0),
        invoker=invoker,
        insecure=settings.sandbox is SandboxMode.INSECURE_DEV,
    )


async def _first_start(runtime: Runtime) -> None:
    settings = runtime.settings
    async with runtime.sessions.begin() as session:
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


def create_app(settings: Settings, starter: Starter | None = None) -> FastAPI:
    """The whole server. `starter` overrides how function processes start (tests)."""
    if starter is None:
        from sandlot.sandbox.factory import make_starter

        starter, summary = make_starter(settings)
    else:
        summary = f"starter given by the caller: {starter.name}"
    runtime = _assemble(settings, starter)
    runtime.sandbox_summary = summary

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await upgrade(settings.resolved_database_url)
        await _first_start(runtime)
        if runtime.insecure:
            log.warning("SANDLOT_SANDBOX=insecure-dev: functions run WITHOUT isolation")
        await runtime.pool.start()
        runtime.recorder.start()
        runtime.ready = True
        try:
            yield
        finally:
            runtime.ready = False
            await runtime.pool.close(settings.shutdown_grace_s)
            await runtime.recorder.close()
            await runtime.engine.dispose()

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
    for router in (functions.router, invocations.router, keys.router):
        app.include_router(router, prefix=API_PREFIX)
    return app
