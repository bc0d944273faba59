"""Deploying and invoking through Sandlot's REST API, as any client would (httpx)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import httpx

from bench.sandlot_server import API_KEY
from bench.workload import Workload

API = "/api/v1"
DEPENDENCY_MISSING = ("ModuleNotFoundError", "ImportError")


class DeployFailed(Exception):
    """The server refused or failed a deploy; the message says why, for the row's notes."""


@dataclass(frozen=True)
class Deployed:
    name: str
    version: int
    deploy_s: float  # from the upload until the version was ready
    ready_in_answer: bool = True  # the deploy's own answer said ready (no build to follow)


def client(url: str) -> httpx.Client:
    return httpx.Client(
        base_url=url, headers={"Authorization": f"Bearer {API_KEY}"}, timeout=httpx.Timeout(300)
    )


def deploy(
    http: httpx.Client,
    workload: Workload,
    name: str | None = None,
    timeout_s: int | None = None,
    extra_fields: dict[str, str] | None = None,
) -> Deployed:
    """Create (or update, making a new version) a function from the workload's folder and wait
    until its version is ready; a version that is building (dependencies) is polled."""
    name = name or workload.function_name
    # Stamped: an update is a new version even when the workload's code is the same.
    code = workload.zip_bytes(stamp=str(time.time_ns()))
    files = {"code": ("code.zip", code, "application/zip")}
    fields = {} if timeout_s is None else {"timeout_s": str(timeout_s)}
    fields.update(extra_fields or {})
    started = time.perf_counter()
    answer = http.post(f"{API}/functions", data={"name": name, **fields}, files=files)
    if answer.status_code == 409:
        answer = http.put(f"{API}/functions/{name}", data=fields, files=files)
    if answer.status_code not in (200, 201):
        raise DeployFailed(f"deploy {name}: {answer.status_code} {answer.text[:300]}")
    body: dict[str, Any] = answer.json()
    # `config` is the version this deploy made; `latest_version` moves only once it is ready.
    config = body.get("config") or {}
    number = int(config.get("number") or body["versions"])
    version = config
    ready_in_answer = version.get("state") == "ready"
    while version.get("state") not in ("ready", "failed"):
        time.sleep(0.05)  # the build runs in the server; polling is the API's way to follow it
        version = http.get(f"{API}/functions/{name}/versions/{number}").json()
    if version.get("state") == "failed":
        raise DeployFailed(f"version {number} of {name} failed: {version.get('error')}")
    return Deployed(name, number, time.perf_counter() - started, ready_in_answer)


def invoke(http: httpx.Client, name: str, event_json: str) -> httpx.Response:
    return http.post(
        f"{API}/functions/{name}/invoke",
        content=event_json.encode(),
        headers={"Content-Type": "application/json"},
    )


def check_works(http: httpx.Client, deployed: Deployed, workload: Workload) -> str | None:
    """Invoke once; None if it answered 200, else why not (dependencies missing, an error)."""
    answer = invoke(http, deployed.name, workload.event_json)
    if answer.status_code == 200:
        return None
    detail = answer.text[:300]
    if workload.requirements and any(name in detail for name in DEPENDENCY_MISSING):
        return (
            "not available yet: the server ignored requirements.txt "
            f"({workload.requirements}); the handler failed to import them"
        )
    return f"invoke failed: {answer.status_code} {detail}"


def delete(http: httpx.Client, name: str) -> None:
    http.delete(f"{API}/functions/{name}")
