"""Output is captured per invocation, bounded, from Python and from the process's fds."""

from __future__ import annotations

import re

from sandlot.domain.states import InvocationState
from sandlot.worker.pool import RuntimePool
from tests.worker.helpers import FunctionFactory


async def test_print_and_logging_are_captured_per_invocation(
    pool: RuntimePool, function: FunctionFactory
) -> None:
    # Lambda's runtime has a handler on the root logger, so basicConfig does nothing there
    # (nor here): the line has Lambda's format (tests/worker/test_lambda_context.py).
    spec = function(
        """
        import logging

        print("importing")
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
        log = logging.getLogger("fn")

        def handler(event, context):
            print("print", event)
            log.info("logged %s", event)
            return None
        """
    )
    first = await pool.invoke(spec, "a", b'"one"')
    second = await pool.invoke(spec, "b", b'"two"')
    stamp = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"
    assert re.fullmatch(f"importing\nprint one\n\\[INFO\\]\t{stamp}\ta\tlogged one\n", first.logs)
    assert re.fullmatch(f"print two\n\\[INFO\\]\t{stamp}\tb\tlogged two\n", second.logs)
    assert not first.logs_truncated and not second.logs_truncated


async def test_output_of_a_failed_invocation_is_kept(
    pool: RuntimePool, function: FunctionFactory
) -> None:
    spec = function(
        """
        def handler(event, context):
            print("before the error")
            raise ValueError("boom")
        """
    )
    outcome = await pool.invoke(spec, "a", b"null")
    assert outcome.state is InvocationState.FAILED
    assert "before the error" in outcome.logs


async def test_huge_output_is_capped_with_a_marker(
    pool: RuntimePool, function: FunctionFactory
) -> None:
    spec = function(
        """
        import sys

        def handler(event, context):
            for _ in range(2000):
                print("x" * 1000)
            sys.stdout.write("y" * 5_000_000)
            return "done"
        """
    )
    outcome = await pool.invoke(spec, "a", b"null")
    assert outcome.state is InvocationState.SUCCEEDED
    assert outcome.logs_truncated is True
    marker = "\n[sandlot: output truncated after 65536 bytes]\n"
    assert outcome.logs.endswith(marker)
    assert len(outcome.logs.encode()) == 64 * 1024 + len(marker)
    after = await pool.invoke(spec, "b", b"null")
    assert after.logs_truncated is True  # each invocation has its own budget
    assert after.cold_start is False


async def test_fd_level_output_and_subprocesses_are_captured(
    pool: RuntimePool, function: FunctionFactory
) -> None:
    spec = function(
        """
        import os, subprocess

        def handler(event, context):
            os.write(1, b"raw fd one\\n")
            os.write(2, b"raw fd two\\n")
            subprocess.run(["echo", "from a subprocess"], check=True)
            return None
        """
    )
    outcome = await pool.invoke(spec, "a", b"null")
    assert outcome.state is InvocationState.SUCCEEDED, outcome.error
    assert "raw fd one\n" in outcome.logs
    assert "raw fd two\n" in outcome.logs
    assert "from a subprocess\n" in outcome.logs
    second = await pool.invoke(spec, "b", b"null")
    assert second.logs.count("raw fd one") == 1


async def test_huge_fd_output_does_not_block_and_is_capped(
    pool: RuntimePool, function: FunctionFactory
) -> None:
    spec = function(
        """
        import os

        def handler(event, context):
            chunk = b"z" * 65536
            for _ in range(64):  # 4 MiB: far more than a pipe holds
                os.write(1, chunk)
            return "done"
        """
    )
    outcome = await pool.invoke(spec, "a", b"null")
    assert outcome.state is InvocationState.SUCCEEDED, outcome.error
    assert outcome.logs_truncated is True
    assert outcome.logs.endswith("\n[sandlot: output truncated after 65536 bytes]\n")
