"""A function's retry policy for its asynchronous calls: read and set (`async-config`)."""

from __future__ import annotations

import dataclasses

from sqlalchemy.ext.asyncio import AsyncSession

from sandlot.domain.actions import Action
from sandlot.domain.models import Principal
from sandlot.domain.queue import AsyncConfig
from sandlot.services import audit
from sandlot.services.authz import authorize_function
from sandlot.storage.async_config import AsyncConfigRepo
from sandlot.storage.functions import FunctionRepo


async def get_async_config(
    *, session: AsyncSession, principal: Principal, name: str
) -> AsyncConfig:
    authorize_function(principal, Action.FUNCTION_READ, name)
    function = await FunctionRepo(session).get(principal.namespace_id, name)
    return await AsyncConfigRepo(session).get(function.id)


async def set_async_config(
    *,
    session: AsyncSession,
    principal: Principal,
    name: str,
    max_attempts: int | None = None,
    retry_on_error: bool | None = None,
    max_event_age_s: int | None = None,
) -> AsyncConfig:
    """Change the fields given, keep the others. `max_attempts` applies to calls accepted
    from now on (each call keeps the number it was accepted with); `retry_on_error` and
    `max_event_age_s` also to calls already queued, when their next attempt ends."""
    authorize_function(principal, Action.FUNCTION_WRITE, name)
    function = await FunctionRepo(session).get(principal.namespace_id, name)
    repo = AsyncConfigRepo(session)
    current = await repo.get(function.id)
    config = AsyncConfig(  # checks the ranges
        max_attempts=current.max_attempts if max_attempts is None else max_attempts,
        retry_on_error=current.retry_on_error if retry_on_error is None else retry_on_error,
        max_event_age_s=current.max_event_age_s if max_event_age_s is None else max_event_age_s,
    )
    await repo.put(function.id, config)
    await audit.record(
        session,
        principal=principal,
        action="function.async_config",
        target=f"function:{name}",
        namespace_id=principal.namespace_id,
        detail=dataclasses.asdict(config),
    )
    return config
