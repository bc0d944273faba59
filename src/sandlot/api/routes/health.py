"""Liveness, readiness and Prometheus metrics (no key needed)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from sandlot.api.deps import RuntimeDep

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="The process is up")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="The database answers and functions can run")
async def readyz(runtime: RuntimeDep) -> JSONResponse:
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
    if body["problems"] or not runtime.ready:
        body["status"] = "not ready"
        return JSONResponse(body, status_code=503)
    return JSONResponse(body)


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics(runtime: RuntimeDep) -> Response:
    return Response(generate_latest(runtime.metrics.registry), media_type=CONTENT_TYPE_LATEST)
