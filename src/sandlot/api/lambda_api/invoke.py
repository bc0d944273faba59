"""Lambda API: Invoke (RequestResponse, Event, DryRun).

Each kind goes through the service `/api/v1/functions/{name}/invoke` uses (authorization,
quotas, the journal and records, metrics): a synchronous call through
`services.invocations.invoke`, an `Event` through the same durable accept as
`Prefer: respond-async` (a committed `queued` row before the 202). Only the answer is
Lambda's: a function's failure is a 200 with `X-Amz-Function-Error: Unhandled` and Lambda's
error document, and `X-Amz-Log-Type: Tail` returns the end of the call's log.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response

from sandlot.api.async_accept import accept_call
from sandlot.api.deps import RuntimeDep
from sandlot.api.invoke_path import result_headers
from sandlot.api.lambda_api.auth import LambdaPrincipal, signed_body
from sandlot.api.lambda_api.errors import LambdaRoute
from sandlot.api.lambda_api.qualifiers import LAMBDA_LATEST, FunctionName, sandlot_call, target_of
from sandlot.api.lambda_api.shapes import FunctionRef
from sandlot.domain.actions import Action
from sandlot.domain.errors import InvalidInput, ServiceUnavailable
from sandlot.services import invocations as service
from sandlot.services.authz import authorize_function
from sandlot.services.invocations import check_size

router = APIRouter(route_class=LambdaRoute)

INVOCATION_TYPES = ("RequestResponse", "Event", "DryRun")
LOG_TYPES = ("None", "Tail")
# Lambda's bounds: the base64 text of a client context, and the log tail it returns.
CLIENT_CONTEXT_MAX_BYTES = 3583
LOG_TAIL_BYTES = 4096
# The error types Lambda's runtime names for failures that are not the handler's exception.
_RUNTIME_ERROR_TYPES = {
    "FunctionTimedOut": "Sandbox.Timedout",
    "FunctionOutOfMemory": "Runtime.OutOfMemory",
    "FunctionCrashed": "Runtime.ExitError",
    "FunctionResourceLimit": "Runtime.ExitError",
    "FunctionResultInvalid": "Runtime.MarshalError",
}

InvocationType = Annotated[str, Header(alias="X-Amz-Invocation-Type")]
LogType = Annotated[str, Header(alias="X-Amz-Log-Type")]
ClientContext = Annotated[str | None, Header(alias="X-Amz-Client-Context")]
RoutingKey = Annotated[str | None, Header(alias="X-Sandlot-Routing-Key")]
Qualifier = Annotated[str | None, Query(alias="Qualifier", max_length=128)]


@router.post("/functions/{FunctionName}/invocations")
async def invoke(
    function_name: FunctionName,
    request: Request,
    runtime: RuntimeDep,
    principal: LambdaPrincipal,
    qualifier: Qualifier = None,
    invocation_type: InvocationType = "RequestResponse",
    log_type: LogType = "None",
    client_context: ClientContext = None,
    routing_key: RoutingKey = None,
) -> Response:
    _check_choice("X-Amz-Invocation-Type", invocation_type, INVOCATION_TYPES)
    _check_choice("X-Amz-Log-Type", log_type, LOG_TYPES)
    target = target_of(principal, runtime.settings.aws_region, function_name, qualifier)
    name, version = sandlot_call(target)
    body = signed_body(request)
    if invocation_type == "DryRun":
        # Lambda's dry run: the function exists, the caller may invoke it, the event fits.
        authorize_function(principal, Action.FUNCTION_INVOKE, target.name)
        check_size(body, runtime.invoker.max_event_bytes)
        await runtime.catalog.target(principal, name, version, routing_key)
        return Response(status_code=204)
    if invocation_type == "Event":
        # Lambda hands a client context to synchronous calls only; so does this.
        status, headers, _ = await accept_call(
            runtime=runtime,
            principal=principal,
            name=name,
            version=version,
            body=body,
            idempotency_key=None,
            routing_key=routing_key,
        )
        headers["x-amzn-RequestId"] = headers["X-Sandlot-Invocation-Id"]
        headers.pop("Preference-Applied", None)
        return Response(status_code=status, headers=headers)
    invoked = await service.invoke(
        invoker=runtime.invoker,
        principal=principal,
        name=name,
        version=version,
        body=body,
        routing_key=routing_key,
        client_context=decode_client_context(client_context),
    )
    return _answer(invoked, target, tail=log_type == "Tail")


def _check_choice(header: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise InvalidInput(f"{header} is one of {', '.join(allowed)}, not {value!r}", field=header)


def decode_client_context(text: str | None) -> dict[str, Any] | None:
    """`X-Amz-Client-Context`: base64 of a JSON object, at most 3583 bytes as sent."""
    if text is None:
        return None
    if len(text) > CLIENT_CONTEXT_MAX_BYTES:
        raise InvalidInput(
            f"the client context is {len(text)} bytes; at most {CLIENT_CONTEXT_MAX_BYTES} "
            "are accepted",
            field="X-Amz-Client-Context",
        )
    try:
        decoded = json.loads(base64.b64decode(text, validate=True))
    except (binascii.Error, ValueError) as exc:
        raise InvalidInput(
            "the client context is not base64-encoded JSON", field="X-Amz-Client-Context"
        ) from exc
    if not isinstance(decoded, dict):
        raise InvalidInput("the client context is a JSON object", field="X-Amz-Client-Context")
    return decoded


def executed_version(target: FunctionRef, invoked: service.InvokeResult) -> str:
    """As Lambda says it: `$LATEST` for an unqualified call, else the number that ran."""
    return LAMBDA_LATEST if target.is_latest else str(invoked.spec.version)


def _answer(invoked: service.InvokeResult, target: FunctionRef, *, tail: bool) -> Response:
    outcome = invoked.outcome
    executed = executed_version(target, invoked)
    headers = {
        **result_headers(invoked),
        "x-amzn-RequestId": outcome.invocation_id,
        "X-Amz-Executed-Version": executed,
    }
    if tail:
        headers["X-Amz-Log-Result"] = log_result(invoked, executed)
    error = outcome.error
    if error is None:
        body = outcome.result_json or b"null"
    elif error.kind == ServiceUnavailable.__name__:
        # Not the function's failure: the server stopped it while shutting down.
        raise ServiceUnavailable(error.message, invocation_id=outcome.invocation_id)
    else:
        headers["X-Amz-Function-Error"] = "Unhandled"
        headers["X-Sandlot-Error"] = error.kind
        body = json.dumps(lambda_error(invoked)).encode()
    return Response(body, status_code=200, media_type="application/json", headers=headers)


def lambda_error(invoked: service.InvokeResult) -> dict[str, Any]:
    """Lambda's error document: the handler's exception with its frames, or the runtime's
    words for a call that timed out, ran out of memory or whose process died."""
    error = invoked.outcome.error
    assert error is not None
    request_id, timeout_s = invoked.outcome.invocation_id, invoked.spec.timeout_s
    if error.exception_type is not None:
        return {
            "errorMessage": error.message,
            "errorType": error.exception_type,
            "requestId": request_id,
            "stackTrace": stack_frames(error.traceback or ""),
        }
    error_type = _RUNTIME_ERROR_TYPES.get(error.kind, f"Sandlot.{error.kind}")
    if error.kind == "FunctionTimedOut":
        message = f"RequestId: {request_id} Error: Task timed out after {timeout_s:.2f} seconds"
    elif error.kind == "FunctionOutOfMemory":
        message = f"RequestId: {request_id} Error: Runtime exited with error: signal: killed"
    elif error.kind == "FunctionResultInvalid":
        message = f"Unable to marshal response: {error.message}"
    else:
        message = f"RequestId: {request_id} Error: Runtime exited with error: {error.message}"
    return {"errorMessage": message, "errorType": error_type, "requestId": request_id}


def stack_frames(traceback_text: str) -> list[str]:
    """A formatted traceback as Lambda's `stackTrace`: one `  File ..., line N, in f\\n
    code\\n` entry per frame of the exception that was raised (the last block of a chain)."""
    block = traceback_text.rsplit("Traceback (most recent call last):\n", 1)[-1]
    frames: list[str] = []
    for line in block.splitlines(keepends=True):
        if line.startswith("  File "):
            frames.append(line)
        elif line.startswith("    ") and frames:
            frames[-1] += line
        elif frames and not line.startswith(" "):
            break  # the exception's own line ends the frames
    return frames


def log_result(invoked: service.InvokeResult, version: str) -> str:
    """Base64 of the last 4 KB of the call's log, framed by Lambda's START, END and REPORT
    lines so that tools which read them find them."""
    outcome, memory_mb = invoked.outcome, invoked.spec.memory_mb
    request_id = outcome.invocation_id
    timings = outcome.timings
    report = (
        f"REPORT RequestId: {request_id}\tDuration: {timings.handler_ms:.2f} ms\t"
        f"Billed Duration: {math.ceil(timings.handler_ms)} ms\tMemory Size: {memory_mb} MB"
    )
    if outcome.cold_start:
        report += f"\tInit Duration: {timings.start_ms:.2f} ms"
    logs = outcome.logs if not outcome.logs or outcome.logs.endswith("\n") else outcome.logs + "\n"
    text = (
        f"START RequestId: {request_id} Version: {version}\n{logs}"
        f"END RequestId: {request_id}\n{report}\t\n"
    )
    return base64.b64encode(last_bytes(text.encode(), LOG_TAIL_BYTES)).decode()


def last_bytes(data: bytes, limit: int) -> bytes:
    """The last `limit` bytes, starting on a character (not inside a UTF-8 sequence)."""
    if len(data) <= limit:
        return data
    tail = data[-limit:]
    start = 0
    while start < len(tail) and tail[start] & 0xC0 == 0x80:
        start += 1
    return tail[start:]
