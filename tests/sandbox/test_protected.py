"""What a function's network may never reach, whatever its policy allows: the API server's
port, a worker's internal API (which runs calls on a signature, and is no business of a
function's) and the database."""

from __future__ import annotations

from ipaddress import IPv4Address
from pathlib import Path

from sandlot.sandbox.factory import _protected
from tests.conftest import make_settings


def test_the_servers_the_workers_and_the_databases_ports_are_protected(tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path,
        "postgresql+asyncpg://sandlot@127.0.0.13:5544/sandlot",
        host="127.0.0.11",
        port=8123,
        worker_host="127.0.0.12",
        worker_port=8170,
    )
    protected = set(_protected(settings))
    assert (IPv4Address("127.0.0.11"), 8123) in protected
    assert (IPv4Address("127.0.0.12"), 8170) in protected
    assert (IPv4Address("127.0.0.13"), 5544) in protected
