"""The client's reading of answers, without a server: answers are built as the transport
hands them over (status, lower-case headers, body bytes), exactly as the server sends them."""

from __future__ import annotations

import json
import socket
import threading

import pytest

from sandlot.client import ApiError, ClientError, InvokeResult, SandlotClient, ServerUnreachable
from sandlot.client.transport import Answer


def test_api_error_reads_the_one_error_shape() -> None:
    body = {
        "error": "FunctionError",
        "detail": {"message": "boom", "exception_type": "ValueError", "traceback": "Tr..."},
    }
    headers = {"x-sandlot-invocation-id": "inv1"}

    error = ApiError.from_answer(502, headers, json.dumps(body).encode())

    assert (error.status, error.name, error.message) == (502, "FunctionError", "boom")
    assert error.detail["exception_type"] == "ValueError"
    assert error.is_function_failure
    assert error.invocation_id == "inv1"
    assert str(error) == "FunctionError (502): boom"


def test_api_error_from_something_that_is_not_sandlot() -> None:
    error = ApiError.from_answer(502, {}, b"<html>Bad gateway</html>", "Bad Gateway")

    assert (error.status, error.name) == (502, "HTTPError")
    assert "Bad gateway" in error.message
    assert not error.is_function_failure
    assert ApiError.from_answer(503, {}, b"", "Service Unavailable").message == (
        "Service Unavailable"
    )


def test_invoke_result_reads_the_headers() -> None:
    headers = {
        "x-sandlot-invocation-id": "01abc",
        "x-sandlot-version": "3",
        "x-sandlot-cold-start": "true",
        "x-sandlot-duration-ms": "12.5",
        "server-timing": "handler;dur=10",
    }
    result = InvokeResult.from_answer(Answer(200, headers, b'{"ok": 1}'))

    assert result.result == {"ok": 1}
    assert (result.invocation_id, result.version, result.cold_start) == ("01abc", 3, True)
    assert result.duration_ms == 12.5
    assert result.server_timing == "handler;dur=10"


def test_an_empty_answer_is_a_null_result() -> None:
    assert InvokeResult.from_answer(Answer(200, {}, b"")).result is None


def test_a_server_that_is_not_there_is_named_in_the_error(dead_url: str) -> None:
    with SandlotClient(dead_url) as client, pytest.raises(ServerUnreachable) as caught:
        client.list_functions()

    assert str(caught.value) == f"the Sandlot server at {dead_url} is not reachable: " + (
        "connection refused"
    )


@pytest.mark.parametrize("url", ["127.0.0.1:8000", "ftp://example.test", "http://host:99999"])
def test_a_url_that_is_not_http_is_refused(url: str) -> None:
    with pytest.raises(ClientError, match="must look like http://host:port"):
        SandlotClient(url)


@pytest.fixture
def dead_url() -> str:
    """A local URL on which nothing listens."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def test_a_keep_alive_connection_the_server_closed_is_replaced() -> None:
    """Servers close idle keep-alive connections (uvicorn after 5 s); the next call must go
    out on a new connection, not be lost on the closed one."""
    closed = threading.Event()
    answers: list[int] = []

    def serve_twice(listener: socket.socket) -> None:
        for _ in range(2):
            conn, _ = listener.accept()
            with conn:
                conn.recv(65536)
                answers.append(len(answers))
                conn.sendall(b'HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\n{"items": []}')
            closed.set()  # closed after its answer, as if idle for too long

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        server = threading.Thread(target=serve_twice, args=(listener,), daemon=True)
        server.start()
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        with SandlotClient(url) as client:
            first = client.list_keys()
            closed.wait(timeout=30)
            second = client.list_keys()
        server.join(timeout=30)

    assert (first, second) == ([], [])
    assert answers == [0, 1]
