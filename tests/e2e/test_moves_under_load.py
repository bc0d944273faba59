"""Zero-downtime moves: while a client calls `fn:prod` in a loop against a real server, the
alias moves back and forth between two versions twenty times. No call fails, and each call
is served by a version the alias pointed at at some moment while the call was in flight.

A move "happens" somewhere inside its own request (sent .. answered): a call may see the
alias's value from its send, or the target of any move whose request overlapped the call."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import ADMIN_KEY, start_server, stop_server, zip_bytes

pytestmark = pytest.mark.slow

HEADERS = {"Authorization": f"Bearer {ADMIN_KEY}"}
MOVES = 20


def _code(version: int) -> dict[str, str]:
    return {"main.py": f"def handler(event, context):\n    return {version}\n"}


@dataclass(frozen=True)
class Window:
    sent: float
    answered: float
    version: int  # a call: the version that served it; a move: the alias's target


def _allowed(call: Window, moves: list[Window], initial: int) -> set[int]:
    before = [move for move in moves if move.answered <= call.sent]
    allowed = {before[-1].version if before else initial}
    allowed |= {m.version for m in moves if m.sent <= call.answered and m.answered >= call.sent}
    return allowed


def _call_in_a_loop(
    url: str, stop: threading.Event, calls: list[Window], failures: list[str]
) -> None:
    with httpx.Client(base_url=url, headers=HEADERS, timeout=60) as client:
        while not stop.is_set():
            sent = time.monotonic()
            answer = client.post("/api/v1/functions/fn:prod/invoke", json={})
            answered = time.monotonic()
            if answer.status_code != 200:
                failures.append(f"{answer.status_code} {answer.text}")
                continue
            version = int(answer.headers["x-sandlot-version"])
            if answer.json() != version or answer.headers.get("x-sandlot-alias") != "prod":
                failures.append(f"v{version} answered {answer.text} {dict(answer.headers)}")
            calls.append(Window(sent, answered, version))


def test_moving_an_alias_under_load_drops_no_call(tmp_path: Path, database_url: str) -> None:
    server = start_server(tmp_path / "data", extra_env={"SANDLOT_DATABASE_URL": database_url})
    try:
        with httpx.Client(base_url=f"{server.url}/api/v1", headers=HEADERS, timeout=60) as api:
            made = api.post(
                "/functions",
                data={"name": "fn"},
                files={"code": ("c.zip", zip_bytes(_code(1)), "application/zip")},
            )
            assert made.status_code == 201 and made.json()["config"]["state"] == "ready"
            second = api.put(
                "/functions/fn",
                files={"code": ("c.zip", zip_bytes(_code(2)), "application/zip")},
            )
            assert second.json()["config"]["state"] == "ready", second.text
            assert api.put("/functions/fn/aliases/prod", json={"version": 1}).status_code == 201

            calls: list[Window] = []
            failures: list[str] = []
            stop = threading.Event()
            client = threading.Thread(
                target=_call_in_a_loop, args=(server.url, stop, calls, failures)
            )
            client.start()
            moves: list[Window] = []
            try:
                for target in [2, 1] * (MOVES // 2):
                    seen = len(calls)
                    deadline = time.monotonic() + 30
                    while len(calls) < seen + 2 and not failures and time.monotonic() < deadline:
                        time.sleep(0.005)  # let calls land between moves; bounded
                    sent = time.monotonic()
                    moved = api.put("/functions/fn/aliases/prod", json={"version": target})
                    moves.append(Window(sent, time.monotonic(), target))
                    assert moved.status_code == 200, moved.text
            finally:
                stop.set()
                client.join(timeout=60)
        assert failures == []
        wrong = [
            (c, _allowed(c, moves, 1)) for c in calls if c.version not in _allowed(c, moves, 1)
        ]
        assert wrong == []
        assert {call.version for call in calls} == {1, 2}
        assert len(calls) >= 2 * MOVES
    finally:
        stop_server(server)
