"""The long-lived collaborators one server runs with, assembled by `sandlot.app.create_app`.

The API reaches the database, the pool and the caches only through this container and
the services, never by importing storage or the worker itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from sandlot.config import Settings
from sandlot.domain.quotas import QuotaLimits
from sandlot.services.activation import Activator
from sandlot.services.async_runner import AsyncRunner
from sandlot.services.auth import KeyCache
from sandlot.services.authenticator import Authenticator
from sandlot.services.builds import Builder
from sandlot.services.catalog import Catalog
from sandlot.services.code import CodeStore
from sandlot.services.destinations import Destinations
from sandlot.services.function_urls import UrlDirectory
from sandlot.services.invocations import Invoker
from sandlot.services.metrics import Metrics
from sandlot.services.monitor_access import MonitorAccess
from sandlot.services.queue_wake import QueueWaker
from sandlot.services.recorder import InvocationRecorder
from sandlot.services.release_driver import ReleaseDriver
from sandlot.services.scheduler import Scheduler
from sandlot.services.secret_keys import Keyring
from sandlot.services.secret_rotation import SecretRotator
from sandlot.services.signin import LoginLimiter
from sandlot.services.webhooks import WebhookSender
from sandlot.storage.db import Database
from sandlot.storage.space import free_bytes
from sandlot.worker.interface import Pool

Session = AsyncSession  # what a route holds for one request; it never runs SQL itself

__all__ = ["Runtime", "Session"]


@dataclass
class Runtime:
    settings: Settings
    database: Database
    pool: Pool
    catalog: Catalog
    code: CodeStore
    recorder: InvocationRecorder
    metrics: Metrics
    keys: KeyCache
    invoker: Invoker
    builder: Builder
    activator: Activator
    authenticator: Authenticator
    monitor: MonitorAccess
    login_limiter: LoginLimiter
    keyring: Keyring
    rotator: SecretRotator
    # Each quota's limit where a namespace has none of its own (`Settings.quota_*`).
    quota_defaults: QuotaLimits = field(default_factory=QuotaLimits)
    # Told after each commit that queues a call, so the queue's claimers look at once.
    queue_waker: QueueWaker = field(default_factory=QueueWaker)
    # What an asynchronous call's end sets off (webhooks, other functions' queues).
    destinations: Destinations = field(default_factory=Destinations)
    # Fires schedules' due slots; woken by a create/resume (set by create_app).
    scheduler: Scheduler | None = None
    # Steps running releases and rolls bad ones back; woken by a start/resume.
    release_driver: ReleaseDriver | None = None
    # Sends the webhook deliveries that `destinations` queued (None: nothing sends them).
    webhooks: WebhookSender | None = None
    # Runs the queued asynchronous calls (made at start, in the lifespan).
    async_runner: AsyncRunner | None = None
    # Which functions have public URLs and how they are set, cached off the database.
    function_urls: UrlDirectory = field(default_factory=UrlDirectory)
    sandbox_summary: str = ""
    insecure: bool = False
    ready: bool = False
    problems: list[str] = field(default_factory=list)

    def storage_problems(self) -> list[str]:
        """What `/readyz` says about the disk: records the database did not take, a journal
        without room for new calls, a data dir nearly full."""
        problems = []
        if self.recorder.problem is not None:
            problems.append(f"invocation records are not being written: {self.recorder.problem}")
        journal = self.recorder.journal
        if journal is not None and not journal.has_reserve:
            problems.append("journal: no room for a spare segment; new calls are refused (507)")
        free = free_bytes(self.settings.data_dir)
        if free < self.settings.journal_segment_bytes:
            problems.append(
                f"data dir: {free} bytes free, less than a journal segment "
                f"({self.settings.journal_segment_bytes} bytes)"
            )
        return problems

    async def stop_calls(self) -> None:
        """The first step of a shutdown, taken when the signal arrives: not ready any more;
        calls in flight get `shutdown_grace_s` to finish, then their processes are stopped
        and they end `cancelled` (answered 503). Idempotent."""
        self.ready = False
        if self.async_runner is not None:
            self.async_runner.stop()  # claims nothing more; its calls drain with the pool's
        self.recorder.tail.close()  # live log streams end now, not after the grace period
        await self.pool.close(self.settings.shutdown_grace_s)
