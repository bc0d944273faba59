"""`Pool.prepare`: a version's import check, run the way its instances will import it.

With zygotes (the default) the check starts the version's zygote and keeps it, so the first
call forks from it; without, it starts one instance and keeps it idle. An import that fails
comes back as a value, and leaves nothing running.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from sandlot.config import Settings
from sandlot.domain.states import InvocationState
from sandlot.sandbox.plain import PlainStarter
from sandlot.worker.pool import RuntimePool
from tests.worker.helpers import FunctionFactory, instance_processes, zygote_pid

GOOD = """
import os

def handler(event, context):
    return {"pid": os.getpid(), "ppid": os.getppid()}
"""

# Each way a module can fail to give the pool a handler, with what the error must name.
BROKEN = [
    pytest.param(
        "import not_installed_dep\n\ndef handler(event, context):\n    return 1\n",
        "ModuleNotFoundError",
        ["not_installed_dep"],
        True,
        id="undeclared-package",
    ),
    pytest.param(
        "raise RuntimeError('bad import')\n", "RuntimeError", ["bad import"], True, id="raises"
    ),
    pytest.param(
        # Defined only when a variable is set: the deploy's static look cannot tell.
        "import os\n\nif os.environ.get('NEVER_SET'):\n    def handler(event, context):\n"
        "        return 1\n",
        "HandlerNotFound",
        ["no attribute 'handler'"],
        False,
        id="missing-dynamically",
    ),
    pytest.param(
        "handler = 42\n", "HandlerNotFound", ["is a int, not a function"], False, id="int"
    ),
    pytest.param(
        "handler = None\n", "HandlerNotFound", ["is a NoneType, not a function"], False, id="none"
    ),
]


@pytest.fixture(params=[True, False], ids=["zygotes", "no-zygotes"])
async def pool(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[RuntimePool]:
    settings = Settings(data_dir=tmp_path / "data", zygotes=request.param)
    runtime = RuntimePool(PlainStarter(), settings)
    await runtime.start()
    try:
        yield runtime
    finally:
        await runtime.close(grace_s=0)


async def test_a_good_import_is_kept_for_the_first_call(
    pool: RuntimePool, function: FunctionFactory
) -> None:
    spec = function(GOOD)
    prepared = await pool.prepare(spec)
    assert prepared.error is None
    assert prepared.init_ms > 0
    outcome = await pool.invoke(spec, "first", b"null")
    assert outcome.state is InvocationState.SUCCEEDED, outcome.error
    assert outcome.result_json is not None
    answer = json.loads(outcome.result_json)
    if pool._settings.zygotes:
        # A cold start, but forked from the zygote the check started: no second import.
        assert outcome.cold_start is True
        assert outcome.timings.zygote_ms == 0
        assert answer["ppid"] == zygote_pid(pool, spec)
    else:
        assert outcome.cold_start is False  # the checked instance served it
        assert pool.stats().instances == 1


@pytest.mark.parametrize(("source", "exception_type", "words", "has_traceback"), BROKEN)
async def test_a_failed_import_comes_back_as_a_value_and_leaves_nothing(
    pool: RuntimePool,
    function: FunctionFactory,
    source: str,
    exception_type: str,
    words: list[str],
    has_traceback: bool,
) -> None:
    spec = function(source)
    prepared = await pool.prepare(spec)
    error = prepared.error
    assert error is not None
    assert error.kind == "FunctionError"
    assert error.exception_type == exception_type
    for word in words:
        assert word in error.message
    if has_traceback:
        assert error.traceback is not None and "main.py" in error.traceback
        assert "bootstrap" not in error.traceback
    assert pool.stats().instances == 0
    for _ in range(200):  # the failed process is reaped in the background
        if not instance_processes():
            break
        await asyncio.sleep(0.01)
    assert not instance_processes()


async def test_output_printed_while_the_import_fails_is_returned(
    pool: RuntimePool, function: FunctionFactory
) -> None:
    prepared = await pool.prepare(function("print('loading config')\nraise SystemExit(3)\n"))
    assert prepared.error is not None and prepared.error.exception_type == "SystemExit"
    assert prepared.logs == "loading config\n"
