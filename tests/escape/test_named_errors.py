"""Errors a function author can act on: each limit is a named error, and the instance goes.

Out of memory (with the peak), timeout, too many processes, file too large, /tmp full and
killed by a signal: each ends the invocation with its own error name and a detail that names
the limit; the next call gets a fresh instance (a cold start) and succeeds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from tests.conftest import Api

MEMORY_MB = 128
LIMITS = {
    "main.py": """
import ctypes, os, signal

def handler(event, context):
    if event == "memory":
        hog = []
        while True:
            hog.append(bytearray(8 * 1024 * 1024))
    if event == "processes":
        while True:  # the parent keeps forking; each child waits to be killed
            if os.fork() == 0:
                signal.pause()
    if event == "file_size":
        with open("/tmp/sparse", "wb") as fh:  # past RLIMIT_FSIZE, without using the space
            fh.seek(600 * 1024 * 1024)
            fh.write(b"x")
    if event == "tmp_full":
        with open("/tmp/fill", "wb") as fh:
            while True:
                fh.write(b"x" * 1024 * 1024)
    if event == "segfault":
        ctypes.string_at(0)
    if event == "sigkill":
        os.kill(os.getpid(), signal.SIGKILL)
    if event == "endless":
        while True:
            pass
    return "fine"
"""
}


@dataclass(frozen=True)
class Expected:
    status: int
    error: str
    state: str
    words: tuple[str, ...]  # in the message
    detail: dict[str, Any]  # exact values in the detail


CASES = {
    "memory": Expected(507, "FunctionOutOfMemory", "out_of_memory", ("128 MB", "peak"), {}),
    "processes": Expected(
        502, "FunctionResourceLimit", "failed", ("process limit", "pids"), {"limit": "pids"}
    ),
    "file_size": Expected(
        502,
        "FunctionResourceLimit",
        "failed",
        ("file size limit", "512.0 MB"),
        {"limit": "file_size", "limit_mb": 512.0},
    ),
    "tmp_full": Expected(
        502,
        "FunctionResourceLimit",
        "failed",
        ("filled its /tmp", "64.0 MB"),
        {"limit": "tmp", "limit_mb": 64},
    ),
    "segfault": Expected(502, "FunctionCrashed", "failed", ("SIGSEGV",), {"signal": 11}),
    "sigkill": Expected(502, "FunctionCrashed", "failed", ("SIGKILL",), {"signal": 9}),
    "endless": Expected(504, "FunctionTimedOut", "timed_out", ("2 s",), {}),
}


async def _expect_named_error(api: Api, kind: str) -> None:
    expected = CASES[kind]
    response = await api.invoke("limits", kind)
    body = response.json()
    assert (response.status_code, body["error"]) == (expected.status, expected.error), body
    assert response.headers["x-sandlot-error"] == expected.error
    detail = body["detail"]
    for word in expected.words:
        assert word in detail["message"], detail
    for key, value in expected.detail.items():
        assert detail.get(key) == value, (key, detail)
    if kind == "memory":
        assert 0 < detail["peak_memory_mb"] <= MEMORY_MB + 1, detail
    record = (await api.client.get(f"/api/v1/invocations/{detail['invocation_id']}")).json()
    assert record["state"] == expected.state
    assert record["error"]["kind"] == expected.error


async def _deploy_warm(api: Api) -> None:
    deployed = await api.deploy("limits", LIMITS, timeout_s="2", memory_mb=str(MEMORY_MB))
    assert deployed.status_code == 201, deployed.text
    assert (await api.invoke("limits", "warm")).json() == "fine"
    warm = await api.invoke("limits", "warm")
    assert warm.headers["x-sandlot-cold-start"] == "false"


@pytest.mark.parametrize("kind", list(CASES))
async def test_limit_is_a_named_error(sandbox_api: Api, kind: str) -> None:
    await _deploy_warm(sandbox_api)
    await _expect_named_error(sandbox_api, kind)
    after = await sandbox_api.invoke("limits", "fine")
    assert (after.status_code, after.json()) == (200, "fine")


@pytest.mark.parametrize("kind", list(CASES))
async def test_limit_replaces_the_instance(sandbox_api: Api, kind: str) -> None:
    await _deploy_warm(sandbox_api)
    await _expect_named_error(sandbox_api, kind)
    after = await sandbox_api.invoke("limits", "fine")
    assert (after.status_code, after.json()) == (200, "fine")
    assert after.headers["x-sandlot-cold-start"] == "true"


async def test_crash_after_a_pids_hit_is_named_by_its_signal(sandbox_api: Api) -> None:
    """The pids counter belongs to the instance: a later death by a signal is still a crash."""
    await _deploy_warm(sandbox_api)
    await _expect_named_error(sandbox_api, "processes")
    await _expect_named_error(sandbox_api, "segfault")
    after = await sandbox_api.invoke("limits", "fine")
    assert (after.status_code, after.json()) == (200, "fine")
