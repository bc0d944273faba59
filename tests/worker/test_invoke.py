"""Running handlers on warm and cold instances: results, context, state kept between calls."""

from __future__ import annotations

import dataclasses
import json
import uuid

from sandlot.domain.states import InvocationState
from sandlot.worker.interface import InvokeOutcome
from sandlot.worker.pool import RuntimePool
from tests.worker.helpers import FunctionFactory


def result(outcome: InvokeOutcome) -> object:
    assert outcome.state is InvocationState.SUCCEEDED, outcome.error
    assert outcome.result_json is not None
    return json.loads(outcome.result_json)


async def test_sync_handler_returns_its_result(
    pool: RuntimePool, function: FunctionFactory
) -> None:
    spec = function(
        """
        def handler(event, context):
            return {"hello": event["name"]}
        """
    )
    outcome = await pool.invoke(spec, "inv-1", b'{"name": "world"}')
    assert result(outcome) == {"hello": "world"}
    assert outcome.invocation_id == "inv-1"
    assert outcome.cold_start is True
    assert outcome.error is None
    assert outcome.finished_at >= outcome.started_at


async def test_async_handler_runs_on_one_persistent_loop(
    pool: RuntimePool, function: FunctionFactory
) -> None:
    spec = function(
        """
        import asyncio

        lock = None

        async def handler(event, context):
            global lock
            if lock is None:
                lock = asyncio.Lock()  # bound to the loop of the first invocation
            async with lock:
                await asyncio.sleep(0)
            return id(asyncio.get_running_loop())
        """
    )
    first = result(await pool.invoke(spec, "a", b"null"))
    second = result(await pool.invoke(spec, "b", b"null"))
    assert first == second


async def test_context_has_lambda_names(pool: RuntimePool, function: FunctionFactory) -> None:
    spec = function(
        """
        def handler(event, context):
            return {
                "invocation_id": context.invocation_id,
                "function_name": context.function_name,
                "function_version": context.function_version,
                "memory_limit_in_mb": context.memory_limit_in_mb,
                "memory_limit_mb": context.memory_limit_mb,
                "remaining_ms": context.get_remaining_time_ms(),
            }
        """,
        function_name="ctx-fn",
        version=3,
        memory_mb=192,
        timeout_s=7,
    )
    got = result(await pool.invoke(spec, "inv-ctx", b"{}"))
    assert isinstance(got, dict)
    remaining = got.pop("remaining_ms")
    assert 0 < remaining <= 7000
    assert got == {
        "invocation_id": "inv-ctx",
        "function_name": "ctx-fn",
        "function_version": "3",
        "memory_limit_in_mb": "192",  # a string, as Lambda's runtime gives it
        "memory_limit_mb": 192,
    }


async def test_globals_persist_on_a_warm_instance(
    pool: RuntimePool, function: FunctionFactory
) -> None:
    spec = function(
        """
        count = 0

        def handler(event, context):
            global count
            count += 1
            return count
        """
    )
    first = await pool.invoke(spec, "a", b"null")
    second = await pool.invoke(spec, "b", b"null")
    assert (result(first), first.cold_start) == (1, True)
    assert (result(second), second.cold_start) == (2, False)
    assert second.timings.start_ms == 0.0


async def test_tmp_persists_between_invocations(
    pool: RuntimePool, function: FunctionFactory
) -> None:
    spec = function(
        """
        import os, tempfile

        def handler(event, context):
            path = os.path.join(tempfile.gettempdir(), event["name"])
            if event["write"]:
                with open(path, "w") as f:
                    f.write("kept")
                return None
            with open(path) as f:
                return f.read()
        """
    )
    name = f"sandlot-test-{uuid.uuid4().hex}"
    await pool.invoke(spec, "a", json.dumps({"name": name, "write": True}).encode())
    read = await pool.invoke(spec, "b", json.dumps({"name": name, "write": False}).encode())
    assert result(read) == "kept"
    assert read.cold_start is False


async def test_empty_and_null_events_are_none(pool: RuntimePool, function: FunctionFactory) -> None:
    spec = function(
        """
        def handler(event, context):
            return {"event": event}
        """
    )
    assert result(await pool.invoke(spec, "a", b"")) == {"event": None}
    assert result(await pool.invoke(spec, "b", b"null")) == {"event": None}


async def test_function_sees_a_clean_sys_path_without_sandlot(
    pool: RuntimePool, function: FunctionFactory
) -> None:
    spec = function(
        """
        import os, sys

        def handler(event, context):
            try:
                import sandlot
                importable = True
            except ImportError:
                importable = False
            return {
                "sandlot": importable,
                "path": sys.path,
                "env": sorted(os.environ),
                "prefix": sys.prefix,
            }
        """,
        env={"GREETING": "hi"},
    )
    got = result(await pool.invoke(spec, "a", b"null"))
    assert isinstance(got, dict)
    assert got["sandlot"] is False
    assert got["path"][0] == str(spec.code_dir.resolve())
    assert not any("site-packages" in entry for entry in got["path"])
    assert ".venv" not in got["prefix"]
    assert "GREETING" in got["env"]
    assert not [name for name in got["env"] if name.startswith(("PYTEST", "VIRTUAL_ENV"))]


async def test_numeric_libraries_get_one_thread_unless_the_function_says(
    pool: RuntimePool, function: FunctionFactory
) -> None:
    source = """
        import os

        def handler(event, context):
            return [os.environ.get(name) for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS")]
        """
    default = function(source)
    own = function(source, env={"OPENBLAS_NUM_THREADS": "4"})
    assert result(await pool.invoke(default, "a", b"null")) == ["1", "1"]
    assert result(await pool.invoke(own, "b", b"null")) == ["1", "4"]


async def test_dependency_paths_come_after_the_code(
    pool: RuntimePool, function: FunctionFactory
) -> None:
    spec = function(
        """
        import helperlib

        def handler(event, context):
            return helperlib.VALUE
        """
    )
    deps = spec.code_dir.parent / "deps"
    deps.mkdir()
    (deps / "helperlib.py").write_text("VALUE = 42\n")
    spec = dataclasses.replace(spec, site_packages=(deps,))
    assert result(await pool.invoke(spec, "a", b"null")) == 42
