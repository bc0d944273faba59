"""The CLI's own handling of arguments, which needs no server: usage errors exit with 2
before anything is sent, and a server that is not there exits with 1 and says where."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from sandlot import __version__
from sandlot.cli.main import app
from sandlot.cli.parsing import parse_env, read_data

runner = CliRunner()
HELLO = Path(__file__).resolve().parents[2] / "examples" / "hello"


@pytest.fixture
def dead_url() -> str:
    """A local URL on which nothing listens."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture(autouse=True)
def no_sandlot_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A developer's own SANDLOT_* settings must not leak into these tests."""
    for name in ("URL", "API_KEY", "DATA_DIR", "HOST", "PORT"):
        monkeypatch.delenv(f"SANDLOT_{name}", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.chdir(tmp_path)


# -- --data ----------------------------------------------------------------------------------


def test_data_inline_is_sent_as_given() -> None:
    assert read_data('{"name": "ada"}') == b'{"name": "ada"}'


def test_no_data_is_an_empty_body() -> None:
    assert read_data(None) == b""


def test_data_from_a_file(tmp_path: Path) -> None:
    event = tmp_path / "event.json"
    event.write_text('[1, 2, "three"]')

    assert json.loads(read_data(f"@{event}")) == [1, 2, "three"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("{not json", "the value is not valid JSON"),
        ("@missing.json", "cannot read missing.json"),
    ],
)
def test_bad_data_is_a_usage_error(data: str, message: str) -> None:
    with pytest.raises(typer.BadParameter, match=message):
        read_data(data)


def test_invoke_with_bad_data_exits_2_before_sending(dead_url: str) -> None:
    result = runner.invoke(app, ["--url", dead_url, "invoke", "hello", "--data", "{nope"])

    assert result.exit_code == 2
    assert "not valid JSON" in result.stderr
    assert "not reachable" not in result.stderr


def test_invoke_with_bad_json_on_stdin_exits_2(dead_url: str) -> None:
    result = runner.invoke(app, ["--url", dead_url, "invoke", "hello", "-d", "-"], input="{nope")

    assert result.exit_code == 2
    assert "stdin is not valid JSON" in result.stderr


@pytest.mark.parametrize("source", ["inline", "file", "stdin"])
def test_good_data_gets_as_far_as_the_server(source: str, dead_url: str, tmp_path: Path) -> None:
    event = '{"name": "ada"}'
    (tmp_path / "event.json").write_text(event)
    data = {"inline": event, "file": "@event.json", "stdin": "-"}[source]

    result = runner.invoke(app, ["--url", dead_url, "invoke", "hello", "--data", data], input=event)

    assert result.exit_code == 1
    assert f"the Sandlot server at {dead_url} is not reachable" in result.stderr


# -- --env and deploy ------------------------------------------------------------------------


def test_env_pairs() -> None:
    assert parse_env(["A=1", "B=x=y", "EMPTY=", "A=2"]) == {"A": "2", "B": "x=y", "EMPTY": ""}
    assert parse_env([]) is None
    assert parse_env(None) is None


@pytest.mark.parametrize("pair", ["NOVALUE", "=value"])
def test_bad_env_pair(pair: str) -> None:
    with pytest.raises(typer.BadParameter, match="expected KEY=VALUE"):
        parse_env([pair])


def test_deploy_with_a_bad_env_exits_2(dead_url: str) -> None:
    args = ["--url", dead_url, "deploy", str(HELLO), "--name", "hello", "--env", "NOPE"]
    result = runner.invoke(app, args)

    assert result.exit_code == 2
    assert "expected KEY=VALUE" in result.stderr


def test_deploy_of_a_missing_folder_exits_2(dead_url: str, tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["--url", dead_url, "deploy", str(tmp_path / "nope"), "--name", "hello"]
    )

    assert result.exit_code == 2


def test_deploy_with_a_bad_name_exits_2(dead_url: str) -> None:
    result = runner.invoke(app, ["--url", dead_url, "deploy", str(HELLO), "--name", "Bad_Name"])

    assert result.exit_code == 2
    assert "lowercase" in result.stderr


def test_deploy_with_good_arguments_gets_as_far_as_the_server(dead_url: str) -> None:
    args = ["--url", dead_url, "deploy", str(HELLO), "-n", "hello", "-e", "A=1", "--memory", "128"]
    result = runner.invoke(app, args)

    assert result.exit_code == 1
    assert "not reachable" in result.stderr


# -- where the server is ---------------------------------------------------------------------


def test_url_option_beats_the_environment(dead_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SANDLOT_URL", "http://127.0.0.1:9")

    from_env = runner.invoke(app, ["functions", "list"])
    from_option = runner.invoke(app, ["--url", dead_url, "functions", "list"])

    assert "http://127.0.0.1:9 " in from_env.stderr
    assert dead_url in from_option.stderr
    assert (from_env.exit_code, from_option.exit_code) == (1, 1)


def test_version_and_help() -> None:
    assert runner.invoke(app, ["--version"]).stdout.strip() == f"sandlot {__version__}"
    help_text = runner.invoke(app, ["--help"]).stdout
    for command in ("deploy", "invoke", "logs", "functions", "versions", "invocations", "keys"):
        assert command in help_text


def test_runs_as_a_module() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "sandlot.cli.main", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert "deploy" in result.stdout
