"""Request and response bodies of the REST API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from sandlot.domain.models import ApiKey, Function, Invocation, Role, Version


class ErrorOut(BaseModel):
    error: str = Field(description="The error's name, e.g. FunctionNotFound")
    detail: dict[str, Any] = Field(description="At least a human-readable 'message'")


class FunctionCreateJson(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    code_base64: str = Field(description="The function's folder as a zip, base64-encoded")
    handler: str | None = None
    memory_mb: int | None = None
    timeout_s: int | None = None
    env: dict[str, str] | None = None
    max_concurrency: int | None = Field(None, description="Concurrent instances at most")
    min_warm: int | None = Field(None, description="Instances kept started and ready")
    keep_alive_s: int | None = Field(None, description="Idle instances stop after this")


class FunctionUpdateJson(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code_base64: str | None = None
    handler: str | None = None
    memory_mb: int | None = None
    timeout_s: int | None = None
    env: dict[str, str] | None = None
    max_concurrency: int | None = None
    min_warm: int | None = None
    keep_alive_s: int | None = None


class VersionOut(BaseModel):
    function: str
    number: int
    state: str
    handler: str
    memory_mb: int
    timeout_s: int
    env: dict[str, str]
    max_concurrency: int | None
    min_warm: int
    keep_alive_s: int | None
    code_sha256: str
    code_size: int
    created_at: datetime
    error: str | None

    @classmethod
    def of(cls, version: Version) -> VersionOut:
        return cls(
            function=version.function_name,
            number=version.number,
            state=version.state.value,
            handler=version.config.handler,
            memory_mb=version.config.memory_mb,
            timeout_s=version.config.timeout_s,
            env=dict(version.config.env),
            max_concurrency=version.config.max_concurrency,
            min_warm=version.config.min_warm,
            keep_alive_s=version.config.keep_alive_s,
            code_sha256=version.code_sha256,
            code_size=version.code_size,
            created_at=version.created_at,
            error=version.error,
        )


class FunctionOut(BaseModel):
    name: str
    namespace: str
    created_at: datetime
    updated_at: datetime
    latest_version: int | None
    versions: int
    config: VersionOut | None

    @classmethod
    def of(cls, function: Function, namespace: str, latest: Version | None) -> FunctionOut:
        return cls(
            name=function.name,
            namespace=namespace,
            created_at=function.created_at,
            updated_at=function.updated_at,
            latest_version=function.latest_version,
            versions=function.version_count,
            config=VersionOut.of(latest) if latest else None,
        )


class FunctionList(BaseModel):
    items: list[FunctionOut]


class VersionList(BaseModel):
    items: list[VersionOut]


class InvocationOut(BaseModel):
    id: str
    function: str
    version: int
    trigger: str
    state: str
    cold_start: bool
    created_at: datetime
    finished_at: datetime | None
    duration_ms: float | None
    timings: dict[str, float]
    result: Any = None
    error: dict[str, Any] | None = None
    log_excerpt: str
    logs_truncated: bool

    @classmethod
    def of(cls, invocation: Invocation) -> InvocationOut:
        return cls(
            id=invocation.id,
            function=invocation.function_name,
            version=invocation.version,
            trigger=invocation.trigger,
            state=invocation.state.value,
            cold_start=invocation.cold_start,
            created_at=invocation.created_at,
            finished_at=invocation.finished_at,
            duration_ms=invocation.duration_ms,
            timings=invocation.timings,
            result=invocation.result,
            error=invocation.error,
            log_excerpt=invocation.log_excerpt,
            logs_truncated=invocation.logs_truncated,
        )


class InvocationList(BaseModel):
    items: list[InvocationOut]
    next_cursor: str | None


class KeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # Printable: no control characters (PostgreSQL's text cannot even hold a NUL).
    name: str = Field(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")
    role: Role = Role.DEVELOPER


class KeyOut(BaseModel):
    id: str
    name: str
    role: str
    prefix: str
    created_at: datetime
    revoked_at: datetime | None

    @classmethod
    def of(cls, key: ApiKey) -> KeyOut:
        return cls(
            id=key.id,
            name=key.name,
            role=key.role.value,
            prefix=key.prefix,
            created_at=key.created_at,
            revoked_at=key.revoked_at,
        )


class KeyCreated(KeyOut):
    key: str = Field(description="The secret key. It is shown only this once.")


class KeyList(BaseModel):
    items: list[KeyOut]
