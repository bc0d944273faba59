"""The CLI finds a real server the way it was started, from another working directory, with
no SANDLOT_URL or SANDLOT_API_KEY: through the record the server writes in the user's config
dir, or through SANDLOT_PORT. When the server has stopped, or died, the error says every
place the CLI looked."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import sandlot
from tests.conftest import LiveServer, start_server, stop_server

pytestmark = pytest.mark.slow

HELLO = Path(__file__).resolve().parents[2] / "examples" / "hello"
SRC = str(Path(sandlot.__file__).resolve().parents[1])


@dataclass
class Place:
    """A user's machine: a config dir, a folder the server runs in, another the CLI runs in."""

    config_home: Path
    elsewhere: Path

    @property
    def record(self) -> Path:
        return self.config_home / "sandlot" / "server.json"

    def cli(self, *args: str, **settings: str) -> subprocess.CompletedProcess[str]:
        clean = {k: v for k, v in os.environ.items() if not k.startswith("SANDLOT_")}
        env = {**clean, "XDG_CONFIG_HOME": str(self.config_home), "PYTHONPATH": SRC, **settings}
        return subprocess.run(
            [sys.executable, "-m", "sandlot.cli.main", *args],
            env=env,
            cwd=self.elsewhere,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )


@pytest.fixture
def place(tmp_path: Path) -> Place:
    elsewhere = tmp_path / "somewhere" / "else"
    elsewhere.mkdir(parents=True)
    return Place(tmp_path / "config", elsewhere)


@pytest.fixture
def server(place: Place, tmp_path: Path) -> Iterator[LiveServer]:
    # No bootstrap key: the server makes its own admin key, as on a user's first start.
    started = start_server(
        tmp_path / "srv" / "data",
        {"XDG_CONFIG_HOME": str(place.config_home), "SANDLOT_BOOTSTRAP_API_KEY": ""},
    )
    try:
        yield started
    finally:
        stop_server(started)


def test_the_cli_finds_the_server_and_its_key_from_another_directory(
    place: Place, server: LiveServer
) -> None:
    name = f"found-{uuid.uuid4().hex[:6]}"

    deployed = place.cli("deploy", str(HELLO), "--name", name)
    invoked = place.cli("invoke", name, "--data", '{"name": "ada"}')
    port = server.url.rsplit(":", 1)[1]
    by_port = place.cli("invoke", name, SANDLOT_PORT=port)

    assert deployed.returncode == 0, deployed.stderr
    assert invoked.returncode == 0, invoked.stderr
    assert '"hello": "ada"' in invoked.stdout
    assert by_port.returncode == 0, by_port.stderr
    record = place.record.read_text()
    assert f'"url": "{server.url}"' in record
    assert f'"pid": {server.process.pid}' in record


def test_a_stopped_server_leaves_nothing_and_the_error_says_where_the_cli_looked(
    place: Place, server: LiveServer
) -> None:
    assert place.record.exists()
    assert (server.data_dir / "server.json").exists()

    assert stop_server(server)
    missing = place.cli("functions", "list")

    assert not place.record.exists()
    assert not (server.data_dir / "server.json").exists()
    assert missing.returncode == 1
    assert "not reachable" in missing.stderr
    assert "Where the CLI looked for the server:" in missing.stderr
    assert "--url / SANDLOT_URL: not set" in missing.stderr
    assert "SANDLOT_HOST / SANDLOT_PORT: not set" in missing.stderr
    assert f"{place.elsewhere / '.sandlot' / 'server.json'}: no such file" in missing.stderr
    assert f"{place.record}: no such file" in missing.stderr
    assert "the default: http://127.0.0.1:8000 (used)" in missing.stderr


def test_a_killed_server_leaves_a_record_the_cli_knows_is_stale(
    place: Place, server: LiveServer
) -> None:
    server.process.send_signal(signal.SIGKILL)
    server.process.wait()

    stale = place.cli("functions", "list")

    assert place.record.exists()  # nothing could remove it
    assert stale.returncode == 1
    assert f"stale: its server (pid {server.process.pid}) is not running" in stale.stderr
    assert "the default: http://127.0.0.1:8000 (used)" in stale.stderr


def test_without_a_key_the_error_says_where_the_cli_looked_for_one(
    place: Place, server: LiveServer
) -> None:
    (server.data_dir / "admin.key").unlink()

    refused = place.cli("functions", "list")

    assert refused.returncode == 1
    assert "Unauthenticated" in refused.stderr
    assert "No API key was given or found. Where the CLI looked:" in refused.stderr
    assert f"{server.data_dir / 'admin.key'}: no such file" in refused.stderr
