"""The invocation recorder with its journal, on a real SQLite file and a real PostgreSQL.

A "crash" here is a recorder dropped without `close()`: its buffered records never reach the
database, and its journal holds exactly what its writes gave the kernel.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from sandlot.domain.ids import new_invocation_id
from sandlot.domain.models import Invocation, InvocationPage, InvocationStart
from sandlot.domain.states import InvocationState
from sandlot.services.recorder import InvocationRecorder, Record
from sandlot.storage.db import Database
from sandlot.storage.invocations import InvocationRepo
from sandlot.storage.journal import Journal

NS = "ns-1"
SEGMENT = 64 * 1024


@pytest.fixture
async def database(migrated_url: str) -> AsyncIterator[Database]:
    database = Database(migrated_url)
    yield database
    await database.dispose()


def _recorder(database: Database, journal_dir: Path) -> InvocationRecorder:
    # A long interval: nothing is written unless the test asks.
    return InvocationRecorder(
        database.sessions, journal=Journal(journal_dir, SEGMENT), interval_s=3600, batch_size=3
    )


def _start() -> InvocationStart:
    return InvocationStart(
        id=new_invocation_id(),
        namespace_id=NS,
        function_id="f-1",
        function_name="hello",
        version=1,
        trigger="http",
        created_at=datetime.now(UTC),
    )


def _finished(start: InvocationStart, n: int) -> Record:
    invocation = Invocation(
        id=start.id,
        namespace_id=NS,
        function_id=start.function_id,
        function_name=start.function_name,
        version=1,
        trigger="http",
        state=InvocationState.SUCCEEDED,
        cold_start=False,
        created_at=start.created_at,
        finished_at=datetime.now(UTC),
        duration_ms=1.0,
        timings={"handler_ms": 0.5},
        log_excerpt=f"said {n}\n",
    )
    return invocation, str(n), f"said {n}\n"


async def _listed(database: Database, **filters: object) -> InvocationPage:
    query: dict[str, object] = {"function_name": None, "state": None, "cursor": None}
    query.update(filters)
    async with database.sessions() as session:
        return await InvocationRepo(session).page(NS, limit=200, **query)  # type: ignore[arg-type]


async def test_a_replayed_journal_records_each_answered_call_once(
    database: Database, tmp_path: Path
) -> None:
    journal_dir = tmp_path / "journal"
    crashed = _recorder(database, journal_dir)
    await crashed.recover()
    starts = [_start() for _ in range(7)]
    for n, start in enumerate(starts):
        crashed.begin(start)
        crashed.finish(_finished(start, n))
    assert (await _listed(database)).items == []  # nothing reached the database
    as_left = tmp_path / "as-left"
    shutil.copytree(journal_dir, as_left)

    restarted = _recorder(database, journal_dir)
    assert await restarted.recover() == 7
    await restarted.close()
    assert list(journal_dir.glob("*.journal")) == []  # all committed: segments dropped

    # The same journal once more, as if the server died after the commit but before it
    # dropped the segments: nothing is written twice.
    shutil.rmtree(journal_dir)
    shutil.copytree(as_left, journal_dir)
    again = _recorder(database, journal_dir)
    assert await again.recover() == 7
    await again.close()
    items = (await _listed(database)).items
    assert sorted(item.id for item in items) == sorted(start.id for start in starts)
    assert {item.result for item in items} == set(range(7))
    assert all(item.state is InvocationState.SUCCEEDED for item in items)
    crashed.journal.close()  # type: ignore[union-attr]


async def test_calls_in_flight_are_listed_running_and_recorded_server_crashed(
    database: Database, tmp_path: Path
) -> None:
    journal_dir = tmp_path / "journal"
    crashed = _recorder(database, journal_dir)
    await crashed.recover()
    long_one, short_one = _start(), _start()
    crashed.begin(long_one)
    crashed.begin(short_one)
    crashed.finish(_finished(short_one, 1))
    await crashed.run_once()
    # Oldest first, every call listed: the one in flight as running.
    following = await _listed(database, after="")
    assert [(i.id, i.state) for i in following.items] == [
        (long_one.id, InvocationState.RUNNING),
        (short_one.id, InvocationState.SUCCEEDED),
    ]

    restarted = _recorder(database, journal_dir)
    await restarted.recover()
    await restarted.close()
    record = next(i for i in (await _listed(database)).items if i.id == long_one.id)
    assert record.state is InvocationState.FAILED
    assert record.error is not None and record.error["kind"] == "ServerCrashed"
    assert (await _listed(database, state=InvocationState.RUNNING)).items == []
    crashed.journal.close()  # type: ignore[union-attr]


async def test_a_final_record_replaces_the_running_row(database: Database, tmp_path: Path) -> None:
    recorder = _recorder(database, tmp_path / "journal")
    await recorder.recover()
    start = _start()
    recorder.begin(start)
    await recorder.run_once()
    assert [i.id for i in (await _listed(database, state=InvocationState.RUNNING)).items] == [
        start.id
    ]
    invocation, result, logs = _finished(start, 5)
    recorder.finish((replace(invocation, state=InvocationState.TIMED_OUT), result, logs))
    await recorder.close()
    (only,) = (await _listed(database)).items
    assert (only.id, only.state, only.result) == (start.id, InvocationState.TIMED_OUT, 5)


async def test_a_call_refused_before_it_ran_leaves_no_record(
    database: Database, tmp_path: Path
) -> None:
    journal_dir = tmp_path / "journal"
    crashed = _recorder(database, journal_dir)
    await crashed.recover()
    shown, unseen = _start(), _start()
    crashed.begin(shown)
    await crashed.run_once()  # listed as running while it waited for a slot
    crashed.begin(unseen)
    crashed.forget(shown.id)
    crashed.forget(unseen.id)
    await crashed.run_once()
    assert (await _listed(database)).items == []

    restarted = _recorder(database, journal_dir)
    await restarted.recover()  # their starts are in the journal, but so is that they never ran
    await restarted.close()
    assert (await _listed(database)).items == []
    crashed.journal.close()  # type: ignore[union-attr]
