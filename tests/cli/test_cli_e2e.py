"""The CLI end to end: a real `sandlot` process against a real server (`live_server`)."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, Protocol, TypeVar

import pytest

import sandlot

pytestmark = pytest.mark.slow

HELLO = Path(__file__).resolve().parents[2] / "examples" / "hello"
SRC = str(Path(sandlot.__file__).resolve().parents[1])
T = TypeVar("T")


class Server(Protocol):
    url: str
    api_key: str


# Run `python <argv...>` with SIGINT at its default disposition (see `Cli.start`).
_WITH_SIGINT = (
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
    "os.execv(sys.executable, [sys.executable, *sys.argv[1:]])"
)


class Cli:
    """Runs `python -m sandlot.cli.main` with SANDLOT_URL and SANDLOT_API_KEY set."""

    def __init__(self, server: Server, cwd: Path) -> None:
        clean = {k: v for k, v in os.environ.items() if not k.startswith("SANDLOT_")}
        python_path = os.pathsep.join(p for p in (SRC, clean.get("PYTHONPATH")) if p)
        self.env = {
            **clean,
            "SANDLOT_URL": server.url,
            "SANDLOT_API_KEY": server.api_key,
            "PYTHONPATH": python_path,
            "PYTHONUNBUFFERED": "1",
            "COLUMNS": "200",
        }
        self.cwd = cwd

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "sandlot.cli.main", *args]

    def start(self, *args: str) -> subprocess.Popen[str]:
        """Start a command that the test ends with SIGINT, as Ctrl-C would, its stdout piped.

        A test run started in the background of a non-interactive shell (as when several
        runs share a loaded machine) has SIGINT ignored; an ignored signal stays ignored
        across fork and exec, and Python then never raises KeyboardInterrupt, so the command
        would not stop. It gets SIGINT back at its default, as a terminal's foreground job has.
        """
        return subprocess.Popen(
            [sys.executable, "-c", _WITH_SIGINT, *self.command(*args)[1:]],
            env=self.env,
            cwd=self.cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )

    def run(
        self, *args: str, input: str | None = None, key: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        env = self.env if key is None else {**self.env, "SANDLOT_API_KEY": key}
        return subprocess.run(
            self.command(*args),
            input=input,
            env=env,
            cwd=self.cwd,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )

    def ok(self, *args: str, input: str | None = None, key: str | None = None) -> str:
        result = self.run(*args, input=input, key=key)
        assert result.returncode == 0, f"{args} failed:\n{result.stderr}"
        return result.stdout

    def json(self, *args: str, input: str | None = None, key: str | None = None) -> Any:
        return json.loads(self.ok(*args, input=input, key=key))


@pytest.fixture
def cli(live_server: Server, tmp_path: Path) -> Cli:
    return Cli(live_server, tmp_path)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def function_folder(root: Path, source: str) -> Path:
    folder = root / uuid.uuid4().hex
    folder.mkdir()
    (folder / "main.py").write_text(textwrap.dedent(source))
    return folder


def eventually(check: Callable[[], T | None], timeout_s: float = 15.0) -> T:
    """Invocation records are written in batches off the hot path, so they show up a little
    after the invoke returns."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value is not None:
            return value
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.1)


def invocation_ids(cli: Cli, name: str, count: int) -> list[str]:
    def listed() -> list[str] | None:
        page = cli.json("invocations", "list", "--function", name, "--json")
        ids = [item["id"] for item in page["items"]]
        return ids if len(ids) >= count else None

    return eventually(listed)


def test_deploy_and_invoke_hello(cli: Cli, tmp_path: Path) -> None:
    name = unique("hello")

    deployed = cli.ok("deploy", str(HELLO), "--name", name)
    assert name in deployed
    assert "version 1" in deployed
    assert "ready" in deployed

    assert cli.json("invoke", name, "--data", '{"name": "ada"}') == {"hello": "ada"}
    assert cli.json("invoke", name) == {"hello": "world"}
    (tmp_path / "event.json").write_text('{"name": "file"}')
    assert cli.json("invoke", name, "--data", "@event.json") == {"hello": "file"}
    assert cli.json("invoke", name, "--data", "-", input='{"name": "stdin"}') == {"hello": "stdin"}


def test_redeploy_makes_a_new_version(cli: Cli, tmp_path: Path) -> None:
    name = unique("hello")
    cli.ok("deploy", str(HELLO), "--name", name)
    second = function_folder(
        tmp_path,
        """
        import os

        def handler(event, context):
            return {"version": 2, "greeting": os.environ["GREETING"]}
        """,
    )

    version = cli.json("deploy", str(second), "--name", name, "--env", "GREETING=hi", "--json")

    assert (version["number"], version["state"], version["env"]) == (2, "ready", {"GREETING": "hi"})
    assert cli.json("invoke", name) == {"version": 2, "greeting": "hi"}
    assert cli.json("invoke", name, "--version", "1") == {"hello": "world"}
    numbers = sorted(v["number"] for v in cli.json("versions", name, "--json")["items"])
    assert numbers == [1, 2]
    assert cli.json("versions", name, "1", "--json")["number"] == 1
    assert "2" in cli.ok("versions", name)


def test_a_function_error_goes_to_stderr_with_status_1(cli: Cli, tmp_path: Path) -> None:
    name = unique("broken")
    folder = function_folder(
        tmp_path,
        """
        def handler(event, context):
            raise ValueError("boom from the handler")
        """,
    )
    cli.ok("deploy", str(folder), "--name", name)

    result = cli.run("invoke", name)

    assert result.returncode == 1
    assert result.stdout == ""
    assert "FunctionError" in result.stderr
    assert "boom from the handler" in result.stderr
    assert "ValueError" in result.stderr


def test_logs_print_each_invocation_oldest_first(cli: Cli, tmp_path: Path) -> None:
    name = unique("chatty")
    folder = function_folder(
        tmp_path,
        """
        def handler(event, context):
            print("said", event["n"])
            return event["n"]
        """,
    )
    cli.ok("deploy", str(folder), "--name", name)
    cli.ok("invoke", name, "--data", '{"n": 1}')
    cli.ok("invoke", name, "--data", '{"n": 2}')
    newest, oldest = invocation_ids(cli, name, 2)

    out = cli.ok("logs", name)

    assert out.index(oldest) < out.index("said 1") < out.index(newest) < out.index("said 2")
    assert "succeeded" in out
    limited = cli.ok("logs", name, "--limit", "1")
    assert newest in limited
    assert oldest not in limited


def test_logs_follow_prints_new_invocations_until_interrupted(cli: Cli, tmp_path: Path) -> None:
    name = unique("follow")
    marker = uuid.uuid4().hex
    folder = function_folder(
        tmp_path,
        f"""
        def handler(event, context):
            print("{marker}", event)
            return None
        """,
    )
    cli.ok("deploy", str(folder), "--name", name)
    lines: queue.Queue[str] = queue.Queue()
    with cli.start("logs", name, "--follow") as follower:
        # A thread reads the pipe, so that the test can wait on it with a timeout.
        reader = threading.Thread(target=pump, args=(follower.stdout, lines), daemon=True)
        reader.start()
        try:
            cli.ok("invoke", name, "--data", '"first"')
            seen = ""
            deadline = time.monotonic() + 20
            while marker not in seen:
                seen += lines.get(timeout=max(0.1, deadline - time.monotonic()))
            follower.send_signal(signal.SIGINT)
            assert follower.wait(timeout=10) == 0
        finally:
            if follower.poll() is None:
                follower.kill()
            follower.wait()
            reader.join(timeout=10)


def pump(stream: IO[str] | None, lines: queue.Queue[str]) -> None:
    assert stream is not None
    for line in stream:
        lines.put(line)


def test_functions_list_get_and_delete(cli: Cli) -> None:
    name = unique("hello")
    cli.ok("deploy", str(HELLO), "--name", name)

    listed = cli.json("functions", "list", "--json")["items"]
    assert name in [item["name"] for item in listed]
    assert name in cli.ok("functions", "list")
    function = cli.json("functions", "get", name, "--json")
    assert (function["name"], function["latest_version"], function["versions"]) == (name, 1, 1)
    assert function["config"]["handler"] == "main.handler"

    cli.ok("functions", "delete", name, "--yes")

    gone = cli.run("functions", "get", name)
    assert gone.returncode == 1
    assert "FunctionNotFound" in gone.stderr
    assert "FunctionNotFound" in cli.run("invoke", name).stderr


def test_invocations_list_and_get(cli: Cli) -> None:
    name = unique("hello")
    cli.ok("deploy", str(HELLO), "--name", name)
    cli.ok("invoke", name, "--data", '{"name": "ada"}')
    cli.ok("invoke", name)
    invocation_ids(cli, name, 2)

    page = cli.json("invocations", "list", "--function", name, "--limit", "1", "--json")
    assert len(page["items"]) == 1
    assert page["next_cursor"]
    older = cli.json(
        "invocations", "list", "--function", name, "--cursor", page["next_cursor"], "--json"
    )
    first = older["items"][0]

    invocation = cli.json("invocations", "get", first["id"], "--json")
    assert (invocation["function"], invocation["state"]) == (name, "succeeded")
    assert invocation["result"] == {"hello": "ada"}
    assert first["id"] in cli.ok("invocations", "get", first["id"])
    assert first["id"] in cli.ok("invocations", "list", "--function", name)


def test_keys_create_list_and_revoke(cli: Cli) -> None:
    name = unique("hello")
    cli.ok("deploy", str(HELLO), "--name", name)

    created = cli.json("keys", "create", "--name", "ci", "--role", "invoker", "--json")
    assert created["role"] == "invoker"
    listed = cli.json("keys", "list", "--json")["items"]
    assert created["id"] in [key["id"] for key in listed]
    assert all("key" not in key for key in listed)
    assert cli.json("invoke", name, key=created["key"]) == {"hello": "world"}

    cli.ok("keys", "revoke", created["id"])

    refused = cli.run("invoke", name, key=created["key"])
    assert refused.returncode == 1
    assert "Unauthenticated" in refused.stderr


def test_api_errors_exit_1_with_the_error_name(cli: Cli) -> None:
    missing = cli.run("invoke", unique("missing"))
    assert missing.returncode == 1
    assert "FunctionNotFound" in missing.stderr

    bad_key = cli.run("functions", "list", key="sl_nope_" + "x" * 40)
    assert bad_key.returncode == 1
    assert "Unauthenticated" in bad_key.stderr
