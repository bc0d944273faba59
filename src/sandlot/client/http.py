"""The client of Sandlot's REST API (`/api/v1`), used by the CLI, the tests and users.

Every call maps to one row of the API table in `docs/internals.md`. Answers are returned as
the server's JSON (plain dicts), so that scripts and `--json` output see exactly what the API
says. Failures raise `ApiError` (the server answered with its one error shape) or
`ServerUnreachable` (nothing answered). Requests go out through `client.transport`, on the
standard library, so that importing this stays cheap for the CLI.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from types import TracebackType
from typing import Any
from urllib.parse import quote

from sandlot import __version__
from sandlot.client.aliases import AliasCalls
from sandlot.client.async_calls import AsyncCalls
from sandlot.client.async_control import AsyncControlCalls
from sandlot.client.console import ConsoleCalls
from sandlot.client.destinations import DestinationCalls
from sandlot.client.discovery import DEFAULT_URL
from sandlot.client.errors import ClientError
from sandlot.client.releases import ReleaseCalls
from sandlot.client.schedules import ScheduleCalls
from sandlot.client.tenancy import TenancyCalls
from sandlot.client.transport import Answer, ParamValue, Transport
from sandlot.client.workers import WorkerCalls

JSON = dict[str, Any]

# A function may run up to 900 s and may first wait in the concurrency queue, so an invoke
# must not give up on its own before the server does.
_INVOKE_READ_TIMEOUT_S = 960.0


@dataclass(frozen=True)
class InvokeResult:
    """A successful invoke: the handler's return value plus what the headers say about it."""

    result: Any
    invocation_id: str | None
    version: int | None
    cold_start: bool | None
    duration_ms: float | None
    server_timing: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    alias: str | None = None  # the alias that chose the version (None: a version was named)

    @classmethod
    def from_answer(cls, answer: Answer) -> InvokeResult:
        h = answer.headers
        cold = h.get("x-sandlot-cold-start")
        return cls(
            result=answer.json() if answer.body else None,
            invocation_id=h.get("x-sandlot-invocation-id"),
            version=_int_or_none(h.get("x-sandlot-version")),
            cold_start=None if cold is None else cold.strip().lower() == "true",
            duration_ms=_float_or_none(h.get("x-sandlot-duration-ms")),
            server_timing=h.get("server-timing"),
            headers=dict(h),
            alias=h.get("x-sandlot-alias"),
        )


def _int_or_none(value: str | None) -> int | None:
    try:
        return None if value is None else int(value)
    except ValueError:
        return None


def _float_or_none(value: str | None) -> float | None:
    try:
        return None if value is None else float(value)
    except ValueError:
        return None


@dataclass(frozen=True)
class FunctionConfig:
    """A deploy's configuration; fields left as None keep the latest version's value (or the
    server's default for a new function)."""

    handler: str | None = None
    memory_mb: int | None = None
    timeout_s: int | None = None
    env: Mapping[str, str] | None = None
    max_concurrency: int | None = None
    min_warm: int | None = None
    keep_alive_s: int | None = None
    # Updates only: change the newest version's environment key by key (`env` replaces it).
    env_set: Mapping[str, str] | None = None
    env_unset: tuple[str, ...] | None = None
    # The secrets its instances get, replacing the list: {"name": ..., "as": "env"|"file"}.
    secrets: tuple[Mapping[str, str], ...] | None = None
    # The network policy's text form, replacing the whole policy: ("none",), destinations
    # such as "api.example.com:443", and/or "internet".
    egress: tuple[str, ...] | None = None
    # The root logger's level in its instances: DEBUG, INFO, WARNING, ERROR or CRITICAL.
    log_level: str | None = None

    def fields(self) -> JSON:
        given = {k: v for k, v in asdict(self).items() if v is not None}
        if "secrets" in given:
            given["secrets"] = [dict(item) for item in given["secrets"]]
        for key in ("env", "env_set"):
            if key in given:
                given[key] = dict(given[key])
        for key in ("env_unset", "egress"):
            if key in given:
                given[key] = list(given[key])
        return given


def _deploy_body(fields: JSON, zip_bytes: bytes | None) -> bytes:
    # The API's JSON deploy body (the zip in `code_base64`), not multipart: the standard
    # library has no multipart encoder, and the server accepts both with the same limits.
    if zip_bytes is not None:
        fields = {**fields, "code_base64": base64.b64encode(zip_bytes).decode("ascii")}
    return json.dumps(fields).encode()


_JSON_HEADERS = {"Content-Type": "application/json"}
SESSION_COOKIE = "sandlot_session"
# A deploy without requirements answers once its handler has imported in its sandbox, which
# the server bounds by the import's budget (up to the function's timeout).
_DEPLOY_TIMEOUT_S = _INVOKE_READ_TIMEOUT_S


class SandlotClient(
    TenancyCalls,
    ConsoleCalls,
    ScheduleCalls,
    AsyncCalls,
    DestinationCalls,
    AsyncControlCalls,
    ReleaseCalls,
    AliasCalls,
    WorkerCalls,
):
    """A synchronous client of one Sandlot server. Use it as a context manager or `close()` it.

    `timeout` is how long (in seconds) any call but an invoke may wait for the next byte.
    """

    def __init__(
        self,
        url: str = DEFAULT_URL,
        api_key: str | None = None,
        *,
        timeout: float = 60.0,
        namespace: str | None = None,
        session: tuple[str, str] | None = None,
    ) -> None:
        """`namespace` is sent as `X-Sandlot-Namespace` on every request; `session` is a
        (session token, CSRF token) pair from `login`, used when there is no `api_key`."""
        self.url = url.rstrip("/")
        headers = {"User-Agent": f"sandlot/{__version__}", "Accept": "application/json"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        elif session is not None:
            headers["Cookie"] = f"{SESSION_COOKIE}={session[0]}"
            headers["X-CSRF-Token"] = session[1]
        if namespace:
            headers["X-Sandlot-Namespace"] = namespace
        self._transport = Transport(self.url, timeout=timeout, headers=headers)

    def close(self) -> None:
        self._transport.close()

    def __enter__(self) -> SandlotClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _request(self, method: str, path: str, **kwargs: Any) -> Answer:
        return self._transport.request(method, f"/api/v1{path}", **kwargs)

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        return self._request(method, path, **kwargs).json()

    def _send_empty(self, method: str, path: str) -> None:
        self._request(method, path)

    # -- functions ---------------------------------------------------------------------------

    def create_function(
        self, name: str, zip_bytes: bytes, config: FunctionConfig | None = None
    ) -> JSON:
        fields = {"name": name, **(config or FunctionConfig()).fields()}
        body = _deploy_body(fields, zip_bytes)
        result: JSON = self._json(
            "POST", "/functions", body=body, headers=_JSON_HEADERS, timeout=_DEPLOY_TIMEOUT_S
        )
        return result

    def update_function(
        self,
        name: str,
        zip_bytes: bytes | None = None,
        config: FunctionConfig | None = None,
        *,
        expect_version: int | None = None,
    ) -> JSON:
        """Make a new version; fields left out keep the newest version's values, and without
        `zip_bytes` it takes the newest version's code (a configuration change).
        `expect_version`: refused (VersionConflict) unless that is the newest version. The
        answer's `unchanged` says the deploy was identical to the newest version."""
        body = _deploy_body((config or FunctionConfig()).fields(), zip_bytes)
        headers = dict(_JSON_HEADERS)
        if expect_version is not None:
            headers["If-Match"] = f'"{expect_version}"'
        result: JSON = self._json(
            "PUT", f"/functions/{name}", body=body, headers=headers, timeout=_DEPLOY_TIMEOUT_S
        )
        return result

    def list_functions(self) -> list[JSON]:
        items: list[JSON] = self._json("GET", "/functions")["items"]
        return items

    def get_function(self, name: str) -> JSON:
        result: JSON = self._json("GET", f"/functions/{name}")
        return result

    def delete_function(self, name: str) -> None:
        self._request("DELETE", f"/functions/{name}")

    # -- versions ----------------------------------------------------------------------------

    def list_versions(self, name: str) -> list[JSON]:
        items: list[JSON] = self._json("GET", f"/functions/{name}/versions")["items"]
        return items

    def get_version(self, name: str, number: int) -> JSON:
        result: JSON = self._json("GET", f"/functions/{name}/versions/{number}")
        return result

    def build_log(self, name: str, number: int) -> str:
        return self._request("GET", f"/functions/{name}/versions/{number}/build-log").text

    def follow_build(self, name: str, number: int) -> Iterator[tuple[str, str]]:
        """(event, data) pairs from the build's server-sent events: `log` lines as they come,
        then one `end` carrying the version's final state."""
        lines = self._transport.lines(
            "GET",
            f"/api/v1/functions/{name}/versions/{number}/build-log",
            params={"follow": True},
        )
        yield from _server_sent_events(lines)

    def download_code(self, name: str, number: int) -> bytes:
        return self._request("GET", f"/functions/{name}/versions/{number}/code").body

    # -- invocations -------------------------------------------------------------------------

    def invoke(
        self,
        name: str,
        event: Any = None,
        version: int | None = None,
        *,
        routing_key: str | None = None,
    ) -> InvokeResult:
        """Call the function (`name`, or `name:alias`). `event` is raw JSON bytes, or any
        JSON-serialisable value. `routing_key` keeps a caller on one version of a split.

        A function failure raises `ApiError` whose `is_function_failure` is true.
        """
        body = event if isinstance(event, bytes) else json.dumps(event).encode()
        headers = dict(_JSON_HEADERS)
        if routing_key is not None:
            headers["X-Sandlot-Routing-Key"] = routing_key
        answer = self._request(
            "POST",
            f"/functions/{name}/invoke",
            body=body,
            params={"version": version} if version is not None else None,
            headers=headers,
            timeout=_INVOKE_READ_TIMEOUT_S,
        )
        return InvokeResult.from_answer(answer)

    def list_invocations(
        self,
        function: str | None = None,
        state: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
        *,
        function_id: str | None = None,
        include_deleted: bool = False,
        after: str | None = None,
        version: int | None = None,
        cold_start: bool | None = None,
        since: str | None = None,
        until: str | None = None,
        alias: str | None = None,
    ) -> JSON:
        """One page, newest first: `{"items": [...], "next_cursor": str | None}`; with
        `after` (an invocation id, or "" for the first), oldest first from just after it.

        `function` is the live function of that name (or, if none is live, the one deleted
        last); `include_deleted` widens it to every function that had the name, and
        `function_id` picks one of them exactly. `version`, `cold_start` and the time range
        (`since` inclusive, `until` exclusive: ISO 8601 with a zone) narrow the listing and
        keep with the cursor."""
        query: dict[str, ParamValue | None] = {
            "function": function,
            "function_id": function_id,
            "state": state,
            "limit": limit,
            "cursor": cursor,
            "include_deleted": include_deleted or None,
            "after": after,
            "version": version,
            "cold_start": None if cold_start is None else str(cold_start).lower(),
            "since": since,
            "until": until,
            "alias": alias,
        }
        params = {k: v for k, v in query.items() if v is not None}
        result: JSON = self._json("GET", "/invocations", params=params)
        return result

    def get_invocation(self, invocation_id: str) -> JSON:
        result: JSON = self._json("GET", f"/invocations/{invocation_id}")
        return result

    def get_invocation_logs(self, invocation_id: str) -> str:
        return self._request("GET", f"/invocations/{invocation_id}/logs").text

    def function_metrics(self, name: str, *, window: str = "1h", until: str | None = None) -> JSON:
        """Per time bucket: invocations, errors by kind, p50/p95/p99, cold starts, peak
        concurrency (`GET /functions/{name}/metrics`)."""
        params = {"window": window} if until is None else {"window": window, "until": until}
        result: JSON = self._json("GET", f"/functions/{name}/metrics", params=params)
        return result

    # -- API keys ----------------------------------------------------------------------------

    def create_key(
        self,
        name: str,
        role: str,
        *,
        functions: list[str] | None = None,
        expires_in_days: int | None = None,
    ) -> JSON:
        """The answer holds the secret `key`, which the server shows this once only.
        `functions` limits the key to those functions; `expires_in_days` ends it."""
        fields: JSON = {"name": name, "role": role}
        if functions:
            fields["functions"] = functions
        if expires_in_days is not None:
            fields["expires_in_days"] = expires_in_days
        body = json.dumps(fields).encode()
        result: JSON = self._json("POST", "/keys", body=body, headers=_JSON_HEADERS)
        return result

    def list_keys(self) -> list[JSON]:
        items: list[JSON] = self._json("GET", "/keys")["items"]
        return items

    def revoke_key(self, key_id: str) -> None:
        self._request("DELETE", f"/keys/{key_id}")

    # -- audit log ---------------------------------------------------------------------------

    def list_audit(
        self,
        *,
        action: str | None = None,
        actor: str | None = None,
        target: str | None = None,
        since: str | None = None,
        until: str | None = None,
        namespace: str | None = None,
        platform: bool = False,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> JSON:
        """One page of audit events, newest first: `{"items": [...], "next_cursor": ...}`.
        `action` is a prefix (`function.`); `since`/`until` are ISO times with a zone."""
        query: dict[str, ParamValue | None] = {
            "action": action,
            "actor": actor,
            "target": target,
            "since": since,
            "until": until,
            "namespace": namespace,
            "platform": platform or None,
            "limit": limit,
            "cursor": cursor,
        }
        params = {k: v for k, v in query.items() if v is not None}
        result: JSON = self._json("GET", "/audit", params=params)
        return result

    # -- quotas ------------------------------------------------------------------------------

    def get_quota(self, namespace: str | None = None) -> JSON:
        """A namespace's quotas (default: the caller's): each limit and the use now."""
        path = "/quota" if namespace is None else f"/namespaces/{_segment(namespace)}/quota"
        result: JSON = self._json("GET", path)
        return result

    def set_quota(self, namespace: str, limits: JSON) -> JSON:
        """Set some limits (None: back to the server's default); the answer's `warnings`
        name limits set below the current use."""
        body = json.dumps(limits).encode()
        path = f"/namespaces/{_segment(namespace)}/quota"
        result: JSON = self._json("PUT", path, body=body, headers=_JSON_HEADERS)
        return result

    # -- egress bound ------------------------------------------------------------------------

    def get_egress_bound(self, namespace: str) -> JSON:
        """What the namespace's functions may reach, and whether this server enforces it."""
        result: JSON = self._json("GET", f"/namespaces/{_segment(namespace)}/egress")
        return result

    def set_egress_bound(self, namespace: str, bound: list[str] | None) -> JSON:
        """Set the namespace's egress bound (None: back to the server's default)."""
        body = json.dumps({"bound": bound}).encode()
        path = f"/namespaces/{_segment(namespace)}/egress"
        result: JSON = self._json("PUT", path, body=body, headers=_JSON_HEADERS)
        return result

    # -- secrets -----------------------------------------------------------------------------

    def set_secret(self, name: str, value: str) -> JSON:
        """A new version of the secret; the answer is its metadata, never the value."""
        body = json.dumps({"value": value}).encode()
        path = f"/secrets/{_segment(name)}"
        result: JSON = self._json("PUT", path, body=body, headers=_JSON_HEADERS)
        return result

    def list_secrets(self) -> list[JSON]:
        items: list[JSON] = self._json("GET", "/secrets")["items"]
        return items

    def get_secret(self, name: str) -> JSON:
        result: JSON = self._json("GET", f"/secrets/{_segment(name)}")
        return result

    def delete_secret(self, name: str) -> None:
        self._request("DELETE", f"/secrets/{_segment(name)}")

    def rotate_secret_key(self) -> JSON:
        result: JSON = self._json("POST", "/secret-key/rotate", timeout=600)
        return result

    # -- sign-in and users --------------------------------------------------------------------

    def login(self, login: str, password: str) -> tuple[JSON, tuple[str, str]]:
        """Sign in: the answer, and the (session token, CSRF token) pair for
        `SandlotClient(url, session=...)`."""
        body = json.dumps({"login": login, "password": password}).encode()
        answer = self._request("POST", "/auth/login", body=body, headers=_JSON_HEADERS)
        result: JSON = answer.json()
        token = _cookie(answer.headers.get("set-cookie", ""), SESSION_COOKIE)
        if token is None:
            raise ClientError("the server's login answer set no session cookie")
        return result, (token, str(result["csrf_token"]))

    def logout(self) -> None:
        self._request("POST", "/auth/logout")

    def me(self) -> JSON:
        result: JSON = self._json("GET", "/auth/me")
        return result

    def create_user(
        self,
        login: str,
        password: str,
        *,
        display_name: str | None = None,
        platform_admin: bool = False,
    ) -> JSON:
        fields = {"login": login, "password": password, "platform_admin": platform_admin}
        if display_name is not None:
            fields["display_name"] = display_name
        body = json.dumps(fields).encode()
        result: JSON = self._json("POST", "/users", body=body, headers=_JSON_HEADERS)
        return result

    def list_users(self) -> list[JSON]:
        items: list[JSON] = self._json("GET", "/users")["items"]
        return items

    def update_user(
        self, login: str, *, display_name: str | None = None, disabled: bool | None = None
    ) -> JSON:
        fields = {"display_name": display_name, "disabled": disabled}
        body = json.dumps({k: v for k, v in fields.items() if v is not None}).encode()
        result: JSON = self._json(
            "PATCH", f"/users/{_segment(login)}", body=body, headers=_JSON_HEADERS
        )
        return result

    def set_password(
        self, login: str, new_password: str, current_password: str | None = None
    ) -> None:
        fields = {"new_password": new_password}
        if current_password is not None:
            fields["current_password"] = current_password
        body = json.dumps(fields).encode()
        self._request(
            "POST", f"/users/{_segment(login)}/password", body=body, headers=_JSON_HEADERS
        )

    # -- environments ------------------------------------------------------------------------

    def list_environments(self) -> list[JSON]:
        items: list[JSON] = self._json("GET", "/environments")["items"]
        return items

    def pool(self) -> JSON:
        """What the worker pool holds now (platform admin only)."""
        found: JSON = self._json("GET", "/pool")
        return found

    def prune_environments(self, grace_s: float | None = None) -> list[str]:
        params = {} if grace_s is None else {"grace_s": grace_s}
        removed: list[str] = self._json("POST", "/environments/prune", params=params)["removed"]
        return removed


def _segment(value: str) -> str:
    """One path segment, whatever it holds (a '/' or '?' stays part of the name)."""
    return quote(value, safe="")


def _cookie(set_cookie: str, name: str) -> str | None:
    """The value `Set-Cookie` gives cookie `name` (http.client joins several with ", ")."""
    for part in set_cookie.replace(",", ";").split(";"):
        key, sep, value = part.strip().partition("=")
        if sep and key == name:
            return value.strip('"') or None
    return None


def _server_sent_events(lines: Iterator[str]) -> Iterator[tuple[str, str]]:
    """Parse `event:`/`data:` blocks separated by blank lines (enough of the SSE format for
    the server's own streams)."""
    event = "message"
    data: list[str] = []
    for line in lines:
        if not line:
            if data:
                yield event, "\n".join(data)
            event, data = "message", []
        elif line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))
    if data:
        yield event, "\n".join(data)
