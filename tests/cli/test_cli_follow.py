"""`sandlot logs --follow` under load: a real CLI process against a real server."""

from __future__ import annotations

import queue
import re
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.cli.test_cli_e2e import Cli, Server, function_folder, pump, unique
from tests.cli.test_cli_e2e import cli as cli  # the fixture

pytestmark = pytest.mark.slow

CALLS = 300
CALLERS = 8
LONG_EVERY = 30  # these run long enough to be listed `running` when the follower first sees them


def _invoke(server: Server, name: str, numbers: list[int]) -> None:
    url = f"{server.url}/api/v1/functions/{name}/invoke"
    headers = {"Authorization": f"Bearer {server.api_key}"}
    with httpx.Client(headers=headers, timeout=60) as client:
        for n in numbers:
            event = {"n": n, "sleep": 1.5 if n % LONG_EVERY == 0 else 0}
            assert client.post(url, json=event).status_code == 200


def _read_until(lines: queue.Queue[str], out: list[str], done: re.Pattern[str], want: int) -> None:
    deadline = time.monotonic() + 45
    seen = {match for line in out for match in done.findall(line)}
    while len(seen) < want:
        try:
            line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
        except queue.Empty:
            raise AssertionError(f"the follower printed {len(seen)} of {want} calls") from None
        out.append(line)
        seen.update(done.findall(line))


def test_logs_follow_prints_every_invocation_of_a_burst(
    cli: Cli, live_server: Server, tmp_path: Path
) -> None:
    name = unique("burst")
    folder = function_folder(
        tmp_path,
        """
        import time

        def handler(event, context):
            time.sleep(event["sleep"])
            print(f"call-{event['n']}-done")
            return event["n"]
        """,
    )
    cli.ok("deploy", str(folder), "--name", name)
    said = re.compile(r"call-(-?\d+)-done")
    lines: queue.Queue[str] = queue.Queue()
    out: list[str] = []
    with cli.start("logs", name, "--follow") as follower:
        reader = threading.Thread(target=pump, args=(follower.stdout, lines), daemon=True)
        reader.start()
        try:
            _invoke(live_server, name, [-1])
            _read_until(lines, out, said, 1)  # the follower is following now

            numbers = list(range(CALLS))
            with ThreadPoolExecutor(CALLERS) as callers:
                for done in [
                    callers.submit(_invoke, live_server, name, numbers[i::CALLERS])
                    for i in range(CALLERS)
                ]:
                    done.result()
            _read_until(lines, out, said, CALLS + 1)
            follower.send_signal(signal.SIGINT)
            assert follower.wait(timeout=30) == 0
        finally:
            if follower.poll() is None:
                follower.kill()
            follower.wait()
            reader.join(timeout=10)
    printed = [int(m) for line in out for m in said.findall(line)]
    assert sorted(printed) == list(range(-1, CALLS))  # every call, each once
    headers = [line for line in out if line.startswith("==> ")]
    assert len(headers) == CALLS + 1
    assert all(" succeeded " in line for line in headers)  # long ones printed once ended
