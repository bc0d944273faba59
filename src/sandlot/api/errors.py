"""The one JSON error shape, `{"error": "<Name>", "detail": {...}}`, and the one place that
maps Sandlot's errors to HTTP statuses."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from sandlot.domain import errors as e

log = logging.getLogger(__name__)

# Most specific first: the first class an error is an instance of decides its status.
STATUS: list[tuple[type[e.SandlotError], int]] = [
    (e.EventTooLarge, 413),
    (e.PayloadTooLarge, 413),
    (e.InvalidInput, 400),
    (e.Unauthenticated, 401),
    (e.PermissionDenied, 403),
    (e.NotFound, 404),
    (e.Conflict, 409),
    (e.TooManyRequests, 429),
    (e.RequestTimedOut, 408),
    (e.FunctionTimedOut, 504),
    (e.FunctionOutOfMemory, 507),
    (e.FunctionFailure, 502),
    (e.ServiceUnavailable, 503),
    (e.InsufficientStorage, 507),
]

FUNCTION_FAILURE_STATUS: dict[str, int] = {
    "FunctionError": 502,
    "FunctionTimedOut": 504,
    "FunctionOutOfMemory": 507,
    "FunctionCrashed": 502,
    "FunctionResourceLimit": 502,
    "FunctionResultInvalid": 502,
    # The worker running the call stopped answering after the call started (killed, lost its
    # network): never retried, since the function may have run (README "More machines").
    "WorkerLost": 502,
    # A call cancelled because the server shut down past its grace period.
    "ServiceUnavailable": 503,
}


def status_for(error: e.SandlotError) -> int:
    if isinstance(error, e.QuotaExceeded):  # a rate can be waited out; a count cannot
        return 429 if error.retry_after_s is not None else 403
    for cls, status in STATUS:
        if isinstance(error, cls):
            return status
    return 500


def error_body(name: str, detail: Any) -> dict[str, Any]:
    return {"error": name, "detail": detail}


def error_response(
    name: str, detail: Any, status: int, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(error_body(name, detail), status_code=status, headers=headers)


def error_headers(error: e.SandlotError) -> dict[str, str]:
    """The headers an error's answer carries besides its body."""
    headers: dict[str, str] = {}
    if isinstance(error, e.Unauthenticated):
        headers["WWW-Authenticate"] = "Bearer"
    if isinstance(error, e.TooManyRequests | e.TooManyConnections | e.NoWorkerAvailable):
        headers["Retry-After"] = str(error.retry_after_s)
    if isinstance(error, e.QuotaExceeded) and error.retry_after_s is not None:
        headers["Retry-After"] = str(error.retry_after_s)
    return headers


def sandlot_error_response(error: e.SandlotError) -> JSONResponse:
    return error_response(error.name, error.detail(), status_for(error), error_headers(error))


async def _on_sandlot_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, e.SandlotError)
    return sandlot_error_response(exc)


async def _on_validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = [
        {"field": ".".join(str(part) for part in err["loc"]), "message": err["msg"]}
        for err in exc.errors()
    ]
    return error_response(
        "ValidationError", {"message": "the request is not valid", "problems": problems}, 422
    )


async def _on_http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    names = {404: "NotFound", 405: "MethodNotAllowed"}
    name = names.get(exc.status_code, "HTTPError")
    headers = dict(exc.headers or {})
    if exc.status_code == 405 and "Allow" in headers:  # a route's, not a mounted app's
        headers["Allow"] = ", ".join(_methods_at(request))
    return error_response(name, {"message": str(exc.detail)}, exc.status_code, headers)


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def _methods_at(request: Request) -> list[str]:
    """Every method the path answers. Each FastAPI route has one method, and Starlette's 405
    names only those of the first route that matched the path, so ask every route."""
    return [
        method
        for method in _METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL
            for route in request.app.router.routes
        )
    ]


async def _on_unexpected(_request: Request, exc: Exception) -> JSONResponse:
    # A bug of ours: log the traceback for the operator, never show it to the caller.
    log.error("unhandled error", exc_info=exc)
    return error_response("InternalError", {"message": "an unexpected error occurred"}, 500)


def install(app: FastAPI) -> None:
    app.add_exception_handler(e.SandlotError, _on_sandlot_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(Exception, _on_unexpected)
