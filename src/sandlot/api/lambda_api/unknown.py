"""Lambda API: whatever path or method under its API dates no operation serves. Answered in
Lambda's shape (as the SDKs expect of every error there), not Sandlot's: an operation that
Sandlot does not serve (layers, event source mappings, ...) is named as unknown."""

from __future__ import annotations

from fastapi import APIRouter, Request

from sandlot.api.lambda_api.errors import LambdaError, LambdaRoute

# The first path segment of every operation in Lambda's service model (botocore's
# lambda/2015-03-31/service-2.json): each operation carries the date it was added.
API_DATES = (
    *("2014-11-13", "2015-03-31", "2016-08-19", "2017-03-31", "2017-10-31", "2018-10-31"),
    *("2019-09-25", "2019-09-30", "2020-04-22", "2020-06-30", "2021-07-20", "2021-10-31"),
    *("2021-11-15", "2024-08-31", "2025-11-30", "2025-12-01", "2026-07-09"),
)
_METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"]

router = APIRouter(route_class=LambdaRoute)


async def unknown_operation(request: Request) -> None:
    raise LambdaError(
        f"{request.method} {request.url.path} is not an operation of Sandlot's Lambda API "
        "(see the README's 'Coming from AWS Lambda' for what it serves)",
        kind="UnknownOperationException",
    )


for _date in API_DATES:
    router.add_api_route(f"/{_date}/{{rest:path}}", unknown_operation, methods=_METHODS)
