"""Lambda's error shape for every route of the Lambda API, so that boto3 and the AWS CLI raise
their own exception classes (`ResourceNotFoundException`, ...).

An error answers with Lambda's HTTP status, the header `x-amzn-ErrorType: <Name>` (which
botocore reads first) and the body `{"Type": "User", "message": "..."}`; never Sandlot's
`{"error": ...}` shape and never a traceback. `LambdaRoute` maps every error a route or its
dependencies raise (Sandlot's, request validation, anything unexpected) in one place.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError, ResponseValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException

from sandlot.domain import errors as e
from sandlot.domain.sigv4 import SignatureError

log = logging.getLogger(__name__)

ERROR_TYPE_HEADER = "x-amzn-ErrorType"


class LambdaError(e.SandlotError):
    """An error that only the Lambda API has, named as Lambda names it (for what Sandlot's
    services would never refuse, e.g. an S3 code location)."""

    def __init__(self, message: str, kind: str = "InvalidParameterValueException") -> None:
        super().__init__(message)
        self.kind = kind


# Most specific first: the first class an error is an instance of decides.
NAMES: list[tuple[type[e.SandlotError], str, int]] = [
    (e.EventTooLarge, "RequestTooLargeException", 413),
    (e.PayloadTooLarge, "RequestTooLargeException", 413),
    (e.InvalidInput, "InvalidParameterValueException", 400),
    (e.VersionConflict, "PreconditionFailedException", 412),
    (e.NotFound, "ResourceNotFoundException", 404),
    (e.Conflict, "ResourceConflictException", 409),
    (e.Unauthenticated, "UnrecognizedClientException", 403),
    (e.PermissionDenied, "AccessDeniedException", 403),
    (e.TooManyRequests, "TooManyRequestsException", 429),
    (e.QuotaExceeded, "TooManyRequestsException", 429),
    # 503, not Lambda's 500: the server is draining, starting or out of a resource, which a
    # retry later may find fixed (botocore retries a 503 as it does a 500).
    (e.ServiceUnavailable, "ServiceException", 503),
    (e.InsufficientStorage, "ServiceException", 503),
]

# Statuses of Lambda's own names, for errors named by `kind` (signatures, LambdaError).
STATUS_OF: dict[str, int] = {
    "InvalidParameterValueException": 400,
    "InvalidRequestContentException": 400,
    "UnsupportedMediaTypeException": 415,
    "ResourceNotFoundException": 404,
    "RequestTooLargeException": 413,
    "MissingAuthenticationTokenException": 403,
    "IncompleteSignatureException": 403,
    "InvalidSignatureException": 403,
    "UnrecognizedClientException": 403,
    "AccessDeniedException": 403,
    "UnknownOperationException": 404,
}

# Lambda's model spells these with `Message`; the others with `message`.
_CAPITAL_MESSAGE = {"ResourceNotFoundException", "ServiceException"}


def name_and_status(error: e.SandlotError) -> tuple[str, int]:
    if isinstance(error, SignatureError | LambdaError):
        return error.kind, STATUS_OF.get(error.kind, 400)
    for cls, name, status in NAMES:
        if isinstance(error, cls):
            return name, status
    return "ServiceException", 500


def lambda_error(
    name: str,
    message: str,
    status: int,
    *,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    key = "Message" if name in _CAPITAL_MESSAGE else "message"
    kind = "Service" if status >= 500 else "User"
    body = {"Type": kind, key: message, **extra}
    return JSONResponse(
        body, status_code=status, headers={ERROR_TYPE_HEADER: name, **(headers or {})}
    )


def sandlot_error(error: e.SandlotError) -> JSONResponse:
    name, status = name_and_status(error)
    retry_after = getattr(error, "retry_after_s", None)
    if status == 429 and retry_after is not None:
        return lambda_error(
            name,
            error.message,
            status,
            headers={"Retry-After": str(retry_after)},
            retryAfterSeconds=str(retry_after),
            Reason=_throttle_reason(error),
        )
    return lambda_error(name, error.message, status)


def _throttle_reason(error: e.SandlotError) -> str:
    if isinstance(error, e.QuotaExceeded):
        return "CallerRateLimitExceeded"
    return "ConcurrentInvocationLimitExceeded"


def validation_error(error: RequestValidationError) -> JSONResponse:
    problems = "; ".join(
        f"{'.'.join(str(part) for part in problem['loc'] if part != 'body')}: {problem['msg']}"
        for problem in error.errors()
    )
    return lambda_error(
        "InvalidParameterValueException", f"the request is not valid: {problems}", 400
    )


class LambdaRoute(APIRoute):
    """A route whose every error takes Lambda's shape."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def handler(request: Request) -> Response:
            try:
                return await handle(request)
            except e.SandlotError as error:
                return sandlot_error(error)
            except RequestValidationError as error:
                return validation_error(error)
            except HTTPException as error:
                found = error.status_code == 404
                name = "ResourceNotFoundException" if found else "ServiceException"
                return lambda_error(name, str(error.detail), error.status_code)
            except ResponseValidationError:
                log.exception("a Lambda API answer did not match its shape")
                return lambda_error("ServiceException", "an unexpected error occurred", 500)
            except Exception:
                # A bug of ours: the traceback is for the operator's log, never the caller.
                log.exception("unhandled error in the Lambda API")
                return lambda_error("ServiceException", "an unexpected error occurred", 500)

        return handler
