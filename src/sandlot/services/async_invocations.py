"""Accepting asynchronous calls: one committed `queued` row each (DESIGN.md "Durable work").

What runs them, retries them and ends them dead lives in `services.async_runner`; what a
caller does with them later (wait, cancel, redrive, discard) in `services.async_control`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from sandlot.domain.actions import Action
from sandlot.domain.aliases import split_qualified
from sandlot.domain.errors import IdempotencyKeyRace, InvalidIdempotencyKey
from sandlot.domain.ids import new_invocation_id
from sandlot.domain.invocation_events import keep_event
from sandlot.domain.models import Invocation, Principal, QueuedCall
from sandlot.services.authz import authorize_function
from sandlot.services.invocations import Invoker, check_event, check_routing_key
from sandlot.storage.async_config import AsyncConfigRepo
from sandlot.storage.invocations import InvocationRepo
from sandlot.storage.queue import QueueRepo

IDEMPOTENCY_WINDOW = timedelta(hours=24)
MAX_IDEMPOTENCY_KEY_BYTES = 256
DEFAULT_MAX_ATTEMPTS = 3


@dataclass(frozen=True)
class Accepted:
    invocation: Invocation
    # The Idempotency-Key named a call accepted in the last 24 hours: that call, nothing new.
    repeated: bool = False


def check_idempotency_key_size(key: str | None) -> None:
    """The bound every call's `Idempotency-Key` is held to, sync ones too (which do not use
    it): the one its documented schema states. A header's text is one character a byte."""
    if key is not None and not 1 <= len(key) <= MAX_IDEMPOTENCY_KEY_BYTES:
        raise InvalidIdempotencyKey(
            f"an Idempotency-Key has 1 to {MAX_IDEMPOTENCY_KEY_BYTES} bytes; this one {len(key)}",
            max_bytes=MAX_IDEMPOTENCY_KEY_BYTES,
        )


def check_idempotency_key(key: str | None) -> str | None:
    """The key an asynchronous call is stored under: within the bound, printable ASCII."""
    check_idempotency_key_size(key)
    if key is not None and (not key.isascii() or not key.isprintable()):
        raise InvalidIdempotencyKey("an Idempotency-Key is printable ASCII")
    return key


async def accept(
    *,
    session: AsyncSession,
    invoker: Invoker,
    principal: Principal,
    name: str,
    version: int | None,
    body: bytes,
    trigger: str = "async",
    idempotency_key: str | None = None,
    max_attempts: int | None = None,
    run_after: datetime | None = None,
    caused_by: str | None = None,
    routing_key: str | None = None,
) -> Accepted:
    """Queue one call of `name` (flushed, not committed: the caller's commit accepts it).
    The version is resolved now, so every attempt runs the same one; `max_attempts` None is
    the function's policy (its async-config). `name` may name an alias (`hello:prod`): its
    version is picked now too (by `routing_key` when one is given)."""
    authorize_function(principal, Action.FUNCTION_INVOKE, split_qualified(name)[0])
    key = check_idempotency_key(idempotency_key)
    event = check_event(body, invoker.max_event_bytes)
    check_routing_key(routing_key)
    spec, alias = await invoker.catalog.target(principal, name, version, routing_key)
    now = datetime.now(UTC)
    queue = QueueRepo(session)
    if key is not None:
        await queue.free_idempotency_key(
            principal.namespace_id, spec.function_id, key, before=now - IDEMPOTENCY_WINDOW
        )
        first = await queue.by_idempotency_key(principal.namespace_id, spec.function_id, key)
        if first is not None:
            return Accepted(invocation=first, repeated=True)
    kept = keep_event(event, invoker.event_bytes)
    if max_attempts is None:
        max_attempts = (await AsyncConfigRepo(session).get(spec.function_id)).max_attempts
    call = QueuedCall(
        id=new_invocation_id(),
        namespace_id=principal.namespace_id,
        function_id=spec.function_id,
        function_name=spec.function_name,
        version=spec.version,
        trigger=trigger,
        created_at=now,
        run_after=run_after or now,
        payload=event.decode(),
        event=kept.text,
        event_truncated=kept.truncated,
        max_attempts=max_attempts,
        idempotency_key=key,
        caused_by=caused_by,
        alias=alias,
    )
    await queue.enqueue(call)
    await session.flush()
    return Accepted(invocation=await InvocationRepo(session).get(principal.namespace_id, call.id))


async def first_with_key(
    *,
    session: AsyncSession,
    invoker: Invoker,
    principal: Principal,
    name: str,
    version: int | None,
    key: str,
) -> Accepted:
    """After an `IdempotencyKeyRace`: the call that won it (committed before the loser's
    insert failed, so it is there unless it was discarded since)."""
    spec, _ = await invoker.catalog.target(principal, name, version)
    first = await QueueRepo(session).by_idempotency_key(
        principal.namespace_id, spec.function_id, key
    )
    if first is None:
        raise IdempotencyKeyRace("another call with this Idempotency-Key came first; retry")
    return Accepted(invocation=first, repeated=True)
