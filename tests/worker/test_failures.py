"""Function failures come back as outcomes with the right kind; the pool carries on."""

from __future__ import annotations

import json

import pytest

from sandlot.domain.states import InvocationState
from sandlot.worker.interface import FunctionErrorInfo, InvokeOutcome
from sandlot.worker.pool import RuntimePool
from tests.worker.helpers import FunctionFactory, process_exists

PID_HANDLER = """
import os

def handler(event, context):
    if event == "pid":
        return os.getpid()
{body}
"""


def failed(outcome: InvokeOutcome, kind: str, state: InvocationState) -> FunctionErrorInfo:
    assert outcome.state is state, outcome
    assert outcome.result_json is None
    assert outcome.error is not None
    assert outcome.error.kind == kind, outcome.error
    return outcome.error


async def pid_of_next_instance(pool: RuntimePool, spec: object) -> tuple[int, bool]:
    outcome = await pool.invoke(spec, "pid", b'"pid"')  # type: ignore[arg-type]
    assert outcome.state is InvocationState.SUCCEEDED, outcome.error
    assert outcome.result_json is not None
    return json.loads(outcome.result_json), outcome.cold_start


async def test_handler_exception_is_a_function_error(
    pool: RuntimePool, function: FunctionFactory
) -> None:
    spec = function(
        """
        def helper(value):
            raise ValueError(f"bad value {value}")

        def handler(event, context):
            return helper(event)
        """
    )
    error = failed(await pool.invoke(spec, "a", b"7"), "FunctionError", InvocationState.FAILED)
    assert error.exception_type == "ValueError"
    assert error.message == "bad value 7"
    assert error.traceback is not None
    assert 'main.py", line 6, in handler' in error.traceback
    assert "ValueError: bad value 7" in error.traceback
    assert "bootstrap" not in error.traceback
    again = await pool.invoke(spec, "b", b"8")
    assert again.cold_start is False  # an exception does not cost the instance


async def test_async_handler_exception_traceback_is_the_functions(
    pool: RuntimePool, function: FunctionFactory
) -> None:
    spec = function(
        """
        async def handler(event, context):
            raise KeyError("missing")
        """
    )
    error = failed(await pool.invoke(spec, "a", b"null"), "FunctionError", InvocationState.FAILED)
    assert error.exception_type == "KeyError"
    assert error.traceback is not None
    assert "asyncio" not in error.traceback
    assert "bootstrap" not in error.traceback


async def test_timeout_kills_the_instance_and_the_next_call_is_cold(
    pool: RuntimePool, function: FunctionFactory
) -> None:
    spec = function(PID_HANDLER.format(body="    import time; time.sleep(60)"), timeout_s=1)
    old_pid, _ = await pid_of_next_instance(pool, spec)
    error = failed(
        await pool.invoke(spec, "slow", b'"sleep"'), "FunctionTimedOut", InvocationState.TIMED_OUT
    )
    assert "1 s" in error.message
    new_pid, cold = await pid_of_next_instance(pool, spec)
    assert cold is True
    assert new_pid != old_pid
    await pool.reaper.run_once()
    assert not process_exists(old_pid)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("    os._exit(3)", "exited with code 3"),
        ("    os.kill(os.getpid(), 9)", "killed by signal 9 (SIGKILL)"),
    ],
)
async def test_crash_fails_only_that_invocation(
    pool: RuntimePool, function: FunctionFactory, body: str, expected: str
) -> None:
    spec = function(PID_HANDLER.format(body=body))
    old_pid, _ = await pid_of_next_instance(pool, spec)
    error = failed(await pool.invoke(spec, "a", b"null"), "FunctionCrashed", InvocationState.FAILED)
    assert expected in error.message
    new_pid, cold = await pid_of_next_instance(pool, spec)
    assert cold is True and new_pid != old_pid


@pytest.mark.parametrize(
    "body",
    [
        "    return len(bytearray(4 * 1024 ** 3))",
        "    chunks = []\n    while True:\n        chunks.append(bytearray(1024 * 1024))",
    ],
    ids=["one-big-allocation", "growing-list"],
)
async def test_memory_bomb_is_out_of_memory(
    pool: RuntimePool, function: FunctionFactory, body: str
) -> None:
    spec = function(PID_HANDLER.format(body=body), memory_mb=128)
    old_pid, _ = await pid_of_next_instance(pool, spec)
    outcome = await pool.invoke(spec, "bomb", b"null")
    error = failed(outcome, "FunctionOutOfMemory", InvocationState.OUT_OF_MEMORY)
    assert "128 MB" in error.message
    new_pid, cold = await pid_of_next_instance(pool, spec)
    assert cold is True and new_pid != old_pid


async def test_non_json_result_is_result_invalid(
    pool: RuntimePool, function: FunctionFactory
) -> None:
    spec = function(
        """
        def handler(event, context):
            if event == "nan":
                return float("nan")
            return {1, 2}
        """
    )
    error = failed(
        await pool.invoke(spec, "a", b"null"), "FunctionResultInvalid", InvocationState.FAILED
    )
    assert "set" in error.message
    failed(await pool.invoke(spec, "b", b'"nan"'), "FunctionResultInvalid", InvocationState.FAILED)


async def test_too_large_result_is_result_invalid(
    pool: RuntimePool, function: FunctionFactory
) -> None:
    spec = function(
        """
        def handler(event, context):
            return "x" * (1024 * 1024)
        """
    )
    error = failed(
        await pool.invoke(spec, "a", b"null"), "FunctionResultInvalid", InvocationState.FAILED
    )
    assert "limit" in error.message


async def test_file_size_limit_is_a_resource_limit(
    pool: RuntimePool, function: FunctionFactory
) -> None:
    spec = function(
        """
        import os, tempfile

        def handler(event, context):
            fd, path = tempfile.mkstemp()
            try:
                with os.fdopen(fd, "wb") as f:
                    f.seek(600 * 1024 * 1024)  # past the 512 MiB limit, without filling a disk
                    f.write(b"0")
            finally:
                os.unlink(path)
        """
    )
    error = failed(
        await pool.invoke(spec, "a", b"null"), "FunctionResourceLimit", InvocationState.FAILED
    )
    assert error.exception_type == "OSError"


@pytest.mark.parametrize(
    ("handler", "source", "exception_type", "words"),
    [
        ("nope.handler", "", "HandlerNotFound", ["'nope'", "not found"]),
        ("main.missing", "def handler(e, c): pass\n", "HandlerNotFound", ["'missing'"]),
        ("main.handler", "raise RuntimeError('bad import')\n", "RuntimeError", ["bad import"]),
        (
            "main.handler",
            "import not_installed_dep\n",
            "ModuleNotFoundError",
            ["not_installed_dep"],
        ),
    ],
    ids=["module-missing", "function-missing", "import-raises", "dependency-missing"],
)
async def test_init_failures_are_clear_function_errors(
    pool: RuntimePool,
    function: FunctionFactory,
    handler: str,
    source: str,
    exception_type: str,
    words: list[str],
) -> None:
    spec = function(source, handler=handler)
    outcome = await pool.invoke(spec, "a", b"null")
    error = failed(outcome, "FunctionError", InvocationState.FAILED)
    assert error.exception_type == exception_type
    for word in words:
        assert word in error.message
    assert outcome.cold_start is True
    assert pool.stats().instances == 0  # the failed instance is discarded
    if exception_type == "RuntimeError":
        assert error.traceback is not None and "main.py" in error.traceback
        assert "bootstrap" not in error.traceback


async def test_output_while_import_fails_is_kept(
    pool: RuntimePool, function: FunctionFactory
) -> None:
    spec = function("print('about to fail')\nraise SystemExit(2)\n")
    outcome = await pool.invoke(spec, "a", b"null")
    error = failed(outcome, "FunctionError", InvocationState.FAILED)
    assert error.exception_type == "SystemExit"
    assert outcome.logs == "about to fail\n"
