"""The httpx client for Sandlot's REST API (`/api/v1`), used by the CLI, the tests and users.

Every call maps to one row of the API table in `docs/internals.md`. Answers are returned as
the server's JSON (plain dicts), so that scripts and `--json` output see exactly what the API
says. Failures raise `ApiError` (the server answered with its one error shape) or
`ServerUnreachable` (nothing answered).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from sandlot import __version__

JSON = dict[str, Any]
DEFAULT_URL = "http://127.0.0.1:8000"

# The error names with which invoke reports that the function, not the platform, failed.
FUNCTION_FAILURES = frozenset(
    {"FunctionError", "FunctionTimedOut", "FunctionOutOfMemory", "FunctionCrashed"}
    | {"FunctionResourceLimit", "FunctionResultInvalid"}
)

# A function may run up to 900 s and may first wait in the concurrency queue, so an invoke
# must not give up on its own before the server does.
_INVOKE_READ_TIMEOUT_S = 960.0
_DEFAULT_TIMEOUT = httpx.Timeout(60.0, connect=10.0)


class ClientSettings(BaseSettings):
    """Where the server is and how to authenticate: `SANDLOT_URL`, `SANDLOT_API_KEY`, ..."""

    model_config = SettingsConfigDict(env_prefix="SANDLOT_", extra="ignore")

    url: str = DEFAULT_URL
    api_key: str | None = None
    data_dir: Path = Field(
        default=Path(".sandlot"),
        description="The server's data dir; its admin.key is used when no key is given.",
    )

    def resolved_api_key(self) -> str | None:
        """The explicit key, else the admin key a local server wrote into its data dir."""
        if self.api_key:
            return self.api_key
        path = self.data_dir / "admin.key"
        try:
            return path.read_text(encoding="utf-8").strip() or None
        except OSError:
            return None


class ClientError(Exception):
    """Root of the errors this client raises."""


class ServerUnreachable(ClientError):
    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"the Sandlot server at {url} is not reachable: {reason}")
        self.url = url
        self.reason = reason


class ApiError(ClientError):
    """The server answered `{"error": name, "detail": {...}}` with an error status."""

    def __init__(
        self,
        status: int,
        name: str,
        detail: Mapping[str, Any],
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.status = status
        self.name = name
        self.detail = dict(detail)
        self.headers = dict(headers or {})
        super().__init__(f"{name} ({status}): {self.message}")

    @property
    def message(self) -> str:
        return str(self.detail.get("message", ""))

    @property
    def is_function_failure(self) -> bool:
        return self.name in FUNCTION_FAILURES

    @property
    def invocation_id(self) -> str | None:
        value = self.detail.get("invocation_id") or self.headers.get("x-sandlot-invocation-id")
        return str(value) if value else None

    @classmethod
    def from_response(cls, response: httpx.Response) -> ApiError:
        headers = {k.lower(): v for k, v in response.headers.items()}
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict) and isinstance(body.get("error"), str):
            detail = body.get("detail")
            if not isinstance(detail, dict):
                detail = {"message": "" if detail is None else str(detail)}
            return cls(response.status_code, body["error"], detail, headers)
        # Not our error shape: a proxy in between, or not a Sandlot server at all.
        text = response.text.strip()[:500] or response.reason_phrase
        return cls(response.status_code, "HTTPError", {"message": text}, headers)


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

    @classmethod
    def from_response(cls, response: httpx.Response) -> InvokeResult:
        h = response.headers
        cold = h.get("x-sandlot-cold-start")
        return cls(
            result=response.json() if response.content else None,
            invocation_id=h.get("x-sandlot-invocation-id"),
            version=_int_or_none(h.get("x-sandlot-version")),
            cold_start=None if cold is None else cold.strip().lower() == "true",
            duration_ms=_float_or_none(h.get("x-sandlot-duration-ms")),
            server_timing=h.get("server-timing"),
            headers=dict(h.items()),
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

    def fields(self) -> JSON:
        given = {k: v for k, v in asdict(self).items() if v is not None}
        if "env" in given:
            given["env"] = dict(given["env"])
        return given


def _multipart_form(fields: JSON) -> dict[str, str]:
    # Multipart fields are strings; `env` travels as a JSON object string per the contract.
    return {k: json.dumps(v) if isinstance(v, dict) else str(v) for k, v in fields.items()}


class SandlotClient:
    """A synchronous client of one Sandlot server. Use it as a context manager or `close()` it.

    `http_client` lets callers bring their own `httpx.Client` (for example one bound to an
    in-process app); its base URL must be the server's root.
    """

    def __init__(
        self,
        url: str = DEFAULT_URL,
        api_key: str | None = None,
        *,
        timeout: httpx.Timeout | float = _DEFAULT_TIMEOUT,
        http_client: httpx.Client | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self._auth = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._owns_http = http_client is None
        self._http = http_client or httpx.Client(
            base_url=self.url, timeout=timeout, headers={"User-Agent": f"sandlot/{__version__}"}
        )

    @classmethod
    def from_settings(cls, settings: ClientSettings | None = None) -> SandlotClient:
        settings = settings or ClientSettings()
        return cls(settings.url, settings.resolved_api_key())

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> SandlotClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- transport ---------------------------------------------------------------------------

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(
                method,
                f"/api/v1{path}",
                headers={**self._auth, **kwargs.pop("headers", {})},
                **kwargs,
            )
        except httpx.ConnectError as exc:
            raise ServerUnreachable(self.url, str(exc) or "connection refused") from exc
        except httpx.TimeoutException as exc:
            raise ServerUnreachable(self.url, f"no answer in time ({type(exc).__name__})") from exc
        except httpx.TransportError as exc:
            raise ServerUnreachable(self.url, f"{type(exc).__name__}: {exc}") from exc
        if response.is_error:
            raise ApiError.from_response(response)
        return response

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        return self._request(method, path, **kwargs).json()

    # -- functions ---------------------------------------------------------------------------

    def create_function(
        self, name: str, zip_bytes: bytes, config: FunctionConfig | None = None
    ) -> JSON:
        form = _multipart_form({"name": name, **(config or FunctionConfig()).fields()})
        files = {"code": ("code.zip", zip_bytes, "application/zip")}
        result: JSON = self._json("POST", "/functions", data=form, files=files)
        return result

    def update_function(
        self, name: str, zip_bytes: bytes | None = None, config: FunctionConfig | None = None
    ) -> JSON:
        """Make a new version; fields left out keep the latest version's values."""
        fields = (config or FunctionConfig()).fields()
        path = f"/functions/{name}"
        if zip_bytes is None:
            # Without a file a form would go out url-encoded, which the contract does not
            # accept; JSON is its other accepted body.
            result: JSON = self._json("PUT", path, json=fields)
        else:
            files = {"code": ("code.zip", zip_bytes, "application/zip")}
            result = self._json("PUT", path, data=_multipart_form(fields), files=files)
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
        path = f"/api/v1/functions/{name}/versions/{number}/build-log"
        try:
            with self._http.stream(
                "GET",
                path,
                params={"follow": "true"},
                headers=self._auth,
                timeout=httpx.Timeout(60.0, read=None),
            ) as response:
                if response.is_error:
                    response.read()
                    raise ApiError.from_response(response)
                yield from _server_sent_events(response.iter_lines())
        except httpx.TransportError as exc:
            raise ServerUnreachable(self.url, f"{type(exc).__name__}: {exc}") from exc

    def download_code(self, name: str, number: int) -> bytes:
        return self._request("GET", f"/functions/{name}/versions/{number}/code").content

    # -- invocations -------------------------------------------------------------------------

    def invoke(self, name: str, event: Any = None, version: int | None = None) -> InvokeResult:
        """Call the function. `event` is raw JSON bytes, or any JSON-serialisable value.

        A function failure raises `ApiError` whose `is_function_failure` is true.
        """
        body = event if isinstance(event, bytes) else json.dumps(event).encode()
        params = {"version": version} if version is not None else None
        timeout = httpx.Timeout(_INVOKE_READ_TIMEOUT_S, connect=10.0)
        response = self._request(
            "POST",
            f"/functions/{name}/invoke",
            content=body,
            params=params,
            headers={"Content-Type": "application/json"},
            timeout=timeout,
        )
        return InvokeResult.from_response(response)

    def list_invocations(
        self,
        function: str | None = None,
        state: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
        after: str | None = None,
    ) -> JSON:
        """One page, newest first: `{"items": [...], "next_cursor": str | None}`; with
        `after` (an invocation id), oldest first from just after it."""
        query = {
            "function": function,
            "state": state,
            "limit": limit,
            "cursor": cursor,
            "after": after,
        }
        params = {k: v for k, v in query.items() if v is not None}
        result: JSON = self._json("GET", "/invocations", params=params)
        return result

    def get_invocation(self, invocation_id: str) -> JSON:
        result: JSON = self._json("GET", f"/invocations/{invocation_id}")
        return result

    def get_invocation_logs(self, invocation_id: str) -> str:
        return self._request("GET", f"/invocations/{invocation_id}/logs").text

    # -- API keys ----------------------------------------------------------------------------

    def create_key(self, name: str, role: str) -> JSON:
        """The answer holds the secret `key`, which the server shows this once only."""
        result: JSON = self._json("POST", "/keys", json={"name": name, "role": role})
        return result

    def list_keys(self) -> list[JSON]:
        items: list[JSON] = self._json("GET", "/keys")["items"]
        return items

    def revoke_key(self, key_id: str) -> None:
        self._request("DELETE", f"/keys/{key_id}")

    # -- environments ------------------------------------------------------------------------

    def list_environments(self) -> list[JSON]:
        items: list[JSON] = self._json("GET", "/environments")["items"]
        return items

    def prune_environments(self, grace_s: float | None = None) -> list[str]:
        params = {} if grace_s is None else {"grace_s": grace_s}
        removed: list[str] = self._json("POST", "/environments/prune", params=params)["removed"]
        return removed


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
