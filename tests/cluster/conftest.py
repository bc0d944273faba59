"""Fixtures of the cluster tests: a private PostgreSQL (tests.cluster.postgres) and a
cluster on it (tests.cluster.harness), one of each per module: starting five processes
takes a while, and each test leaves the cluster whole for the next."""

from __future__ import annotations

from collections.abc import Generator, Iterator

import pytest

from tests.cluster import postgres
from tests.cluster.harness import Cluster, remove, start_cluster
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


@pytest.fixture(scope="module")
def cluster(private_postgres: postgres.PrivatePostgres) -> Iterator[Cluster]:
    started = start_cluster(private_postgres)
    try:
        yield started
    finally:
        remove(started)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A failed cluster test shows the end of each process's log: the cause is often there."""
    report = yield
    if report.failed:
        for started in getattr(item, "funcargs", {}).values():
            if isinstance(started, Cluster):
                for proc in [*started.apis, *started.workers]:
                    report.sections.append((f"log of {proc.name}", proc.tail(60)))
                break
    return report
