"""The HTTP door against a real server: early answers reach clients that send before they read,
slow headers and bodies are cut off, and connections past the cap are answered and closed."""

from __future__ import annotations

import http.client
import json
import os
import select
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import ADMIN_KEY, LiveServer, start_server, stop_server

pytestmark = pytest.mark.slow

MAX_EVENT = 64 * 1024
MAX_UPLOAD = 256 * 1024
DRAIN = 32 * 1024 * 1024
# Past every limit above, within the drain bound, and more than loopback's socket buffers
# hold (a smaller body fits in them whole, and the client reads the answer in any case).
OVERSIZED = 16 * 1024 * 1024
AUTH = {"Authorization": f"Bearer {ADMIN_KEY}"}
SLOW_CLIENT_S = 0.1  # the pause between the bytes a trickling client sends


@pytest.fixture(scope="module")
def door(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One server with small limits and short (one second) deadlines for every test here."""
    server = start_server(
        tmp_path_factory.mktemp("door") / "data",
        {
            "SANDLOT_MAX_EVENT_BYTES": str(MAX_EVENT),
            "SANDLOT_MAX_UPLOAD_BYTES": str(MAX_UPLOAD),
            "SANDLOT_HTTP_DRAIN_BYTES": str(DRAIN),
            "SANDLOT_HTTP_HEADER_TIMEOUT_S": "1",
            "SANDLOT_HTTP_BODY_TIMEOUT_S": "1",
            "SANDLOT_MONITOR_ALLOW": '["127.0.0.1"]',
        },
    )
    try:
        yield server
    finally:
        stop_server(server)


def _address(server: LiveServer) -> tuple[str, int]:
    host, port = server.url.removeprefix("http://").split(":")
    return host, int(port)


def _connection(server: LiveServer) -> http.client.HTTPConnection:
    host, port = _address(server)
    return http.client.HTTPConnection(host, port, timeout=60)


def _answer(response: http.client.HTTPResponse) -> tuple[int, str]:
    return response.status, json.loads(response.read())["error"]


def _multipart(name: str, code: bytes) -> tuple[bytes, dict[str, str]]:
    request = httpx.Request(
        "POST", "http://x/", data={"name": name}, files={"code": ("c.zip", code)}
    )
    return request.read(), {"Content-Type": request.headers["content-type"]}


def _send_whole_then_read(
    server: LiveServer, method: str, path: str, body: bytes, headers: dict[str, str]
) -> tuple[int, str]:
    """http.client on a connection that closes after the answer: it writes the whole body
    before it reads a byte, so any answer it gets came after the server read it all."""
    connection = _connection(server)
    try:
        connection.request(method, path, body=body, headers={**headers, "Connection": "close"})
        return _answer(connection.getresponse())
    finally:
        connection.close()


def _send_chunked_then_read(
    server: LiveServer, method: str, path: str, body: bytes, headers: dict[str, str]
) -> tuple[int, str]:
    """The same without Content-Length: the server learns the size only by reading."""
    connection = _connection(server)
    chunks = (body[i : i + 65536] for i in range(0, len(body), 65536))
    try:
        connection.request(
            method, path, body=chunks, headers={**headers, "Connection": "close"},
            encode_chunked=True,
        )  # fmt: skip
        return _answer(connection.getresponse())
    finally:
        connection.close()


def _urllib(server: LiveServer, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
    url = server.url + path  # always http://127.0.0.1:<port>: our own server
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:  # noqa: S310
            return answer.status, ""
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())["error"]


def test_an_oversized_event_sent_whole_gets_its_413(door: LiveServer) -> None:
    path = "/api/v1/functions/anything/invoke"
    event = b"[" + b"1," * (OVERSIZED // 2) + b"1]"
    headers = {**AUTH, "Content-Type": "application/json"}
    assert _urllib(door, path, event, headers) == (413, "EventTooLarge")
    assert _send_whole_then_read(door, "POST", path, event, headers) == (413, "EventTooLarge")
    assert _send_chunked_then_read(door, "POST", path, event, headers) == (413, "EventTooLarge")


def test_an_oversized_deploy_sent_whole_gets_its_413(door: LiveServer) -> None:
    code = os.urandom(OVERSIZED)
    body, multipart = _multipart("big", code)
    headers = {**AUTH, **multipart}
    for method, path in (("POST", "/api/v1/functions"), ("PUT", "/api/v1/functions/big")):
        assert _send_whole_then_read(door, method, path, body, headers) == (413, "PayloadTooLarge")
        assert _send_chunked_then_read(door, method, path, body, headers) == (
            413,
            "PayloadTooLarge",
        )
    assert _urllib(door, "/api/v1/functions", body, headers) == (413, "PayloadTooLarge")
    as_json = json.dumps({"name": "big", "code_base64": "A" * OVERSIZED}).encode()
    json_headers = {**AUTH, "Content-Type": "application/json"}
    assert _urllib(door, "/api/v1/functions", as_json, json_headers) == (413, "PayloadTooLarge")
    assert _send_chunked_then_read(door, "POST", "/api/v1/functions", as_json, json_headers) == (
        413,
        "PayloadTooLarge",
    )


def test_an_unauthenticated_large_body_gets_its_401(door: LiveServer) -> None:
    body, multipart = _multipart("big", os.urandom(OVERSIZED))
    headers = {**multipart, "Authorization": "Bearer sl_nobody_knows"}
    assert _urllib(door, "/api/v1/functions", body, headers) == (401, "Unauthenticated")
    event = b"0" * OVERSIZED
    assert _urllib(door, "/api/v1/functions/x/invoke", event, {}) == (401, "Unauthenticated")


def test_a_kept_alive_connection_serves_the_next_call_after_a_413(door: LiveServer) -> None:
    connection = _connection(door)
    try:
        connection.request(
            "POST", "/api/v1/functions/anything/invoke", body=b"0" * OVERSIZED, headers=AUTH
        )
        assert _answer(connection.getresponse()) == (413, "EventTooLarge")
        connection.request("GET", "/healthz")
        again = connection.getresponse()
        assert again.status == 200 and json.loads(again.read()) == {"status": "ok"}
    finally:
        connection.close()


def _raw(server: LiveServer) -> socket.socket:
    sock = socket.create_connection(_address(server), timeout=60)
    return sock


def _read_to_end(sock: socket.socket) -> bytes:
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received


def _status_and_error(raw: bytes) -> tuple[int, str, bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, json.loads(body)["error"], head.lower()


def test_a_body_past_the_drain_bound_is_answered_and_the_connection_closed(
    door: LiveServer,
) -> None:
    huge = MAX_EVENT + DRAIN + 1
    with _raw(door) as sock:
        sock.sendall(
            f"POST /api/v1/functions/x/invoke HTTP/1.1\r\nHost: t\r\n"
            f"Authorization: Bearer {ADMIN_KEY}\r\nContent-Length: {huge}\r\n\r\n".encode()
        )
        status, error, head = _status_and_error(_read_to_end(sock))
    assert (status, error) == (413, "EventTooLarge")
    assert b"connection: close" in head


def _trickle_until_cut_off(sock: socket.socket, data: bytes) -> bytes:
    """Send `data` a byte at a time, SLOW_CLIENT_S apart, until the server answers or closes;
    then everything the server sent until it closed."""
    for byte in data:
        readable, _, _ = select.select([sock], [], [], SLOW_CLIENT_S)
        if readable:
            break
        try:
            sock.sendall(bytes([byte]))
        except (BrokenPipeError, ConnectionResetError):
            break
    else:
        pytest.fail("the server took in the whole trickle without cutting it off")
    return _read_to_end(sock)


def _metric(server: LiveServer, name: str) -> float:
    text = httpx.get(f"{server.url}/metrics", timeout=10).text
    line = next(line for line in text.splitlines() if line.startswith(name + " "))
    return float(line.rsplit(" ", 1)[1])


def test_a_trickling_header_is_cut_off_with_a_408(door: LiveServer) -> None:
    before = _metric(door, 'sandlot_http_timeouts_total{phase="headers"}')
    endless_header = b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Slow: " + b"a" * 10_000
    with _raw(door) as sock:
        status, error, head = _status_and_error(_trickle_until_cut_off(sock, endless_header))
    assert (status, error) == (408, "RequestTimedOut")
    assert b"connection: close" in head
    assert _metric(door, 'sandlot_http_timeouts_total{phase="headers"}') == before + 1
    assert httpx.get(f"{door.url}/healthz").status_code == 200  # everyone else is served


def test_a_connection_that_sends_nothing_is_closed(door: LiveServer) -> None:
    with _raw(door) as sock:
        assert _read_to_end(sock) == b""


def _body_request(length: int) -> bytes:
    return (
        f"POST /api/v1/functions/x/invoke HTTP/1.1\r\nHost: t\r\n"
        f"Authorization: Bearer {ADMIN_KEY}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {length}\r\n\r\n"
    ).encode()


def test_a_stalled_body_is_cut_off_with_a_408(door: LiveServer) -> None:
    with _raw(door) as sock:
        sock.sendall(_body_request(100) + b'{"part": ')
        status, error, _ = _status_and_error(_read_to_end(sock))
    assert (status, error) == (408, "RequestTimedOut")


def test_a_body_trickled_under_the_minimum_rate_is_cut_off(door: LiveServer) -> None:
    # A byte every SLOW_CLIENT_S never leaves the body idle for its one-second timeout; the
    # minimum rate (1 KB/s by default, after that second) is what cuts it off.
    before = _metric(door, 'sandlot_http_timeouts_total{phase="body"}')
    with _raw(door) as sock:
        sock.sendall(_body_request(10_000))
        status, error, _ = _status_and_error(_trickle_until_cut_off(sock, b"1" * 10_000))
    assert (status, error) == (408, "RequestTimedOut")
    assert _metric(door, 'sandlot_http_timeouts_total{phase="body"}') == before + 1


def test_connections_past_the_cap_are_answered_503_and_closed(tmp_path: Path) -> None:
    server = start_server(
        tmp_path / "data",
        {"SANDLOT_HTTP_MAX_CONNECTIONS": "3", "SANDLOT_HTTP_HEADER_TIMEOUT_S": "300"},
    )
    try:
        # Connections are accepted in order: these three hold every place.
        held = [_raw(server), _raw(server), _raw(server)]
        held[2].sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
        assert held[2].recv(12) == b"HTTP/1.1 200"
        with _raw(server) as refused, _raw(server) as also_refused:
            refused.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
            status, error, head = _status_and_error(_read_to_end(refused))
            assert (status, error) == (503, "TooManyConnections")
            assert b"retry-after: 1" in head and b"connection: close" in head
            also_refused.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
            assert _status_and_error(_read_to_end(also_refused))[1] == "TooManyConnections"
        held[0].sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
        assert held[0].recv(12) == b"HTTP/1.1 200"  # the admitted ones are served as usual
        for sock in held:
            sock.close()
        assert _eventually_admitted(server)
    finally:
        stop_server(server)


def _eventually_admitted(server: LiveServer) -> bool:
    """Once the held connections are gone, new ones are admitted again (the server notices a
    close on its own schedule, so ask a few times)."""
    for _ in range(200):
        with _raw(server) as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            if _read_to_end(sock).startswith(b"HTTP/1.1 200"):
                return True
        time.sleep(0.05)  # waiting on the server's own bookkeeping; nothing to wait on instead
    return False
