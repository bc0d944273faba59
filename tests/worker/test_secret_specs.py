"""The pool and secrets: a spec with other secret values never reaches what was started with
the old ones; env secrets reach the handler; logs and errors are masked; file secrets are
refused clearly where no sandbox can mount them."""

from __future__ import annotations

import dataclasses
import json

from sandlot.config import Settings
from sandlot.domain.states import InvocationState
from sandlot.worker.pool import RuntimePool
from tests.worker.helpers import FunctionFactory

SOURCE = """
import os
AT_IMPORT = os.environ["TOKEN"]

def handler(event, context):
    print("token:", os.environ["TOKEN"])
    if event == "raise":
        raise ValueError("bad " + os.environ["TOKEN"])
    return {"now": os.environ["TOKEN"], "import": AT_IMPORT, "pid": os.getpid()}
"""


async def test_new_secret_values_start_afresh(pool: RuntimePool, function: FunctionFactory) -> None:
    old = function(SOURCE, secret_env={"TOKEN": "old-value-1"})
    first = json.loads((await pool.invoke(old, "i1", b"null")).result_json or b"")
    warm = await pool.invoke(old, "i2", b"null")
    assert warm.cold_start is False
    new = dataclasses.replace(old, secret_env={"TOKEN": "new-value-2"})
    changed = await pool.invoke(new, "i3", b"null")
    assert changed.cold_start is True
    assert json.loads(changed.result_json or b"") == {
        "now": "new-value-2",
        "import": "new-value-2",  # a new zygote, not a fork of the old one
        "pid": json.loads(changed.result_json or b"")["pid"],
    }
    assert first["now"] == "old-value-1"
    same = await pool.invoke(dataclasses.replace(new), "i4", b"null")
    assert same.cold_start is False  # equal values: nothing restarts


async def test_logs_and_errors_are_masked(pool: RuntimePool, function: FunctionFactory) -> None:
    spec = function(SOURCE, secret_env={"TOKEN": "tok-123456"})
    ok = await pool.invoke(spec, "i1", b"null")
    assert ok.logs == "token: ***\n"
    failed = await pool.invoke(spec, "i2", b'"raise"')
    assert failed.state is InvocationState.FAILED
    assert failed.error is not None
    assert failed.error.message == "bad ***"
    assert "tok-123456" not in (failed.error.traceback or "") + failed.logs


async def test_file_secrets_without_a_sandbox_fail_the_start_clearly(
    pool: RuntimePool, function: FunctionFactory
) -> None:
    spec = function(
        "def handler(event, context):\n    return 1\n", secret_files={"TLS_KEY": "pem-data"}
    )
    outcome = await pool.invoke(spec, "i1", b"null")
    assert outcome.error is not None
    assert "needs the sandbox" in outcome.error.message
    assert "pem-data" not in outcome.error.message


async def test_a_value_cut_by_the_log_cap_leaves_no_part_of_it(
    pool: RuntimePool, function: FunctionFactory, settings: Settings
) -> None:
    limit = settings.max_log_bytes
    spec = function(
        f"""
        import os, sys
        def handler(event, context):
            sys.stdout.write("x" * ({limit} - 10) + os.environ["TOKEN"])
            return 1
        """,
        secret_env={"TOKEN": "abcdefghijklmnopqrstuvwxyz"},
    )
    outcome = await pool.invoke(spec, "i1", b"null")
    assert outcome.logs_truncated is True
    assert "abcd" not in outcome.logs
    assert "x***\n[sandlot: output truncated" in outcome.logs
