"""Where an asynchronous call's end goes: a signed webhook, or another function's queue.

The queue's runner calls `on_async_end` inside the transaction that ends a call, so a
delivery is queued exactly when the end is committed: a crash between the two cannot lose
one or send one for an end that never happened. The webhook itself is sent later, by
`services.webhooks.WebhookSender`, from the delivery row.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sandlot.domain.actions import Action
from sandlot.domain.destinations import (
    MAX_CHAIN_DEPTH,
    Condition,
    Delivery,
    DeliveryState,
    Destination,
    DestinationConfig,
    DestinationKind,
    check_secret,
    parse_destination,
    redelivery,
    secret_aad,
)
from sandlot.domain.errors import (
    AliasNotFound,
    DeliveryNotRedeliverable,
    FunctionNotFound,
    InvalidDestination,
    SandlotError,
)
from sandlot.domain.ids import new_invocation_id
from sandlot.domain.models import Invocation, Principal, Role
from sandlot.domain.states import InvocationState
from sandlot.services import audit
from sandlot.services.alias_users import check_exists
from sandlot.services.async_invocations import accept
from sandlot.services.authz import authorize_function
from sandlot.services.invocations import Invoker
from sandlot.services.secret_keys import Keyring, Sealed
from sandlot.storage.destinations import DeliveryRepo, DestinationRepo
from sandlot.storage.functions import FunctionRepo
from sandlot.storage.invocations import InvocationRepo
from sandlot.storage.namespaces import NamespaceRepo

log = logging.getLogger(__name__)

DEFAULT_MAX_ATTEMPTS = 8
_CONDITION = {InvocationState.SUCCEEDED: Condition.SUCCESS, InvocationState.DEAD: Condition.FAILURE}


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat()


def webhook_body(invocation: Invocation, condition: Condition) -> str:
    """What a webhook receives: the call's end, in full (no secret, no logs)."""
    body: dict[str, Any] = {
        "type": f"invocation.{invocation.state.value}",
        "condition": condition.value,
        "invocation_id": invocation.id,
        "function": invocation.function_name,
        "version": invocation.version,
        "trigger": invocation.trigger,
        "state": invocation.state.value,
        "attempt": invocation.attempt,
        "max_attempts": invocation.max_attempts,
        "attempts": list(invocation.attempts),
        "created_at": _iso(invocation.created_at),
        "finished_at": _iso(invocation.finished_at),
        "duration_ms": invocation.duration_ms,
        "caused_by": invocation.caused_by,
    }
    if condition is Condition.SUCCESS:
        body["result"] = invocation.result
    else:
        body["error"] = invocation.error
    return json.dumps(body, separators=(",", ":"), sort_keys=True)


def function_event(invocation: Invocation, condition: Condition) -> bytes:
    """The event a function destination runs with: like Lambda's destination record, the
    source call (`source`), why it was sent (`condition`), and its result or error."""
    record: dict[str, Any] = {
        "source": {
            "invocation_id": invocation.id,
            "function": invocation.function_name,
            "version": invocation.version,
            "state": invocation.state.value,
            "attempts": invocation.attempt,
            "finished_at": _iso(invocation.finished_at),
        },
        "condition": condition.value,
    }
    if condition is Condition.SUCCESS:
        record["result"] = invocation.result
    else:
        record["error"] = invocation.error
    return json.dumps(record, separators=(",", ":")).encode()


class Destinations:
    """What an asynchronous call's end sets off. `invoker` queues function destinations;
    `on_queued` is called after the commit that queued a call (wakes the queue's claimers),
    `on_delivery` after one that queued a webhook delivery (wakes the sender)."""

    def __init__(
        self,
        *,
        invoker: Invoker | None = None,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        on_queued: Callable[[], None] | None = None,
        on_delivery: Callable[[], None] | None = None,
    ) -> None:
        self.invoker = invoker
        self.max_attempts = max_attempts
        self.on_queued = on_queued
        self.on_delivery = on_delivery

    async def on_async_end(self, session: AsyncSession, invocation: Invocation) -> None:
        """`invocation` has just ended for good (succeeded, or dead after its last attempt):
        queue its destinations' deliveries in `session` (flush, never commit)."""
        condition = _CONDITION.get(invocation.state)
        if condition is None:
            return
        config = await DestinationRepo(session).get(invocation.function_id)
        destination = config.for_condition(condition)
        if destination is None:
            return
        now = datetime.now(UTC)
        if destination.kind is DestinationKind.WEBHOOK:
            delivery = self._delivery(invocation, condition, destination, now)
            await DeliveryRepo(session).add(delivery)
            _after_commit(session, self.on_delivery)
            return
        await self._queue_function(session, invocation, condition, destination, now)

    def _delivery(
        self, invocation: Invocation, condition: Condition, destination: Destination, now: datetime
    ) -> Delivery:
        webhook = destination.kind is DestinationKind.WEBHOOK
        return Delivery(
            id=new_invocation_id(),
            namespace_id=invocation.namespace_id,
            function_id=invocation.function_id,
            function_name=invocation.function_name,
            invocation_id=invocation.id,
            condition=condition,
            kind=destination.kind,
            target=destination.target,
            state=DeliveryState.PENDING,
            attempts=0,
            max_attempts=self.max_attempts if webhook else 1,
            created_at=now,
            next_attempt_at=now if webhook else None,
            finished_at=None,
            last_status=None,
            last_error=None,
            body=webhook_body(invocation, condition) if webhook else "",
        )

    async def _queue_function(
        self,
        session: AsyncSession,
        invocation: Invocation,
        condition: Condition,
        destination: Destination,
        now: datetime,
    ) -> None:
        """Queue the next call, and keep a delivery row saying what became of it. A
        destination that cannot be queued (gone, not ready, the chain too deep) is a failed
        delivery: it must never undo the end of the call that set it off."""
        pending = self._delivery(invocation, condition, destination, now)
        body = function_event(invocation, condition)
        try:
            queued = await self._accept(session, invocation, destination, body)
        except SandlotError as exc:
            log.info("destination of %s not queued: %s", invocation.id, exc)
            entry = {"at": now.isoformat(), "error": f"{type(exc).__name__}: {exc}"}
            failed = _ended(pending, DeliveryState.FAILED, now, entry)
            await DeliveryRepo(session).add(failed)
            return
        entry = {"at": now.isoformat(), "queued": queued}
        done = _ended(pending, DeliveryState.DELIVERED, now, entry)
        await DeliveryRepo(session).add(_with_queued(done, queued, body))
        _after_commit(session, self.on_queued)

    async def _accept(
        self, session: AsyncSession, invocation: Invocation, destination: Destination, body: bytes
    ) -> str:
        if self.invoker is None:
            raise InvalidDestination("this server has no invoker to queue function destinations")
        depth = await chain_depth(session, invocation)
        if depth >= MAX_CHAIN_DEPTH:
            raise InvalidDestination(
                f"a chain of destinations stops after {MAX_CHAIN_DEPTH} calls (this call is "
                f"number {depth + 1} of its chain): a loop of destinations is cut here",
                depth=depth + 1,
            )
        namespace = await NamespaceRepo(session).get(invocation.namespace_id)
        # The call is the platform's, made for the function's owner: no key's scope applies.
        system = Principal(
            key_id="sandlot", namespace_id=namespace.id, namespace=namespace.name, role=Role.ADMIN
        )
        accepted = await accept(
            session=session,
            invoker=self.invoker,
            principal=system,
            name=destination.target,
            version=None,
            body=body,
            trigger="async",
            caused_by=invocation.id,
        )
        return accepted.invocation.id


async def chain_depth(session: AsyncSession, invocation: Invocation) -> int:
    """How many calls came before this one through `caused_by` (up to the limit)."""
    depth, cause = 0, invocation.caused_by
    repo = InvocationRepo(session)
    while cause is not None and depth < MAX_CHAIN_DEPTH:
        depth += 1
        try:
            cause = (await repo.get(invocation.namespace_id, cause)).caused_by
        except SandlotError:
            break  # the cause was deleted with its function: the chain is known to here
    return depth


def _ended(
    delivery: Delivery, state: DeliveryState, now: datetime, entry: dict[str, Any]
) -> Delivery:
    return replace(
        delivery,
        state=state,
        attempts=1,
        finished_at=now,
        last_error=entry.get("error"),
        log=(entry,),
    )


def _with_queued(delivery: Delivery, queued: str, body: bytes) -> Delivery:
    return replace(delivery, queued_invocation_id=queued, body=body.decode())


def _after_commit(session: AsyncSession, callback: Callable[[], None] | None) -> None:
    """Call `callback` once the caller commits this transaction (never before: a wake-up
    before the commit finds nothing)."""
    if callback is None:
        return
    event.listen(session.sync_session, "after_commit", lambda _s: callback(), once=True)


# The configuration, through the API.


async def get_config(
    *, session: AsyncSession, principal: Principal, name: str
) -> DestinationConfig:
    authorize_function(principal, Action.FUNCTION_READ, name)
    function = await FunctionRepo(session).get(principal.namespace_id, name)
    return await DestinationRepo(session).get(function.id)


async def set_config(
    *,
    session: AsyncSession,
    principal: Principal,
    keyring: Keyring,
    name: str,
    on_success: Any,
    on_failure: Any,
    secret: str | None,
) -> DestinationConfig:
    """Replace both destinations; a new webhook secret when one is given (else the old one
    stays). A webhook needs a secret: every delivery is signed."""
    authorize_function(principal, Action.FUNCTION_WRITE, name)
    functions = FunctionRepo(session)
    function = await functions.get(principal.namespace_id, name)
    success = parse_destination(on_success, condition=Condition.SUCCESS, function=name)
    failure = parse_destination(on_failure, condition=Condition.FAILURE, function=name)
    for where, destination in (("on_success", success), ("on_failure", failure)):
        await _check_function_exists(functions, principal, where, destination)
    repo = DestinationRepo(session)
    sealed = None
    if secret is not None:
        made = keyring.seal(check_secret(secret), secret_aad(principal.namespace_id, function.id))
        sealed = (made.key_id, made.ciphertext)
    had_secret = (await repo.get(function.id)).secret_set
    if not (had_secret or sealed) and any(
        d is not None and d.kind is DestinationKind.WEBHOOK for d in (success, failure)
    ):
        raise InvalidDestination(
            "a webhook destination needs the function's webhook secret (every delivery is "
            "signed with it): give `secret`, at least 32 bytes"
        )
    config = await repo.put(
        function_id=function.id,
        namespace_id=principal.namespace_id,
        on_success=success,
        on_failure=failure,
        sealed=sealed,
        updated_by=principal.actor,
        now=datetime.now(UTC),
    )
    await audit.record(
        session,
        principal=principal,
        action="function.destinations",
        target=f"function:{name}",
        namespace_id=principal.namespace_id,
        detail={
            "on_success": None if success is None else success.as_json(),
            "on_failure": None if failure is None else failure.as_json(),
            "secret_changed": sealed is not None,
        },
    )
    return config


async def _check_function_exists(
    functions: FunctionRepo, principal: Principal, where: str, destination: Destination | None
) -> None:
    """The function (and the alias, for `hello:prod`) must exist now; the version is
    resolved when a call is queued."""
    if destination is None or destination.kind is not DestinationKind.FUNCTION:
        return
    name, _, alias = destination.target.partition(":")
    try:
        function = await functions.get(principal.namespace_id, name)
        await check_exists(functions.session, function, alias or None)
    except (FunctionNotFound, AliasNotFound):
        raise InvalidDestination(
            f"{where}: there is no function {destination.target!r} in this namespace",
            field=where,
        ) from None


async def webhook_secret(
    session: AsyncSession, keyring: Keyring, namespace_id: str, function_id: str
) -> bytes | None:
    """The secret a delivery is signed with, opened for one send (never returned by the API)."""
    stored = await DestinationRepo(session).sealed_secret(function_id)
    if stored is None:
        return None
    return keyring.open(Sealed(*stored), secret_aad(namespace_id, function_id))


async def reseal_webhook_secrets(
    sessions: async_sessionmaker[AsyncSession], keyring: Keyring
) -> int:
    """A key rotation's share for webhook secrets: each sealed again with the current key,
    before the rotation forgets the old ones (else no delivery could be signed)."""
    async with sessions.begin() as session:
        repo = DestinationRepo(session)
        resealed = 0
        for function_id, namespace_id, key_id, ciphertext in await repo.sealed_with_other_keys(
            keyring.current_id
        ):
            aad = secret_aad(namespace_id, function_id)
            plaintext = keyring.open(Sealed(key_id, ciphertext), aad)
            made = keyring.seal(plaintext, aad)
            resealed += await repo.reseal(function_id, key_id, made.key_id, made.ciphertext)
        return resealed


# Deliveries, through the API.


async def list_deliveries(
    *,
    session: AsyncSession,
    principal: Principal,
    name: str,
    state: DeliveryState | None = None,
    invocation_id: str | None = None,
    limit: int = 50,
) -> list[Delivery]:
    authorize_function(principal, Action.FUNCTION_READ, name)
    function = await FunctionRepo(session).get(principal.namespace_id, name)
    return await DeliveryRepo(session).of_function(
        function.id, state=state, invocation_id=invocation_id, limit=limit
    )


async def redeliver(
    *, session: AsyncSession, principal: Principal, name: str, delivery_id: str, max_attempts: int
) -> Delivery:
    """A new delivery of a finished webhook delivery's body, to the same URL, signed anew."""
    authorize_function(principal, Action.FUNCTION_WRITE, name)
    function = await FunctionRepo(session).get(principal.namespace_id, name)
    repo = DeliveryRepo(session)
    original = await repo.get(principal.namespace_id, function.id, delivery_id)
    if original.kind is not DestinationKind.WEBHOOK:
        raise DeliveryNotRedeliverable(
            "only a webhook delivery is redelivered; redrive or invoke the function instead",
            delivery=delivery_id,
        )
    if original.state is DeliveryState.PENDING:
        raise DeliveryNotRedeliverable(
            "this delivery is still being sent; redeliver it once it is delivered or failed",
            delivery=delivery_id,
        )
    now = datetime.now(UTC)
    again = redelivery(original, new_id=new_invocation_id(), max_attempts=max_attempts, now=now)
    await repo.add(again)
    await audit.record(
        session,
        principal=principal,
        action="delivery.redeliver",
        target=f"function:{name}",
        namespace_id=principal.namespace_id,
        detail={"delivery": original.id, "redelivery": again.id},
    )
    return again
