"""A function's bucketed metrics, from known invocation rows written through storage, on
SQLite and PostgreSQL: counts, error kinds and nearest-rank percentiles, exactly."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sandlot.domain.ids import new_invocation_id
from sandlot.domain.models import Invocation, InvocationStart, Role
from sandlot.domain.states import InvocationState
from sandlot.storage.functions import FunctionRepo
from sandlot.storage.invocations import InvocationRepo
from sandlot.storage.namespaces import NamespaceRepo
from tests.api.tenancy import key_in
from tests.conftest import Api

UNTIL = datetime(2026, 1, 1, 12, 30, 30, tzinfo=UTC)  # 1h: buckets 11:31 … 12:30
NOON = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)

_KINDS = {
    InvocationState.FAILED: "FunctionError",
    InvocationState.TIMED_OUT: "FunctionTimedOut",
    InvocationState.OUT_OF_MEMORY: "FunctionOutOfMemory",
}


def _call(
    function_id: str,
    at: datetime,
    ms: float | None,
    *,
    state: InvocationState = InvocationState.SUCCEEDED,
    cold: bool = False,
    namespace_id: str,
) -> Invocation:
    kind = _KINDS.get(state)
    return Invocation(
        id=new_invocation_id(),
        namespace_id=namespace_id,
        function_id=function_id,
        function_name="charted",
        version=1,
        trigger="api",
        state=state,
        cold_start=cold,
        created_at=at,
        finished_at=None if ms is None else at + timedelta(milliseconds=ms),
        duration_ms=ms,
        timings={},
        error={"kind": kind, "message": "boom"} if kind else None,
    )


async def _seed(api: Api) -> None:
    async with api.runtime.database.sessions.begin() as session:
        namespace = await NamespaceRepo(session).get_by_name("default")
        assert namespace is not None
        ns = namespace.id
        charted = await FunctionRepo(session).create(ns, "charted")
        other = await FunctionRepo(session).create(ns, "other")
        # Noon: durations 100 … 1 ms (shuffled order), 5 failed, 3 timed out, 2 OOM, 10 cold.
        states = (
            [InvocationState.FAILED] * 5
            + [InvocationState.TIMED_OUT] * 3
            + [InvocationState.OUT_OF_MEMORY] * 2
            + [InvocationState.SUCCEEDED] * 90
        )
        calls = [
            _call(
                charted.id,
                NOON + timedelta(seconds=i % 60),
                float(101 - (i * 37 % 100 + 1)),
                state=states[i],
                cold=i < 10,
                namespace_id=ns,
            )
            for i in range(100)
        ]
        last = NOON + timedelta(minutes=30)
        calls += [
            _call(charted.id, last + timedelta(seconds=5), 7.0, cold=True, namespace_id=ns),
            _call(
                charted.id,
                last + timedelta(seconds=6),
                None,
                state=InvocationState.CANCELLED,
                namespace_id=ns,
            ),
            # Outside the window on either side, and another function's call.
            _call(charted.id, NOON - timedelta(minutes=29, seconds=1), 1.0, namespace_id=ns),
            _call(charted.id, last + timedelta(minutes=1), 1.0, namespace_id=ns),
            _call(other.id, NOON, 1.0, namespace_id=ns),
        ]
        await InvocationRepo(session).add_finished([(call, None, "") for call in calls])


async def _metrics(api: Api, **params: Any) -> Any:
    response = await api.client.get("/api/v1/functions/charted/metrics", params=params)
    assert response.status_code == 200, response.text
    return response.json()


async def test_buckets_counts_errors_and_percentiles(api: Api) -> None:
    await _seed(api)
    body = await _metrics(api, window="1h", until=UNTIL.isoformat())
    assert (body["window"], body["bucket_seconds"]) == ("1h", 60)
    assert body["start"].startswith("2026-01-01T11:31:00")
    assert body["end"].startswith("2026-01-01T12:31:00")
    buckets = body["buckets"]
    assert len(buckets) == 60
    by_start = {b["start"][11:16]: b for b in buckets}
    noon = by_start["12:00"]
    assert noon["invocations"] == 100 and noon["errors"] == 10
    assert noon["errors_by_kind"] == [
        {"state": "failed", "kind": "FunctionError", "count": 5},
        {"state": "out_of_memory", "kind": "FunctionOutOfMemory", "count": 2},
        {"state": "timed_out", "kind": "FunctionTimedOut", "count": 3},
    ]
    assert (noon["cold_starts"], noon["cold_start_share"]) == (10, 0.1)
    assert (noon["p50_ms"], noon["p95_ms"], noon["p99_ms"]) == (50.0, 95.0, 99.0)
    assert noon["peak_concurrency"] == 2  # two calls start in each of the first 40 seconds
    last = by_start["12:30"]
    assert (last["invocations"], last["cold_starts"], last["cold_start_share"]) == (2, 1, 0.5)
    assert last["errors_by_kind"] == [{"state": "cancelled", "kind": "", "count": 1}]
    assert (last["p50_ms"], last["p95_ms"], last["p99_ms"]) == (7.0, 7.0, 7.0)
    # Every other bucket is there, empty: the calls just outside the window are not counted.
    empty = [b for key, b in by_start.items() if key not in ("12:00", "12:30")]
    assert len(empty) == 58
    assert all(
        (b["invocations"], b["errors"], b["cold_starts"], b["p50_ms"]) == (0, 0, 0, None)
        for b in empty
    )


async def test_longer_windows_have_their_own_buckets(api: Api) -> None:
    await _seed(api)
    day = await _metrics(api, window="24h", until=UNTIL.isoformat())
    assert (day["bucket_seconds"], len(day["buckets"])) == (900, 96)
    week = await _metrics(api, window="7d", until=UNTIL.isoformat())
    assert (week["bucket_seconds"], len(week["buckets"])) == (7200, 84)
    # 12:00 to 14:00 holds the whole seed inside the window (11:30:59 falls in 10:00 to 12:00).
    two_hours = {b["start"][:16]: b for b in week["buckets"]}["2026-01-01T12:00"]
    assert (two_hours["invocations"], two_hours["errors"]) == (103, 11)
    # 102 durations (the cancelled call has none): 1, 1, 2 … 7, 7, 8 … 100, so ranks 51
    # and 101 (of ceil(p * n / 100)) are 49 and 99.
    assert (two_hours["p50_ms"], two_hours["p99_ms"]) == (49.0, 99.0)


async def test_bad_input_and_other_namespaces(api: Api) -> None:
    await _seed(api)
    bad = await api.client.get("/api/v1/functions/charted/metrics", params={"window": "2h"})
    assert bad.status_code == 422
    naive = await api.client.get(
        "/api/v1/functions/charted/metrics", params={"until": "2026-01-01T12:00:00"}
    )
    assert (naive.status_code, naive.json()["error"]) == (400, "InvalidInput")
    for far in ("0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z"):
        out_of_range = await api.client.get(
            "/api/v1/functions/charted/metrics", params={"until": far}
        )
        assert (out_of_range.status_code, out_of_range.json()["error"]) == (400, "InvalidInput")
    missing = await api.client.get("/api/v1/functions/nope/metrics")
    assert (missing.status_code, missing.json()["error"]) == (404, "FunctionNotFound")
    _, outsider = await key_in(api, "elsewhere", Role.VIEWER)
    hidden = await api.client.get("/api/v1/functions/charted/metrics", headers=outsider)
    assert (hidden.status_code, hidden.json()["error"]) == (404, "FunctionNotFound")
    _, viewer = await key_in(api, "default", Role.VIEWER)
    seen = await api.client.get("/api/v1/functions/charted/metrics", headers=viewer)
    assert seen.status_code == 200 and len(seen.json()["buckets"]) == 60


async def test_peak_concurrency_from_overlapping_calls(api: Api) -> None:
    """[start, end) intervals: a call ending as another starts does not overlap it; a call
    started before the window counts in the buckets it still runs in; a running one counts
    until the window's end."""
    spans = [
        (NOON, NOON + timedelta(seconds=10)),
        (NOON + timedelta(seconds=5), NOON + timedelta(seconds=20)),
        (NOON + timedelta(seconds=10), NOON + timedelta(seconds=12)),
        (NOON, NOON + timedelta(minutes=2, seconds=30)),
        (NOON - timedelta(minutes=30), NOON - timedelta(minutes=26, seconds=30)),
    ]
    async with api.runtime.database.sessions.begin() as session:
        namespace = await NamespaceRepo(session).get_by_name("default")
        assert namespace is not None
        busy = await FunctionRepo(session).create(namespace.id, "busy")
        calls = []
        for start, end in spans:
            call = _call(busy.id, start, None, namespace_id=namespace.id)
            calls.append(replace(call, finished_at=end, duration_ms=1.0))
        repo = InvocationRepo(session)
        await repo.add_finished([(call, None, "") for call in calls])
        running = InvocationStart(
            id=new_invocation_id(),
            namespace_id=namespace.id,
            function_id=busy.id,
            function_name="busy",
            version=1,
            trigger="api",
            created_at=NOON + timedelta(minutes=20),
        )
        await repo.add_running([running])
    response = await api.client.get(
        "/api/v1/functions/busy/metrics", params={"until": UNTIL.isoformat()}
    )
    assert response.status_code == 200, response.text
    peaks = {b["start"][11:16]: b["peak_concurrency"] for b in response.json()["buckets"]}
    expected = dict.fromkeys(peaks, 0)
    expected.update({"11:31": 1, "11:32": 1, "11:33": 1, "12:00": 3, "12:01": 1, "12:02": 1})
    expected.update({f"12:{minute}": 1 for minute in range(20, 31)})
    assert peaks == expected
