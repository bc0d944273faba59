"""HTTP/1.1 to one server, on the standard library's `http.client`.

Why not httpx: the CLI imports this for every command that talks to the server, and must
start in well under 0.3 s. httpx takes about 0.35 s to import on the development VM (it
imports its own command line, and with it click, rich and pygments); http.client adds about
0.02 s to what the CLI has loaded anyway. What is written here is only what http.client
leaves to its caller: one keep-alive connection, replaced when the server has closed it;
a connect timeout apart from the read timeout; answers with an error status raised as
`ApiError`; socket failures raised as `ServerUnreachable`.
"""

from __future__ import annotations

import http.client
import json
import select
import socket
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

from sandlot.client.errors import ApiError, ClientError, ServerUnreachable

CONNECT_TIMEOUT_S = 10.0

ParamValue = str | int | float | bool
Params = Mapping[str, ParamValue]


@dataclass(frozen=True)
class Answer:
    """A successful answer, read whole. Header names are lower-case."""

    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


class Transport:
    """Requests to one server over one connection at a time (not for several threads)."""

    def __init__(self, url: str, *, timeout: float, headers: Mapping[str, str]) -> None:
        parts = urlsplit(url)
        try:
            port = parts.port
        except ValueError:
            port = -1
        if parts.scheme not in ("http", "https") or not parts.hostname or port == -1:
            raise ClientError(f"the server URL must look like http://host:port, got {url!r}")
        self.url = url
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = port
        self._prefix = parts.path.rstrip("/")  # a server behind a proxy under a path
        self._timeout = timeout
        self._headers = dict(headers)
        self._conn: http.client.HTTPConnection | None = None

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
        timeout: float | None = None,
    ) -> Answer:
        """Send and read the whole answer; `timeout` (seconds between bytes) defaults to the
        transport's."""
        read_timeout = self._timeout if timeout is None else timeout
        response = self._exchange(method, path, params, headers, body, read_timeout)
        try:
            data = response.read()
        except (OSError, http.client.HTTPException) as exc:
            raise self._unreachable(exc) from exc
        return Answer(response.status, _header_map(response), data)

    def lines(self, method: str, path: str, *, params: Params | None = None) -> Iterator[str]:
        """The answer's body line by line as it arrives (server-sent events), with no read
        timeout: a stream may stay quiet for as long as the work it follows."""
        response = self._exchange(method, path, params, None, None, None)
        try:
            while True:
                try:
                    raw = response.readline()
                except (OSError, http.client.HTTPException) as exc:
                    raise self._unreachable(exc) from exc
                if not raw:
                    return
                yield raw.decode("utf-8", errors="replace").rstrip("\r\n")
        finally:
            # A stream is seldom read to its end, so its connection is not reused.
            self.close()

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _exchange(
        self,
        method: str,
        path: str,
        params: Params | None,
        headers: Mapping[str, str] | None,
        body: bytes | None,
        read_timeout: float | None,
    ) -> http.client.HTTPResponse:
        """Send the request and read the answer's head; an error status raises `ApiError`."""
        target = self._prefix + path + (f"?{urlencode(_query(params))}" if params else "")
        conn = self._connection()
        try:
            if conn.sock is None:
                conn.connect()  # within CONNECT_TIMEOUT_S, the connection's own timeout
            conn.sock.settimeout(read_timeout)
            conn.request(method, target, body=body, headers={**self._headers, **(headers or {})})
            response = conn.getresponse()
        except (OSError, http.client.HTTPException) as exc:
            raise self._unreachable(exc) from exc
        if response.status >= 400:
            try:
                data = response.read()
            except (OSError, http.client.HTTPException) as exc:
                raise self._unreachable(exc) from exc
            headers = _header_map(response)
            raise ApiError.from_answer(response.status, headers, data, response.reason)
        return response

    def _connection(self) -> http.client.HTTPConnection:
        conn = self._conn
        if conn is not None and conn.sock is not None and _closed_by_peer(conn.sock):
            self.close()
        if self._conn is None:
            kind = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            self._conn = kind(self._host, self._port, timeout=CONNECT_TIMEOUT_S)
        return self._conn

    def _unreachable(self, exc: BaseException) -> ServerUnreachable:
        self.close()
        return ServerUnreachable(self.url, _reason(exc, self._host))


def _closed_by_peer(sock: socket.socket) -> bool:
    # An idle keep-alive connection has nothing to read: if it is readable, the server has
    # closed it (uvicorn does after 5 s idle), and a request sent on it would be lost.
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


def _reason(exc: BaseException, host: str) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, TimeoutError):
        return "no answer in time"
    if isinstance(exc, socket.gaierror):
        return f"cannot resolve {host}: {exc.strerror}"
    if isinstance(exc, http.client.RemoteDisconnected):
        return "the server closed the connection without answering"
    return f"{type(exc).__name__}: {exc}"


def _query(params: Params) -> dict[str, str]:
    return {key: _param(value) for key, value in params.items()}


def _param(value: ParamValue) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _header_map(response: http.client.HTTPResponse) -> dict[str, str]:
    return {name.lower(): value for name, value in response.getheaders()}
