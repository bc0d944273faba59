"""The parts that an API server (`sandlot.app`) and a worker (`sandlot.node`) both make from
their settings, made one way so that the two processes cannot drift apart."""

from __future__ import annotations

from datetime import timedelta

from sandlot.config import Settings
from sandlot.domain.quotas import QuotaLimits
from sandlot.services import auth
from sandlot.services.archives import ArchiveLimits
from sandlot.services.async_runner import RunnerOptions
from sandlot.services.authenticator import Authenticator, SessionPolicy
from sandlot.services.code import CodeStore
from sandlot.services.metrics import Metrics
from sandlot.services.specs import SpecDefaults
from sandlot.storage.db import Database


def code_store(settings: Settings) -> CodeStore:
    """The unpacked code of versions on this machine's disk."""
    limits = ArchiveLimits(
        max_unpacked_bytes=settings.max_unpacked_bytes, max_files=settings.max_archive_files
    )
    return CodeStore(settings.code_dir.resolve(), limits)


def spec_defaults(settings: Settings) -> SpecDefaults:
    return SpecDefaults(
        keep_alive_s=settings.keep_alive_s,
        max_concurrency=settings.default_max_concurrency,
        tmp_mb=settings.tmp_mb,
    )


def quota_defaults(settings: Settings) -> QuotaLimits:
    """A namespace's quotas where it sets none of its own."""
    return QuotaLimits(
        functions=settings.quota_functions,
        memory_mb=settings.quota_memory_mb,
        concurrency=settings.quota_concurrency,
        rate_per_minute=settings.quota_rate_per_minute,
        code_mb=settings.quota_code_mb,
        env_kb=settings.quota_env_kb,
    )


def runner_options(settings: Settings) -> RunnerOptions:
    """How the claimer of queued asynchronous calls polls, leases and backs off."""
    return RunnerOptions(
        poll_interval_s=settings.async_poll_interval_s,
        lease_grace_s=settings.async_lease_grace_s,
        backoff_base_s=settings.async_backoff_base_s,
        backoff_cap_s=settings.async_backoff_cap_s,
        sync_share=settings.async_sync_share,
        claim_batch=settings.async_claim_batch,
        pool_queue_s=settings.queue_timeout_s,
        log_excerpt_bytes=settings.log_excerpt_bytes,
    )


def authenticator(
    settings: Settings, database: Database, keys: auth.KeyCache, metrics: Metrics
) -> Authenticator:
    return Authenticator(
        sessions=database.sessions,
        keys=keys,
        metrics=metrics,
        failure_limit=settings.auth_failure_limit,
        miss_ttl_s=settings.auth_miss_ttl_s,
        audit_failure_limit=settings.audit_auth_failure_limit,
        session_policy=SessionPolicy(
            idle=timedelta(minutes=settings.session_idle_minutes),
            absolute=timedelta(hours=settings.session_max_hours),
        ),
    )
