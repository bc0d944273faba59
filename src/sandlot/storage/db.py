"""Engines, sessions and migrations for SQLite and PostgreSQL alike."""

from __future__ import annotations

import asyncio
import contextlib
import os
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry

from sandlot.storage.space import name_full_disk_errors

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# The database file and the ones SQLite keeps beside it: results, logs and env values.
_SQLITE_FILES = ("", "-wal", "-shm", "-journal")


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def _sqlite_pragmas(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    # WAL lets readers run while the invocation recorder writes; foreign keys are off by
    # default in SQLite; a busy timeout turns brief writer contention into a wait, not an error.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _prepare_sqlite_file(url: str) -> None:
    """Create the SQLite file 0600 before SQLite does, and make the files an older run left
    0600 too: SQLite gives its WAL and SHM files the database file's own mode."""
    database = make_url(url).database
    if not database or database == ":memory:":
        return
    path = Path(database)
    path.parent.mkdir(parents=True, exist_ok=True)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600))
    for suffix in _SQLITE_FILES:
        with contextlib.suppress(FileNotFoundError):
            os.chmod(f"{path}{suffix}", 0o600)


def can_match(text: str) -> bool:
    """Whether a stored string could equal `text`. PostgreSQL's text holds no NUL and refuses
    one even as a query parameter, so an id with a NUL is not looked up: it names nothing."""
    return "\0" not in text


def storable(text: str) -> bool:
    """Whether both databases can hold (and so look up) `text`: no NUL, and valid UTF-8 (a lone
    surrogate, which a URL's escapes can carry, is neither)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return can_match(text)


def make_engine(url: str) -> AsyncEngine:
    if is_sqlite(url):
        _prepare_sqlite_file(url)
        engine = create_async_engine(url)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade_sync(url: str, revision: str = "head") -> None:
    """Apply migrations. Runs its own event loop, so call it from a thread or a CLI."""
    if is_sqlite(url):
        _prepare_sqlite_file(url)
    command.upgrade(alembic_config(url), revision)


async def upgrade(url: str, revision: str = "head") -> None:
    await asyncio.to_thread(upgrade_sync, url, revision)


async def ping(engine: AsyncEngine) -> str | None:
    """None if the database answers, else a short reason."""
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception as exc:  # any failure at all means "not ready"
        return f"{exc.__class__.__name__}: {exc}"[:200]
    return None


class Database:
    """One database: its engine and session factory, owned by the process that made it."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        name_full_disk_errors(self.engine)
        self.sessions = make_sessionmaker(self.engine)

    async def ping(self) -> str | None:
        return await ping(self.engine)

    async def upgrade(self) -> None:
        await upgrade(self.url)

    async def dispose(self) -> None:
        await self.engine.dispose()
