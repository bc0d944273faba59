"""`LambdaPrincipal`: the caller of a Lambda API route, from its AWS Signature Version 4.

The signature covers the request as sent, so this reads what was sent: the raw path (ASGI's
`raw_path`, still percent-encoded: `my-fn%3Aprod` must stay so), the raw query, every value
of every header, and the body.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from sandlot.api.uploads import read_body
from sandlot.domain.models import Principal
from sandlot.domain.sigv4 import SignedRequest
from sandlot.services.lambda_auth import LambdaAuth
from sandlot.services.runtime import Runtime


def lambda_auth(request: Request) -> LambdaAuth:
    auth: LambdaAuth = request.app.state.lambda_auth
    return auth


# A zip of SANDLOT_MAX_UPLOAD_BYTES, base64 in JSON (4/3 of it), and room for the rest.
_JSON_OVERHEAD = 64 * 1024


def body_limit(request: Request) -> int:
    runtime: Runtime = request.app.state.runtime
    return runtime.settings.max_upload_bytes * 4 // 3 + _JSON_OVERHEAD


def signed_body(request: Request) -> bytes:
    """The body that `LambdaPrincipal` read and verified (a route reads no other)."""
    body: bytes = request.state.lambda_body
    return body


async def signed_request(request: Request) -> SignedRequest:
    body = await read_body(request, body_limit(request))
    request.state.lambda_body = body
    headers: dict[str, list[str]] = {}
    for name, value in request.scope["headers"]:
        headers.setdefault(name.decode("latin-1").lower(), []).append(value.decode("latin-1"))
    raw_path = request.scope.get("raw_path") or request.scope["path"].encode()
    return SignedRequest(
        method=request.method,
        raw_path=raw_path.decode("latin-1").partition("?")[0],
        raw_query=request.scope.get("query_string", b"").decode("latin-1"),
        headers=headers,
        body=body,
    )


async def get_lambda_principal(request: Request) -> Principal:
    client = request.client.host if request.client else None
    return await lambda_auth(request).principal(await signed_request(request), client)


LambdaPrincipal = Annotated[Principal, Depends(get_lambda_principal)]
