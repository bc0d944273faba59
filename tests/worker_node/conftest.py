"""A fresh PostgreSQL database for the tests that need one whatever `database_url` runs."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from tests.conftest import _PG_PROBLEM, POSTGRES_URL, _admin, _url_for_database, skip_outside_ci


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    if _PG_PROBLEM is not None:
        skip_outside_ci(f"PostgreSQL not reachable at {POSTGRES_URL}: {_PG_PROBLEM}")
    name = f"sandlot_w_{uuid.uuid4().hex[:12]}"
    await _admin(f"CREATE DATABASE {name}")
    try:
        yield _url_for_database(name)
    finally:
        await _admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
