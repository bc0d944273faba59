"""A request's credentials, read the same way by FastAPI's routes and the lean invoke route."""

from __future__ import annotations

import re
from collections.abc import Mapping

from starlette.requests import Request, cookie_parser
from starlette.types import Scope

from sandlot.services.authenticator import Credentials
from sandlot.services.session_tokens import CSRF_HEADER, NAMESPACE_HEADER, SESSION_COOKIE

# A namespace name, as the header may carry it (the OpenAPI document says so too).
NAMESPACE_PATTERN = r"^[a-z][a-z0-9-]{0,62}$"
_NAMESPACE_RE = re.compile(NAMESPACE_PATTERN)


def namespace_problem(credentials: Credentials) -> dict[str, str] | None:
    """What is wrong with the request's X-Sandlot-Namespace header, in the shape of a
    validation problem; None when it is absent or well-formed."""
    if credentials.namespace is None or _NAMESPACE_RE.fullmatch(credentials.namespace):
        return None
    return {
        "field": f"header.{NAMESPACE_HEADER}",
        "message": f"String should match pattern '{NAMESPACE_PATTERN}'",
    }


def request_credentials(request: Request) -> Credentials:
    client = request.client.host if request.client else None
    return _credentials(request.headers, request.cookies, request.method, client)


def scope_credentials(scope: Scope) -> Credentials:
    """The same, from a raw ASGI scope (header names arrive lowercased)."""
    headers = {key.decode("latin-1"): value.decode("latin-1") for key, value in scope["headers"]}
    cookies = cookie_parser(headers.get("cookie", ""))
    client = scope.get("client")
    return _credentials(headers, cookies, scope["method"], client[0] if client else None)


def _credentials(
    headers: Mapping[str, str], cookies: Mapping[str, str], method: str, client: str | None
) -> Credentials:
    return Credentials(
        authorization=headers.get("authorization"),
        session_token=cookies.get(SESSION_COOKIE) or None,
        csrf_token=headers.get(CSRF_HEADER.lower()),
        namespace=headers.get(NAMESPACE_HEADER.lower()),
        method=method,
        address=client,
    )


def is_https(request: Request) -> bool:
    """Whether the request came over HTTPS. Behind a proxy, Uvicorn sets the scheme from
    X-Forwarded-Proto when the proxy's address is in its `forwarded_allow_ips` (by default
    only 127.0.0.1), so a client elsewhere cannot claim it."""
    return request.url.scheme == "https"
