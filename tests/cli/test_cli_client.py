"""The client's reading of answers and settings, without a server: answers are built as
plain `httpx.Response` values, exactly as the server would send them."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx
import pytest

from sandlot.client import (
    ApiError,
    ClientSettings,
    InvokeResult,
    SandlotClient,
    ServerUnreachable,
)


def test_api_error_reads_the_one_error_shape() -> None:
    body = {
        "error": "FunctionError",
        "detail": {"message": "boom", "exception_type": "ValueError", "traceback": "Tr..."},
    }
    response = httpx.Response(502, json=body, headers={"X-Sandlot-Invocation-Id": "inv1"})

    error = ApiError.from_response(response)

    assert (error.status, error.name, error.message) == (502, "FunctionError", "boom")
    assert error.detail["exception_type"] == "ValueError"
    assert error.is_function_failure
    assert error.invocation_id == "inv1"
    assert str(error) == "FunctionError (502): boom"


def test_api_error_from_something_that_is_not_sandlot() -> None:
    error = ApiError.from_response(httpx.Response(502, text="<html>Bad gateway</html>"))

    assert (error.status, error.name) == (502, "HTTPError")
    assert "Bad gateway" in error.message
    assert not error.is_function_failure


def test_invoke_result_reads_the_headers() -> None:
    headers = {
        "X-Sandlot-Invocation-Id": "01abc",
        "X-Sandlot-Version": "3",
        "X-Sandlot-Cold-Start": "true",
        "X-Sandlot-Duration-Ms": "12.5",
        "Server-Timing": "handler;dur=10",
    }
    result = InvokeResult.from_response(httpx.Response(200, json={"ok": 1}, headers=headers))

    assert result.result == {"ok": 1}
    assert (result.invocation_id, result.version, result.cold_start) == ("01abc", 3, True)
    assert result.duration_ms == 12.5
    assert result.server_timing == "handler;dur=10"


def test_settings_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SANDLOT_URL", "SANDLOT_API_KEY", "SANDLOT_DATA_DIR"):
        monkeypatch.delenv(name, raising=False)

    settings = ClientSettings()

    assert settings.url == "http://127.0.0.1:8000"
    assert settings.data_dir == Path(".sandlot")


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SANDLOT_URL", "http://example.test:9000")
    monkeypatch.setenv("SANDLOT_API_KEY", "sl_env_key")

    settings = ClientSettings()

    assert settings.url == "http://example.test:9000"
    assert settings.resolved_api_key() == "sl_env_key"


def test_the_local_admin_key_is_the_fallback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SANDLOT_API_KEY", raising=False)
    (tmp_path / "admin.key").write_text("sl_admin_key\n")

    assert ClientSettings(data_dir=tmp_path).resolved_api_key() == "sl_admin_key"
    assert ClientSettings(data_dir=tmp_path, api_key="sl_given").resolved_api_key() == "sl_given"
    assert ClientSettings(data_dir=tmp_path / "none").resolved_api_key() is None


def test_a_server_that_is_not_there_is_named_in_the_error(dead_url: str) -> None:
    with SandlotClient(dead_url) as client, pytest.raises(ServerUnreachable) as caught:
        client.list_functions()

    assert f"the Sandlot server at {dead_url} is not reachable" in str(caught.value)


@pytest.fixture
def dead_url() -> str:
    """A local URL on which nothing listens."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"
