"""A webhook delivery written straight to a server's database, for tests that need one to
exist (a route's callers) without an async call running to its end."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sandlot.domain.destinations import Condition, Delivery, DeliveryState, DestinationKind
from sandlot.domain.ids import new_invocation_id
from sandlot.storage.destinations import DeliveryRepo
from sandlot.storage.functions import FunctionRepo
from sandlot.storage.namespaces import NamespaceRepo

# Nothing listens on the discard port of 127.0.0.1: a redelivery there fails, harmlessly.
NOWHERE = "http://127.0.0.1:9/hook"


async def failed_delivery(
    sessions: async_sessionmaker[AsyncSession], function: str, invocation_id: str
) -> str:
    """A failed webhook delivery of `function` (in `default`); its id."""
    now = datetime.now(UTC)
    async with sessions.begin() as session:
        namespace = await NamespaceRepo(session).get_by_name("default")
        assert namespace is not None
        found = await FunctionRepo(session).get(namespace.id, function)
        delivery = Delivery(
            id=new_invocation_id(),
            namespace_id=namespace.id,
            function_id=found.id,
            function_name=function,
            invocation_id=invocation_id,
            condition=Condition.SUCCESS,
            kind=DestinationKind.WEBHOOK,
            target=NOWHERE,
            state=DeliveryState.FAILED,
            attempts=1,
            max_attempts=1,
            created_at=now,
            next_attempt_at=None,
            finished_at=now,
            last_status=None,
            last_error="ConnectError",
            body="{}",
        )
        await DeliveryRepo(session).add(delivery)
    return delivery.id
