"""The long-lived parts one app runs with, assembled by `sandlot.app.create_app`."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from sandlot.config import Settings
from sandlot.services.auth import KeyCache
from sandlot.services.catalog import Catalog
from sandlot.services.code import CodeStore
from sandlot.services.invocations import Invoker
from sandlot.services.metrics import Metrics
from sandlot.services.recorder import InvocationRecorder
from sandlot.worker.interface import Pool


@dataclass
class Runtime:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    pool: Pool
    catalog: Catalog
    code: CodeStore
    recorder: InvocationRecorder
    metrics: Metrics
    keys: KeyCache
    invoker: Invoker
    sandbox_summary: str = ""
    insecure: bool = False
    ready: bool = False
    problems: list[str] = field(default_factory=list)
