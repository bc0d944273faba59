"""A function's destinations (where its async calls' ends go) and its deliveries."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from sandlot.api.deps import PrincipalDep, RuntimeDep, SessionDep
from sandlot.api.destination_schemas import (
    DeliveryList,
    DeliveryOut,
    DestinationsOut,
    DestinationsPut,
)
from sandlot.api.schemas import ErrorOut
from sandlot.domain.destinations import DeliveryState
from sandlot.domain.ids import INVOCATION_ID_PATTERN
from sandlot.services import destinations as service

router = APIRouter(prefix="/functions", tags=["destinations"])

ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorOut, "description": description}
    for status, description in {
        401: "Missing or wrong credentials",
        403: "The caller's role may not do this",
        404: "No such function (or delivery) in the caller's namespace",
        422: "The request does not match the schema",
    }.items()
}

DeliveryId = Annotated[
    str, Path(description="A delivery's id", json_schema_extra={"pattern": INVOCATION_ID_PATTERN})
]


@router.get(
    "/{name}/destinations",
    response_model=DestinationsOut,
    responses=ERRORS,
    summary="Where the function's async calls go when they end",
    description="On success (the call ended `succeeded`) and on failure (`dead`, after its "
    "last attempt): a signed webhook or another function, or nothing. The webhook secret is "
    "never shown, only whether one is set.",
)
async def get_destinations(
    name: str, session: SessionDep, principal: PrincipalDep
) -> DestinationsOut:
    config = await service.get_config(session=session, principal=principal, name=name)
    return DestinationsOut.of(config)


@router.put(
    "/{name}/destinations",
    response_model=DestinationsOut,
    responses={
        **ERRORS,
        400: {
            "model": ErrorOut,
            "description": "InvalidDestination (a URL that is not http(s), a function that "
            "does not exist, the function itself on success, a webhook without a secret); "
            "WebhookSecretTooShort (under 32 bytes)",
        },
    },
    summary="Set the function's destinations (both), and optionally its webhook secret",
)
async def put_destinations(
    name: str,
    body: DestinationsPut,
    runtime: RuntimeDep,
    session: SessionDep,
    principal: PrincipalDep,
) -> DestinationsOut:
    config = await service.set_config(
        session=session,
        principal=principal,
        keyring=runtime.keyring,
        name=name,
        on_success=None if body.on_success is None else body.on_success.raw(),
        on_failure=None if body.on_failure is None else body.on_failure.raw(),
        secret=body.secret,
    )
    await session.commit()
    return DestinationsOut.of(config)


@router.get(
    "/{name}/deliveries",
    response_model=DeliveryList,
    responses=ERRORS,
    summary="The function's deliveries to its destinations, newest first",
    description="Each with its attempts' log (HTTP status, error, duration).",
)
async def list_deliveries(
    name: str,
    session: SessionDep,
    principal: PrincipalDep,
    state: Annotated[DeliveryState | None, Query(description="Only those in this state")] = None,
    invocation_id: Annotated[
        str | None,
        Query(description="Only those of this invocation", pattern=INVOCATION_ID_PATTERN),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> DeliveryList:
    found = await service.list_deliveries(
        session=session,
        principal=principal,
        name=name,
        state=state,
        invocation_id=invocation_id,
        limit=limit,
    )
    return DeliveryList(items=[DeliveryOut.of(delivery) for delivery in found])


@router.post(
    "/{name}/deliveries/{delivery_id}/redeliver",
    status_code=202,
    response_model=DeliveryOut,
    responses={
        **ERRORS,
        409: {
            "model": ErrorOut,
            "description": "DeliveryNotRedeliverable: still pending, or to a function",
        },
    },
    summary="Send a finished webhook delivery again, as a new delivery",
    description="The same body to the same URL, signed anew, with a fresh budget of attempts.",
)
async def redeliver(
    name: str,
    delivery_id: DeliveryId,
    runtime: RuntimeDep,
    session: SessionDep,
    principal: PrincipalDep,
) -> DeliveryOut:
    again = await service.redeliver(
        session=session,
        principal=principal,
        name=name,
        delivery_id=delivery_id,
        max_attempts=runtime.settings.webhook_max_attempts,
    )
    await session.commit()
    if runtime.webhooks is not None:
        runtime.webhooks.notify()
    return DeliveryOut.of(again)
