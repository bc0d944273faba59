"""Where the CLI finds its server and key (`sandlot.client.discovery`), on real files and
real processes: a record is live while its pid runs, stale once it has ended."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from sandlot.client import ClientError, locate
from sandlot.client.discovery import (
    DEFAULT_URL,
    ServerRecord,
    connect_url,
    record_paths,
    remove_record,
    write_record,
)


@pytest.fixture
def dead_pid() -> int:
    """The pid of a process that has ended (and been reaped)."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


@pytest.fixture
def environ(tmp_path: Path) -> dict[str, str]:
    """Nothing set but a config dir of the test's own."""
    return {"XDG_CONFIG_HOME": str(tmp_path / "config"), "HOME": str(tmp_path / "home")}


def _record(tmp_path: Path, url: str, pid: int | None = None, key: str = "sl_k") -> ServerRecord:
    data_dir = tmp_path / f"server-{url.rsplit(':', 1)[-1]}"
    data_dir.mkdir(exist_ok=True)
    (data_dir / "admin.key").write_text(key + "\n")
    return ServerRecord(
        url=url,
        pid=os.getpid() if pid is None else pid,
        data_dir=str(data_dir),
        admin_key_file=str(data_dir / "admin.key"),
        started_at="2026-01-01T00:00:00+00:00",
    )


def test_nothing_found_is_the_default_and_says_where_it_looked(
    tmp_path: Path, environ: dict[str, str]
) -> None:
    located = locate(url=None, api_key=None, data_dir=tmp_path / "data", environ=environ)

    assert (located.url, located.api_key) == (DEFAULT_URL, None)
    assert located.url_trail == (
        "--url / SANDLOT_URL: not set",
        "SANDLOT_HOST / SANDLOT_PORT: not set",
        f"{tmp_path / 'data' / 'server.json'}: no such file",
        f"{tmp_path / 'config' / 'sandlot' / 'server.json'}: no such file",
        f"the default: {DEFAULT_URL} (used)",
    )
    assert located.key_trail == (
        "--api-key / SANDLOT_API_KEY: not set",
        f"{tmp_path / 'config' / 'sandlot' / 'credentials.json'}: no key stored for "
        f"{DEFAULT_URL} in its default namespace",
        f"{tmp_path / 'data' / 'admin.key'}: no such file",
    )


def test_a_key_stored_by_login_comes_before_the_admin_key_files(
    tmp_path: Path, environ: dict[str, str]
) -> None:
    from sandlot.client.credentials import StoredKey, credentials_path, forget_key, store_key

    path = credentials_path(environ)
    store_key(path, StoredKey(DEFAULT_URL, "team-a", "sl_a_key", "id-a"), make_default=True)
    store_key(path, StoredKey(DEFAULT_URL, "team-b", "sl_b_key", "id-b"), make_default=False)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600

    def key(namespace: str | None) -> str | None:
        return locate(
            url=None, api_key=None, data_dir=tmp_path / "data", environ=environ, namespace=namespace
        ).api_key

    assert (key(None), key("team-b"), key("team-c")) == ("sl_a_key", "sl_b_key", "sl_a_key")
    assert locate(url=None, api_key="sl_given", data_dir=None, environ=environ).api_key == (
        "sl_given"
    )
    forget_key(path, DEFAULT_URL, "team-a")
    assert (key(None), key("team-a")) == ("sl_b_key", "sl_b_key")


def test_the_config_dir_record_finds_the_server_and_its_key_from_anywhere(
    tmp_path: Path, environ: dict[str, str]
) -> None:
    record = _record(tmp_path, "http://127.0.0.1:18001", key="sl_theirs")
    write_record(record, record_paths(Path(record.data_dir), environ)[1])

    located = locate(url=None, api_key=None, data_dir=tmp_path / "elsewhere", environ=environ)

    assert (located.url, located.api_key) == ("http://127.0.0.1:18001", "sl_theirs")
    assert located.url_trail[-1].endswith(f"server pid {os.getpid()} at {record.url} (used)")
    assert located.key_trail[-1] == f"{record.admin_key_file}: used"


def test_the_data_dir_record_comes_before_the_config_dir_one(
    tmp_path: Path, environ: dict[str, str]
) -> None:
    here = _record(tmp_path, "http://127.0.0.1:18002", key="sl_here")
    there = _record(tmp_path, "http://127.0.0.1:18003", key="sl_there")
    write_record(here, record_paths(Path(here.data_dir), environ)[0])
    write_record(there, record_paths(Path(there.data_dir), environ)[1])

    located = locate(url=None, api_key=None, data_dir=Path(here.data_dir), environ=environ)

    assert (located.url, located.api_key) == (here.url, "sl_here")


def test_a_record_whose_server_is_gone_is_stale_and_skipped(
    tmp_path: Path, environ: dict[str, str], dead_pid: int
) -> None:
    record = _record(tmp_path, "http://127.0.0.1:18004", pid=dead_pid)
    path = record_paths(Path(record.data_dir), environ)[1]
    write_record(record, path)

    located = locate(url=None, api_key=None, data_dir=tmp_path / "data", environ=environ)

    assert located.url == DEFAULT_URL
    assert f"{path}: stale: its server (pid {dead_pid}) is not running" in located.url_trail


def test_a_record_that_is_not_one_is_named(tmp_path: Path, environ: dict[str, str]) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "server.json").write_text('{"url": "http://x:1", "pid": 0}')

    located = locate(url=None, api_key=None, data_dir=tmp_path / "data", environ=environ)

    assert located.url == DEFAULT_URL
    assert "not a server record" in located.url_trail[2]


@pytest.mark.parametrize(
    ("settings", "url"),
    [
        ({"SANDLOT_PORT": "18005"}, "http://127.0.0.1:18005"),
        ({"SANDLOT_HOST": "0.0.0.0", "SANDLOT_PORT": "18006"}, "http://127.0.0.1:18006"),
        ({"SANDLOT_HOST": "::"}, "http://[::1]:8000"),
        ({"SANDLOT_HOST": "127.0.0.2"}, "http://127.0.0.2:8000"),
    ],
)
def test_the_servers_own_host_and_port_settings_come_before_any_record(
    tmp_path: Path, environ: dict[str, str], settings: dict[str, str], url: str
) -> None:
    record = _record(tmp_path, "http://127.0.0.1:18007")
    write_record(record, record_paths(Path(record.data_dir), environ)[1])

    located = locate(url=None, api_key=None, data_dir=None, environ={**environ, **settings})

    assert located.url == url
    assert located.url_trail[-1] == f"SANDLOT_HOST / SANDLOT_PORT: {url} (used)"


def test_host_and_port_find_the_key_of_the_server_recorded_there(
    tmp_path: Path, environ: dict[str, str]
) -> None:
    record = _record(tmp_path, "http://127.0.0.1:18008", key="sl_port_key")
    write_record(record, record_paths(Path(record.data_dir), environ)[1])

    located = locate(
        url=None, api_key=None, data_dir=None, environ={**environ, "SANDLOT_PORT": "18008"}
    )

    assert (located.url, located.api_key) == (record.url, "sl_port_key")


def test_a_port_that_is_not_one_is_an_error(environ: dict[str, str]) -> None:
    with pytest.raises(ClientError, match="SANDLOT_PORT must be a port number"):
        locate(url=None, api_key=None, data_dir=None, environ={**environ, "SANDLOT_PORT": "x"})


def test_url_and_key_given_come_first(tmp_path: Path, environ: dict[str, str]) -> None:
    record = _record(tmp_path, "http://127.0.0.1:18009")
    write_record(record, record_paths(Path(record.data_dir), environ)[0])
    settings = {
        **environ,
        "SANDLOT_URL": "http://env.test:1",
        "SANDLOT_API_KEY": "sl_env",
        "SANDLOT_PORT": "18010",
    }

    from_env = locate(url=None, api_key=None, data_dir=Path(record.data_dir), environ=settings)
    given = locate(
        url="http://opt.test:2", api_key="sl_opt", data_dir=Path(record.data_dir), environ=settings
    )

    assert (from_env.url, from_env.api_key) == ("http://env.test:1", "sl_env")
    assert (given.url, given.api_key) == ("http://opt.test:2", "sl_opt")


def test_one_servers_admin_key_is_never_sent_to_another(
    tmp_path: Path, environ: dict[str, str]
) -> None:
    record = _record(tmp_path, "http://127.0.0.1:18011", key="sl_local_admin")
    write_record(record, record_paths(Path(record.data_dir), environ)[0])

    located = locate(
        url="http://other.test:8000", api_key=None, data_dir=Path(record.data_dir), environ=environ
    )

    assert located.api_key is None
    assert f"of the server at {record.url}" in located.key_trail[-1]


def test_a_server_removes_only_its_own_record(tmp_path: Path, dead_pid: int) -> None:
    path = tmp_path / "server.json"
    write_record(_record(tmp_path, "http://127.0.0.1:18012"), path)

    remove_record(path, dead_pid)  # a server that started earlier, on its way out
    assert ServerRecord.loads(path.read_text()).pid == os.getpid()
    remove_record(path, os.getpid())
    assert not path.exists()


def test_records_are_private_to_their_owner(tmp_path: Path, environ: dict[str, str]) -> None:
    path = record_paths(tmp_path, environ)[1]
    write_record(_record(tmp_path, "http://127.0.0.1:18013"), path)

    assert path.stat().st_mode & 0o777 == 0o600
    assert path.parent.stat().st_mode & 0o777 == 0o700


def test_wildcard_addresses_are_reached_on_loopback() -> None:
    assert connect_url("0.0.0.0", 1) == "http://127.0.0.1:1"
    assert connect_url("::", 2) == "http://[::1]:2"
    assert connect_url("::1", 3) == "http://[::1]:3"
    assert connect_url("example.test", 4) == "http://example.test:4"
