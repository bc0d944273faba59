"""Liveness, readiness and Prometheus metrics.

`/healthz` and the bare `/readyz` answer anyone; `/metrics` and the detailed `/readyz` (host
paths, cgroup layout, the sandbox summary) answer only callers that may monitor
(`services.monitor_access`): an allowed address, the monitoring token, or an admin key.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from sandlot import __version__
from sandlot.api.credentials import request_credentials
from sandlot.api.deps import RuntimeDep
from sandlot.api.schemas import ErrorOut
from sandlot.services.remote_pool import RemotePool

router = APIRouter(tags=["health"])

AuthorizationHeader = Annotated[
    str | None,
    Header(description="`Bearer <monitoring token or admin API key>`", include_in_schema=False),
]
REFUSALS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "No or wrong credentials, from an address not allowed"},
    403: {"model": ErrorOut, "description": "An API key that is not an admin's"},
    429: {"model": ErrorOut, "description": "Too many wrong keys from this address"},
}


@router.get("/healthz", summary="The process is up")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="The database answers and functions can run (details for monitoring callers)",
    responses={
        **REFUSALS,
        200: {
            "description": "Ready. Monitoring callers get the details too: `sandbox`, "
            "`insecure`, `sandbox_summary`, `problems`, `version` and `database` "
            "(`kind`: sqlite or postgresql, and whether it `answers`)",
        },
        503: {"description": "Not ready: `problems` says why", "model": dict[str, Any]},
    },
)
async def readyz(
    request: Request, runtime: RuntimeDep, authorization: AuthorizationHeader = None
) -> JSONResponse:
    del authorization  # declared for the documentation; the credentials carry it
    detailed = await runtime.monitor.shows_details(request_credentials(request))
    body: dict[str, Any] = {
        "status": "ready",
        "sandbox": runtime.settings.sandbox.value,
        "insecure": runtime.insecure,
        "sandbox_summary": runtime.sandbox_summary,
        "problems": list(runtime.problems) + runtime.storage_problems(),
    }
    if runtime.insecure:
        body["warning"] = "functions run WITHOUT isolation (SANDLOT_SANDBOX=insecure-dev)"
    database_problem = await runtime.database.ping()
    if database_problem:
        body["problems"].append(f"database: {database_problem}")
    body["problems"].extend(_cluster_problems(runtime.pool))
    # For monitoring callers (and the console's health page): what runs, against what.
    body["version"] = __version__
    body["database"] = {
        "kind": runtime.database.engine.dialect.name,
        "answers": database_problem is None,
    }
    ready = not body["problems"] and runtime.ready
    body["status"] = "ready" if ready else "not ready"
    return JSONResponse(body if detailed else {"status": body["status"]}, 200 if ready else 503)


def _cluster_problems(pool: object) -> list[str]:
    """Role api runs no function itself: with no live worker, every call would be a 503,
    so a load balancer should not send it traffic (the registry is in memory: no query)."""
    if not isinstance(pool, RemotePool) or pool.registry.live():
        return []
    return [
        "workers: no live worker is registered (start `sandlot worker` with this server's "
        "database and SANDLOT_CLUSTER_SECRET); calls would be refused"
    ]


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=PlainTextResponse,
    responses=REFUSALS,
)
async def metrics(
    request: Request, runtime: RuntimeDep, authorization: AuthorizationHeader = None
) -> Response:
    del authorization  # declared for the documentation; the credentials carry it
    await runtime.monitor.check(request_credentials(request))
    return Response(generate_latest(runtime.metrics.registry), media_type=CONTENT_TYPE_LATEST)
