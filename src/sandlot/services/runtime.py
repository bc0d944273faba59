"""The long-lived collaborators one server runs with, assembled by `sandlot.app.create_app`.

The API reaches the database, the pool and the caches only through this container and
the services, never by importing storage or the worker itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from sandlot.config import Settings
from sandlot.services.activation import Activator
from sandlot.services.auth import KeyCache
from sandlot.services.authenticator import Authenticator
from sandlot.services.builds import Builder
from sandlot.services.catalog import Catalog
from sandlot.services.code import CodeStore
from sandlot.services.invocations import Invoker
from sandlot.services.metrics import Metrics
from sandlot.services.monitor_access import MonitorAccess
from sandlot.services.recorder import InvocationRecorder
from sandlot.storage.db import Database
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
    sandbox_summary: str = ""
    insecure: bool = False
    ready: bool = False
    problems: list[str] = field(default_factory=list)
