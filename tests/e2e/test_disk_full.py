"""The data dir's disk fills up under a real `sandlot serve` (a small tmpfs the test mounts):
deploys get a named 507, the history keeps answering, /readyz names the problem, calls are
refused before they run once the journal has no room, and no answered call is lost.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.conftest import ADMIN_KEY, start_server, stop_server, zip_bytes
from tests.tmpfs import fill, small_tmpfs

pytestmark = pytest.mark.slow

HEADERS = {"Authorization": f"Bearer {ADMIN_KEY}"}
ECHO = {"main.py": "def handler(event, context):\n    print(len(event))\n    return event\n"}
SEGMENT = 1024 * 1024
BIG_EVENT = "x" * 60_000  # so that the journal fills in a few dozen calls


def _deploy(url: str, name: str, files: dict[str, str]) -> httpx.Response:
    return httpx.post(
        f"{url}/api/v1/functions",
        headers=HEADERS,
        data={"name": name},
        files={"code": ("c.zip", zip_bytes(files), "application/zip")},
        timeout=60,
    )


def _invoke(client: httpx.Client, url: str) -> httpx.Response:
    return client.post(f"{url}/api/v1/functions/echo/invoke", json=BIG_EVENT)


def test_a_full_data_dir_is_named_and_loses_no_answered_call(tmp_path: Path) -> None:
    with small_tmpfs(tmp_path / "disk", "40m") as disk:
        data_dir = disk  # the server's log goes next to it, off the full disk
        env = {"SANDLOT_JOURNAL_SEGMENT_BYTES": str(SEGMENT)}
        server = start_server(data_dir, extra_env=env)
        try:
            assert _deploy(server.url, "echo", ECHO).status_code == 201
            answered: list[str] = []
            with httpx.Client(headers=HEADERS, timeout=30) as client:
                answered.append(_invoke(client, server.url).headers["x-sandlot-invocation-id"])
                fill(disk / "filler")

                deploy = _deploy(server.url, "another", {"main.py": "def handler(e, c): pass\n"})
                assert deploy.status_code == 507, deploy.text
                assert deploy.json()["error"] == "InsufficientStorage"
                assert "message" in deploy.json()["detail"]

                refused = None
                for _ in range(200):  # the journal takes calls until its spare is used up
                    response = _invoke(client, server.url)
                    if response.status_code != 200:
                        refused = response
                        break
                    answered.append(response.headers["x-sandlot-invocation-id"])
                assert refused is not None and refused.status_code == 507, "never refused"
                assert refused.json()["error"] == "InsufficientStorage"
                assert "x-sandlot-invocation-id" not in refused.headers  # it never ran
                assert len(answered) > 5  # the journal kept taking calls the database could not

                listed = client.get(f"{server.url}/api/v1/invocations", params={"limit": 5})
                assert listed.status_code == 200  # the history answers with what it has
                ready = httpx.get(f"{server.url}/readyz", headers=HEADERS)  # the detailed one
                assert ready.status_code == 503
                problems = " ".join(ready.json()["problems"])
                assert "invocation records are not being written" in problems
                assert "journal" in problems
            assert stop_server(server)  # a clean stop with the disk full

            (disk / "filler").unlink()
            server = start_server(data_dir, extra_env=env)
            for invocation_id in answered:
                record = httpx.get(
                    f"{server.url}/api/v1/invocations/{invocation_id}", headers=HEADERS
                )
                assert record.status_code == 200, f"answered call {invocation_id} was lost"
                assert record.json()["state"] == "succeeded"
            assert httpx.get(f"{server.url}/readyz").status_code == 200
            again = _deploy(server.url, "another", {"main.py": "def handler(e, c): pass\n"})
            assert again.status_code == 201, again.text
        finally:
            if server.process.poll() is None:
                stop_server(server)
