"""Fixtures of the cluster tests: a private PostgreSQL (tests.cluster.postgres)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.cluster import postgres
from tests.conftest import skip_outside_ci


@pytest.fixture(scope="module")
def private_postgres() -> Iterator[postgres.PrivatePostgres]:
    """A PostgreSQL of the module's own, which its tests may stop, kill and restart."""
    why = postgres.missing()
    if why is not None:
        skip_outside_ci(why)
    server = postgres.make()
    try:
        yield server
    finally:
        postgres.destroy(server)
