"""Function URLs in AWS's terms: an HTTP request as an HTTP API payload 2.0 event, a
handler's answer as an HTTP response, and the CORS rules of a URL's configuration.

Pure functions, no I/O: the lean route (api/url_path.py) hands in what it read off the
socket, so the same translation is tested without a server. The shapes follow AWS's
documented payload format 2.0, so a handler written for Lambda function URLs or API Gateway
HTTP APIs runs unmodified.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import unquote_plus

from sandlot.domain.aliases import LATEST
from sandlot.domain.errors import FunctionUrlResponseInvalid, InvalidFunctionUrl

URL_AUTH_TYPES = ("none", "key")
CORS_MAX_AGE_S = 86_400
CORS_LIST_MAX = 100
CORS_ITEM_MAX = 256
HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "*")
_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")  # an HTTP header name (RFC 9110 token)
_ORIGIN = re.compile(r"^(\*|https?://[^/\s]+)$")


@dataclass(frozen=True)
class Cors:
    """A URL's CORS settings; empty `allow_origins` means CORS is off (no headers added, and
    an OPTIONS request goes to the function like any other)."""

    allow_origins: tuple[str, ...] = ()
    allow_methods: tuple[str, ...] = ()
    allow_headers: tuple[str, ...] = ()
    expose_headers: tuple[str, ...] = ()
    allow_credentials: bool = False
    max_age: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "allow_origins": list(self.allow_origins),
            "allow_methods": list(self.allow_methods),
            "allow_headers": list(self.allow_headers),
            "expose_headers": list(self.expose_headers),
            "allow_credentials": self.allow_credentials,
            "max_age": self.max_age,
        }


@dataclass(frozen=True)
class UrlConfig:
    auth: str = "key"
    cors: Cors = field(default_factory=Cors)


def check_url_config(auth: str, cors: dict[str, Any] | None) -> UrlConfig:
    """A URL configuration from the caller's values, or `InvalidFunctionUrl` saying what is
    wrong."""
    if auth not in URL_AUTH_TYPES:
        raise InvalidFunctionUrl(f"auth is 'none' or 'key', not {auth!r}", field="auth")
    given = cors or {}
    origins = _strings(given, "allow_origins", lambda item: bool(_ORIGIN.match(item)))
    methods = _strings(given, "allow_methods", lambda item: item.upper() in HTTP_METHODS)
    allow = _strings(given, "allow_headers", lambda item: item == "*" or bool(_TOKEN.match(item)))
    expose = _strings(given, "expose_headers", lambda item: item == "*" or bool(_TOKEN.match(item)))
    credentials = bool(given.get("allow_credentials", False))
    if credentials and "*" in origins:
        # Browsers refuse credentials with a wildcard origin; say so now, not in the console.
        raise InvalidFunctionUrl(
            "allow_credentials needs explicit origins, not '*'", field="cors.allow_origins"
        )
    max_age = given.get("max_age")
    if max_age is not None and (
        not isinstance(max_age, int)
        or isinstance(max_age, bool)
        or not 0 <= max_age <= CORS_MAX_AGE_S
    ):
        raise InvalidFunctionUrl(
            f"max_age is whole seconds from 0 to {CORS_MAX_AGE_S}", field="cors.max_age"
        )
    cors_value = Cors(
        allow_origins=tuple(origins),
        allow_methods=tuple(method.upper() for method in methods),
        allow_headers=tuple(item.lower() for item in allow),
        expose_headers=tuple(item.lower() for item in expose),
        allow_credentials=credentials,
        max_age=max_age,
    )
    return UrlConfig(auth=auth, cors=cors_value)


def _strings(given: dict[str, Any], name: str, valid: Any) -> list[str]:
    values = given.get(name) or []
    if not isinstance(values, list) or len(values) > CORS_LIST_MAX:
        raise InvalidFunctionUrl(
            f"{name} is a list of at most {CORS_LIST_MAX} strings", field=f"cors.{name}"
        )
    for item in values:
        if not isinstance(item, str) or not 0 < len(item) <= CORS_ITEM_MAX or not valid(item):
            raise InvalidFunctionUrl(
                f"{name} has a value that is not valid: {item!r}", field=f"cors.{name}"
            )
    return list(dict.fromkeys(values))


def cors_from_dict(value: dict[str, Any] | None) -> Cors:
    """A stored configuration back (it was checked when it was written)."""
    if not value:
        return Cors()
    return Cors(
        allow_origins=tuple(value.get("allow_origins") or ()),
        allow_methods=tuple(value.get("allow_methods") or ()),
        allow_headers=tuple(value.get("allow_headers") or ()),
        expose_headers=tuple(value.get("expose_headers") or ()),
        allow_credentials=bool(value.get("allow_credentials")),
        max_age=value.get("max_age"),
    )


# -- CORS --------------------------------------------------------------------------------------


def _allowed_origin(cors: Cors, origin: str | None) -> str | None:
    """What Access-Control-Allow-Origin says for this origin, None if it is not allowed."""
    if origin is None or not cors.allow_origins:
        return None
    if origin in cors.allow_origins:
        return origin
    if "*" in cors.allow_origins:
        return "*"
    return None


def is_preflight(cors: Cors, method: str, headers: dict[str, str]) -> bool:
    """A browser's CORS preflight, which the URL answers itself when CORS is on."""
    return (
        bool(cors.allow_origins)
        and method == "OPTIONS"
        and "origin" in headers
        and "access-control-request-method" in headers
    )


def preflight_headers(cors: Cors, headers: dict[str, str]) -> list[tuple[str, str]]:
    """The answer's headers; without Allow-Origin (a refusal) when the origin is not allowed."""
    allowed = _allowed_origin(cors, headers.get("origin"))
    out = [("vary", "Origin")]
    if allowed is None:
        return out
    out.append(("access-control-allow-origin", allowed))
    if cors.allow_methods:
        out.append(("access-control-allow-methods", ", ".join(cors.allow_methods)))
    if cors.allow_headers:
        out.append(("access-control-allow-headers", ", ".join(cors.allow_headers)))
    if cors.allow_credentials:
        out.append(("access-control-allow-credentials", "true"))
    if cors.max_age is not None:
        out.append(("access-control-max-age", str(cors.max_age)))
    return out


def response_cors_headers(cors: Cors, origin: str | None) -> list[tuple[str, str]]:
    """The CORS headers added to an actual answer (the function's own of those names lose)."""
    allowed = _allowed_origin(cors, origin)
    if allowed is None:
        return [("vary", "Origin")] if cors.allow_origins else []
    out = [("access-control-allow-origin", allowed), ("vary", "Origin")]
    if cors.expose_headers:
        out.append(("access-control-expose-headers", ", ".join(cors.expose_headers)))
    if cors.allow_credentials:
        out.append(("access-control-allow-credentials", "true"))
    return out


# -- the request as an event -------------------------------------------------------------------

# Bodies of these types reach the function as text; everything else as base64.
_TEXT_TYPES = (
    "text/",
    "application/json",
    "application/xml",
    "application/javascript",
    "application/x-www-form-urlencoded",
    "application/graphql",
)


@dataclass(frozen=True)
class HttpRequest:
    """What the route read: the path inside the function's URL (from "/"), the raw query
    string, the header pairs as sent (names lower-case), the body."""

    method: str
    raw_path: str
    raw_query: str
    headers: list[tuple[str, str]]
    body: bytes
    source_ip: str
    protocol: str
    request_id: str
    account_id: str
    api_id: str
    received_at: float  # seconds since the epoch (time.time(): cheaper than a datetime)


def _is_text(content_type: str | None, body: bytes) -> bool:
    if content_type is not None:
        kind = content_type.split(";", 1)[0].strip().lower()
        textual = kind.startswith(_TEXT_TYPES) or kind.endswith(("+json", "+xml"))
        if not textual:
            return False
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _joined_headers(pairs: list[tuple[str, str]]) -> tuple[dict[str, str], list[str]]:
    """Headers with repeated ones comma-joined; the cookies apart, as AWS hands them over."""
    headers: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in pairs:
        if name == "cookie":
            cookies.extend(part.strip() for part in value.split(";") if part.strip())
            continue
        headers[name] = f"{headers[name]},{value}" if name in headers else value
    return headers, cookies


def _query_parameters(raw_query: str) -> dict[str, str]:
    params: dict[str, str] = {}
    for part in raw_query.split("&"):
        if not part:
            continue
        key, _, value = part.partition("=")
        key, value = unquote_plus(key), unquote_plus(value)
        params[key] = f"{params[key]},{value}" if key in params else value
    return params


_clock: list[tuple[int, str]] = [(-1, "")]


def _clock_text(second: int) -> str:
    """AWS's `time` (`12/Mar/2020:19:03:58 +0000`), formatted once per second: strftime costs
    more than the rest of the event's fields together."""
    cached_second, text = _clock[0]
    if cached_second != second:
        text = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(second))
        _clock[0] = (second, text)
    return text


def http_event(request: HttpRequest) -> dict[str, Any]:
    """The event of AWS's HTTP API payload format 2.0."""
    headers, cookies = _joined_headers(request.headers)
    host = headers.get("host", "")
    domain = host.split(":", 1)[0]
    epoch_ms = int(request.received_at * 1000)
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": request.raw_path,
        "rawQueryString": request.raw_query,
    }
    if cookies:
        event["cookies"] = cookies
    event["headers"] = headers
    if request.raw_query:
        event["queryStringParameters"] = _query_parameters(request.raw_query)
    event["requestContext"] = {
        "accountId": request.account_id,
        "apiId": request.api_id,
        "domainName": domain,
        "domainPrefix": domain.split(".", 1)[0],
        "http": {
            "method": request.method,
            "path": request.raw_path,
            "protocol": request.protocol,
            "sourceIp": request.source_ip,
            "userAgent": headers.get("user-agent", ""),
        },
        "requestId": request.request_id,
        "routeKey": "$default",
        "stage": "$default",
        "time": _clock_text(int(request.received_at)),
        "timeEpoch": epoch_ms,
    }
    if request.body:
        if _is_text(headers.get("content-type"), request.body):
            event["body"] = request.body.decode("utf-8")
            event["isBase64Encoded"] = False
        else:
            event["body"] = base64.b64encode(request.body).decode("ascii")
            event["isBase64Encoded"] = True
    else:
        event["isBase64Encoded"] = False
    return event


def event_bytes(event: dict[str, Any]) -> bytes:
    return json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode()


# -- the answer as a response ------------------------------------------------------------------


@dataclass(frozen=True)
class HttpAnswer:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


_JSON = ("content-type", "application/json")


def http_answer(result_json: bytes | None) -> HttpAnswer:
    """Lambda's rule: a dict with `statusCode` is the response; any other value is a JSON
    200 of that value. `FunctionUrlResponseInvalid` when a response dict is malformed."""
    raw = result_json or b"null"
    # Only an object can be a response: skip parsing anything else (the common plain value).
    if not raw.lstrip().startswith(b"{") or b'"statusCode"' not in raw:
        return HttpAnswer(200, [_JSON], raw)
    value = json.loads(raw)
    if not isinstance(value, dict) or "statusCode" not in value:
        return HttpAnswer(200, [_JSON], raw)
    return _structured(value)


def _structured(value: dict[str, Any]) -> HttpAnswer:
    status = value["statusCode"]
    if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
        raise FunctionUrlResponseInvalid(
            f"statusCode is an HTTP status (100 to 599), not {status!r}"
        )
    headers = _answer_headers(value.get("headers"))
    for cookie in _answer_cookies(value.get("cookies")):
        headers.append(("set-cookie", cookie))
    body = _answer_body(value.get("body"), value.get("isBase64Encoded", False))
    if not any(name == "content-type" for name, _ in headers):
        headers.append(_JSON)  # AWS's default too, for a response that names no type
    return HttpAnswer(status, headers, body)


def _answer_headers(given: Any) -> list[tuple[str, str]]:
    if given is None:
        return []
    if not isinstance(given, dict):
        raise FunctionUrlResponseInvalid("headers is an object of header names to values")
    headers = []
    for name, value in given.items():
        if not _TOKEN.match(name):
            raise FunctionUrlResponseInvalid(f"not a header name: {name!r}")
        text = value if isinstance(value, str) else json.dumps(value)
        if "\r" in text or "\n" in text:
            raise FunctionUrlResponseInvalid(f"header {name!r} has a line break in its value")
        headers.append((name.lower(), text))
    return headers


def _answer_cookies(given: Any) -> list[str]:
    if given is None:
        return []
    if not isinstance(given, list) or not all(isinstance(item, str) for item in given):
        raise FunctionUrlResponseInvalid("cookies is a list of Set-Cookie strings")
    if any("\r" in item or "\n" in item for item in given):
        raise FunctionUrlResponseInvalid("a cookie has a line break in it")
    return list(given)


def _answer_body(body: Any, is_base64: Any) -> bytes:
    if body is None:
        return b""
    if not isinstance(body, str):
        return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    if is_base64 is True:
        try:
            return base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise FunctionUrlResponseInvalid(
                "isBase64Encoded is true but the body is not base64"
            ) from None
    return body.encode("utf-8")


@dataclass(frozen=True)
class FunctionUrl:
    """A function's stored URL configuration."""

    function_id: str
    config: UrlConfig
    created_at: datetime
    updated_at: datetime
    updated_by: str
    alias: str = LATEST  # the alias it serves (`latest`: the unqualified URL)


@dataclass(frozen=True)
class UrlTarget:
    """What the public route needs to serve `/fn/{namespace}/{function}`: whose function it
    is and how its URL is configured."""

    namespace_id: str
    namespace: str
    function_id: str
    function_name: str
    config: UrlConfig
    alias: str = LATEST  # the alias it serves; its split is honoured, routing key and all

    @property
    def called(self) -> str:
        """The function as the URL names it: `hello` or `hello:prod`."""
        if self.alias == LATEST:
            return self.function_name
        return f"{self.function_name}:{self.alias}"
