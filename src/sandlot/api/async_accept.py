"""The 202 of an asynchronous call (`Prefer: respond-async`), shared by the lean invoke
route and the documented FastAPI route so both answer alike."""

from __future__ import annotations

from sandlot.api.schemas import InvocationOut
from sandlot.domain.errors import IdempotencyKeyRace
from sandlot.domain.models import Principal
from sandlot.services import async_invocations as service
from sandlot.services.runtime import Runtime

API_PREFIX = "/api/v1"
PREFER_ASYNC = "respond-async"


def wants_async(prefer: str | None) -> bool:
    """RFC 7240: `Prefer` holds comma-separated preferences, each maybe with parameters."""
    if not prefer:
        return False
    tokens = (part.split(";", 1)[0].strip().lower() for part in prefer.split(","))
    return PREFER_ASYNC in tokens


async def accept_call(
    *,
    runtime: Runtime,
    principal: Principal,
    name: str,
    version: int | None,
    body: bytes,
    idempotency_key: str | None,
    routing_key: str | None = None,
) -> tuple[int, dict[str, str], bytes]:
    """(status, headers, body): 202 with the queued invocation, after its commit."""
    invoker = runtime.invoker
    try:
        async with runtime.database.sessions() as session:
            accepted = await service.accept(
                session=session,
                invoker=invoker,
                principal=principal,
                name=name,
                version=version,
                body=body,
                idempotency_key=idempotency_key,
                routing_key=routing_key,
            )
            await session.commit()
    except IdempotencyKeyRace:
        assert idempotency_key is not None  # the race is only over a key
        async with runtime.database.sessions() as session:
            accepted = await service.first_with_key(
                session=session,
                invoker=invoker,
                principal=principal,
                name=name,
                version=version,
                key=idempotency_key,
            )
    if not accepted.repeated:
        runtime.queue_waker.notify()
    invocation = accepted.invocation
    headers = {
        "Location": f"{API_PREFIX}/invocations/{invocation.id}",
        "X-Sandlot-Invocation-Id": invocation.id,
        "Preference-Applied": PREFER_ASYNC,
        "X-Sandlot-Version": str(invocation.version),
    }
    if invocation.alias is not None:
        headers["X-Sandlot-Alias"] = invocation.alias
    if accepted.repeated:
        headers["X-Sandlot-Idempotent-Replay"] = "true"
    return 202, headers, InvocationOut.of(invocation).model_dump_json().encode()
