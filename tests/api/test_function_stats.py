"""The functions table's numbers (GET /function-stats), from known invocation rows written
through storage, on SQLite and PostgreSQL: per function its calls, errors, p50, last call
and the twelve buckets of the sparkline, exactly; and who sees which functions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sandlot.domain.ids import new_invocation_id
from sandlot.domain.models import Invocation, Role
from sandlot.domain.states import InvocationState
from sandlot.storage.functions import FunctionRepo
from sandlot.storage.invocations import InvocationRepo
from sandlot.storage.namespaces import NamespaceRepo
from tests.api.tenancy import key_in
from tests.conftest import Api

UNTIL = datetime(2026, 1, 1, 12, 32, 10, tzinfo=UTC)  # 1h: buckets 11:35 … 12:30
NOON = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def _call(
    function: Any,
    at: datetime,
    ms: float | None,
    state: InvocationState = InvocationState.SUCCEEDED,
) -> Invocation:
    failed = state is not InvocationState.SUCCEEDED
    return Invocation(
        id=new_invocation_id(),
        namespace_id=function.namespace_id,
        function_id=function.id,
        function_name=function.name,
        version=1,
        trigger="api",
        state=state,
        cold_start=False,
        created_at=at,
        finished_at=None if ms is None else at + timedelta(milliseconds=ms),
        duration_ms=ms,
        timings={},
        error={"kind": "FunctionError", "message": "boom"} if failed else None,
    )


async def _seed(api: Api) -> None:
    async with api.runtime.database.sessions.begin() as session:
        namespace = await NamespaceRepo(session).get_by_name("default")
        assert namespace is not None
        functions = FunctionRepo(session)
        busy = await functions.create(namespace.id, "busy")
        await functions.create(namespace.id, "idle")
        old = await functions.create(namespace.id, "old")
        elsewhere = await NamespaceRepo(session).create("elsewhere")
        theirs = await functions.create(elsewhere.id, "theirs")
        # busy: 10 calls at noon (durations 10 … 1 ms, 3 failed), 4 at 12:31 (one still
        # running), 1 at 11:34:59 (just before the window).
        calls = [
            _call(
                busy,
                NOON + timedelta(seconds=i),
                float(10 - i),
                InvocationState.FAILED if i < 3 else InvocationState.SUCCEEDED,
            )
            for i in range(10)
        ]
        late = NOON + timedelta(minutes=31)
        calls += [_call(busy, late + timedelta(seconds=i), 20.0 + i) for i in range(3)]
        calls += [
            _call(busy, late + timedelta(seconds=9), None, InvocationState.TIMED_OUT),
            _call(busy, datetime(2026, 1, 1, 11, 34, 59, tzinfo=UTC), 1.0),
            # old: called once, 22 hours before; theirs: another namespace's.
            _call(old, NOON - timedelta(hours=22), 5.0),
            _call(theirs, NOON, 5.0),
        ]
        await InvocationRepo(session).add_finished([(call, None, "") for call in calls])


async def _stats(api: Api, headers: dict[str, str] | None = None, **params: Any) -> Any:
    params.setdefault("until", UNTIL.isoformat())
    response = await api.client.get("/api/v1/function-stats", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


async def test_every_function_with_its_numbers(api: Api) -> None:
    await _seed(api)
    body = await _stats(api, window="1h")
    assert (body["window"], body["bucket_seconds"]) == ("1h", 300)
    assert body["start"].startswith("2026-01-01T11:35:00")
    assert body["end"].startswith("2026-01-01T12:35:00")
    by_name = {item["name"]: item for item in body["items"]}
    assert list(by_name) == ["busy", "idle", "old"]
    busy = by_name["busy"]
    assert (busy["invocations"], busy["errors"]) == (14, 4)
    assert busy["error_rate"] == 4 / 14
    # 13 durations (the timed-out call has none): 1 … 10, 20, 21, 22; rank ceil(13/2) = 7.
    assert busy["p50_ms"] == 7.0
    assert busy["last_invocation_at"].startswith("2026-01-01T12:31:09")
    # Buckets 11:35, 11:40 … 12:30: noon is the 6th (index 5), 12:30 the last.
    assert busy["buckets"] == [0, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0, 4]
    idle = by_name["idle"]
    assert idle == {
        "name": "idle",
        "last_invocation_at": None,
        "invocations": 0,
        "errors": 0,
        "error_rate": 0.0,
        "p50_ms": None,
        "buckets": [0] * 12,
    }
    old = by_name["old"]
    assert old["last_invocation_at"].startswith("2025-12-31T14:00:00")
    assert (old["invocations"], old["p50_ms"], sum(old["buckets"])) == (0, None, 0)


async def test_viewers_limited_keys_and_bad_input(api: Api) -> None:
    await _seed(api)
    _, viewer = await key_in(api, "default", Role.VIEWER)
    seen = await _stats(api, headers=viewer)
    assert [item["name"] for item in seen["items"]] == ["busy", "idle", "old"]
    _, limited = await key_in(api, "default", Role.VIEWER, functions=("old",))
    assert [item["name"] for item in (await _stats(api, headers=limited))["items"]] == ["old"]
    _, outsider = await key_in(api, "elsewhere", Role.VIEWER)
    theirs = await _stats(api, headers=outsider)
    assert [item["name"] for item in theirs["items"]] == ["theirs"]
    for longer in ("24h", "7d"):  # the metrics endpoint's, one function at a time
        bad = await api.client.get("/api/v1/function-stats", params={"window": longer})
        assert bad.status_code == 422
    naive = await api.client.get("/api/v1/function-stats", params={"until": "2026-01-01T12:00"})
    assert (naive.status_code, naive.json()["error"]) == (400, "InvalidInput")


async def test_a_function_named_stats_keeps_its_own_path(api: Api) -> None:
    """The summary's path is outside /functions/, so no name can shadow it or be shadowed."""
    async with api.runtime.database.sessions.begin() as session:
        namespace = await NamespaceRepo(session).get_by_name("default")
        assert namespace is not None
        await FunctionRepo(session).create(namespace.id, "stats")
    one = await api.client.get("/api/v1/functions/stats")
    assert (one.status_code, one.json()["name"]) == (200, "stats")
    body = await _stats(api)
    assert [item["name"] for item in body["items"]] == ["stats"]
