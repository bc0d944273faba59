"""AWS Lambda's own API (the `2015-03-31` REST paths), beside /api/v1, for boto3 and the AWS
CLI. Every operation maps onto Sandlot's services, so the namespace and role checks are the
same as /api/v1's; requests are signed with AWS Signature Version 4 (`auth`) and errors take
Lambda's names and shape (`errors`), so that the SDKs raise their own exception classes.
Left out of the OpenAPI document: its contract is AWS's, not Sandlot's.
"""

from __future__ import annotations

from fastapi import APIRouter

from sandlot.api.lambda_api import aliases, concurrency, functions, invoke, unknown, versions

PREFIX = "/2015-03-31"


def build_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)
    for part in (functions, versions, aliases, invoke):
        router.include_router(part.router, prefix=PREFIX)
    # The concurrency operations came later: their paths carry their own API dates.
    router.include_router(concurrency.router)
    router.include_router(unknown.router)  # last: only what no operation above matched
    return router
