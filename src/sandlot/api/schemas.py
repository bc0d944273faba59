"""Request and response bodies of the REST API."""

from __future__ import annotations

import base64
import io
import zipfile
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from sandlot.domain.limits import (
    DEFAULT_HANDLER,
    ENV_KEY_RE,
    ENV_MAX_BYTES,
    FUNCTION_NAME_RE,
    HANDLER_RE,
    KEEP_ALIVE_S_MAX,
    KEEP_ALIVE_S_MIN,
    LOG_LEVELS,
    MAX_CONCURRENCY_MAX,
    MEMORY_MB_DEFAULT,
    MEMORY_MB_MAX,
    MEMORY_MB_MIN,
    MIN_WARM_MAX,
    RESERVED_ENV_PREFIXES,
    TIMEOUT_S_DEFAULT,
    TIMEOUT_S_MAX,
    TIMEOUT_S_MIN,
    VERSION_NUMBER_MAX,
)
from sandlot.domain.models import ApiKey, Function, Invocation, Role, Version
from sandlot.domain.secrets import SECRET_NAME_RE, SECRETS_DIR


class ErrorDetail(BaseModel):
    model_config = ConfigDict(extra="allow")
    message: str = Field(description="What went wrong, for a person; other keys name the facts")


class ErrorOut(BaseModel):
    """Every error answer (`api.errors`), whatever the success answer's content type."""

    error: str = Field(description="The error's name, e.g. FunctionNotFound")
    detail: ErrorDetail


class Problem(BaseModel):
    field: str = Field(description="Where: e.g. body.memory_mb, query.version, path.number")
    message: str


class ValidationDetail(BaseModel):
    message: str
    problems: list[Problem]


class ValidationErrorOut(BaseModel):
    """A 422: the request does not match the operation's documented parameters or body."""

    error: Literal["ValidationError"]
    detail: ValidationDetail


def _documented(description: str, **schema: Any) -> Any:
    """A deploy field whose rule is documented here but checked by the domain, for JSON and
    multipart deploys alike (a 400 such as InvalidLimit, not a 422)."""
    return Field(None, description=description, json_schema_extra=schema)


class SecretUse(BaseModel):
    """A secret a function names, and how its instances get it."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    name: str = Field(
        description="The secret's name", json_schema_extra={"pattern": SECRET_NAME_RE.pattern}
    )
    as_: Literal["env", "file"] = Field(
        "env",
        alias="as",
        description=f"`env`: an environment variable of its name; `file`: {SECRETS_DIR}/NAME",
    )


class DeployFields(BaseModel):
    """What a deploy may set; a field left out keeps the last version's value (or the
    default)."""

    model_config = ConfigDict(extra="forbid")
    handler: str | None = _documented(
        f"module.function; default {DEFAULT_HANDLER}", pattern=HANDLER_RE.pattern
    )
    memory_mb: int | None = _documented(
        f"MB; default {MEMORY_MB_DEFAULT}", minimum=MEMORY_MB_MIN, maximum=MEMORY_MB_MAX
    )
    timeout_s: int | None = _documented(
        f"seconds; default {TIMEOUT_S_DEFAULT}", minimum=TIMEOUT_S_MIN, maximum=TIMEOUT_S_MAX
    )
    env: dict[str, str] | None = _documented(
        f"environment variables, replacing the whole set; {ENV_MAX_BYTES} bytes in all, no "
        f"names starting with {' or '.join(RESERVED_ENV_PREFIXES)}",
        propertyNames={"pattern": ENV_KEY_RE.pattern},
    )
    max_concurrency: int | None = _documented(
        "concurrent instances at most", minimum=1, maximum=MAX_CONCURRENCY_MAX
    )
    min_warm: int | None = _documented(
        "instances kept started and ready", minimum=0, maximum=MIN_WARM_MAX
    )
    keep_alive_s: int | None = _documented(
        "seconds an idle instance lives", minimum=KEEP_ALIVE_S_MIN, maximum=KEEP_ALIVE_S_MAX
    )
    log_level: str | None = _documented(
        "the level of its instances' root logger, as Lambda's ApplicationLogLevel (in "
        "Python's names); default INFO",
        enum=[*LOG_LEVELS, None],
    )
    secrets: list[str | SecretUse] | None = Field(
        None,
        description="the namespace's secrets its instances get, replacing the whole list: "
        'names (as env vars) or {"name": ..., "as": "env"|"file"}; each must exist',
    )
    egress: list[str] | None = Field(
        None,
        description="What the function's network may reach, replacing the whole policy: "
        '["none"] (the default: nothing), destinations such as "api.example.com:443", '
        '"10.0.5.0/24:5432", "[2001:db8::1]:443", and/or "internet" (every public address); '
        "within the namespace's egress bound",
        json_schema_extra={"examples": [["api.example.com:443"]]},
    )


def _example_zip() -> str:
    """A working deploy for the document's example (and /docs' "Try it out"), base64."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        entry = zipfile.ZipInfo("main.py", date_time=(2024, 1, 1, 0, 0, 0))
        archive.writestr(entry, EXAMPLE_HANDLER)
    return base64.b64encode(buffer.getvalue()).decode()


EXAMPLE_HANDLER = (
    "def handler(event, context):\n    return {'hello': (event or {}).get('name', 'world')}\n"
)


def _files_field(what: str) -> Any:
    return Field(
        None,
        description=f"{what} as text files, path → content (UTF-8), instead of "
        "`code_base64`: the server zips them, and checks them as it checks a zip",
    )


class FunctionCreateJson(DeployFields):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"name": "hello", "code_base64": _example_zip()}]},
    )
    name: str = Field(
        description="Unique in the namespace",
        json_schema_extra={"pattern": FUNCTION_NAME_RE.pattern},
    )
    code_base64: str | None = Field(
        None,
        description="The function's folder as a zip, base64-encoded; this or `files` is required",
    )
    files: dict[str, str] | None = _files_field("The function's folder")


class FunctionUpdateJson(DeployFields):
    code_base64: str | None = Field(
        None, description="New code, as a zip, base64-encoded; default: the last version's"
    )
    files: dict[str, str] | None = _files_field("New code")
    env_set: dict[str, str] | None = Field(
        None,
        description="Merged into the newest version's env (instead of `env`)",
        json_schema_extra={"propertyNames": {"pattern": ENV_KEY_RE.pattern}},
    )
    env_unset: list[str] | None = Field(None, description="Names removed from that env")
    expect_version: int | None = Field(
        None,
        ge=1,
        le=VERSION_NUMBER_MAX,
        description="The version this deploy supersedes (as the `If-Match` header does): "
        "refused with 409 VersionConflict when the newest version is another one",
    )


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
    log_level: str | None = Field(description="Its root logger's level; null: INFO")
    secrets: list[SecretUse] = Field(description="Names only: a value is never shown")
    egress: list[str] = Field(
        description='Its network policy: ["none"], its destinations, and/or "internet"'
    )
    code_sha256: str
    code_size: int
    created_at: datetime
    error: str | None
    deployed_by: str | None = Field(
        description="Who deployed it: the user's login for a signed-in person, "
        "`key:<key name>` for an API key; null for versions made before this was recorded"
    )
    build_warnings: list[str] = Field(
        default_factory=list,
        description="What its build found without failing it: top-level imports that "
        "neither the standard library, the function's own files nor its dependencies "
        "provide, each with the package to add (empty until the build has run)",
    )

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
            log_level=version.config.log_level,
            secrets=[SecretUse(name=r.name, as_=r.mount.value) for r in version.config.secrets],
            egress=version.config.egress.as_text(),
            code_sha256=version.code_sha256,
            code_size=version.code_size,
            created_at=version.created_at,
            error=version.error,
            deployed_by=version.deployed_by,
            build_warnings=list(version.build_warnings),
        )


class FunctionOut(BaseModel):
    id: str = Field(description="This function's own id; a later one of the same name differs")
    name: str
    namespace: str
    created_at: datetime
    updated_at: datetime
    latest_version: int | None
    versions: int
    config: VersionOut | None
    warnings: list[str] = Field(
        default_factory=list,
        description="On a deploy: what the caller should know (e.g. egress is not enforced)",
    )
    unchanged: bool = Field(
        False,
        description="A deploy identical (code and configuration) to the newest version: it "
        "made no version, and `versions` still counts to that one",
    )

    @classmethod
    def of(
        cls,
        function: Function,
        namespace: str,
        latest: Version | None,
        warnings: tuple[str, ...] = (),
        *,
        unchanged: bool = False,
    ) -> FunctionOut:
        return cls(
            unchanged=unchanged,
            id=function.id,
            name=function.name,
            namespace=namespace,
            created_at=function.created_at,
            updated_at=function.updated_at,
            latest_version=function.latest_version,
            versions=function.version_count,
            config=VersionOut.of(latest) if latest else None,
            warnings=list(warnings),
        )


class FunctionList(BaseModel):
    items: list[FunctionOut]


class VersionList(BaseModel):
    items: list[VersionOut]


class InvocationOut(BaseModel):
    id: str
    function: str
    function_id: str = Field(description="The `id` of the function it ran")
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
    event: str | None = Field(
        default=None,
        description="The event it was invoked with, as JSON text, up to "
        "SANDLOT_INVOCATION_EVENT_BYTES (cut there: then no longer JSON); null when none was "
        "kept (the setting is 0, or the call predates it)",
    )
    event_truncated: bool = Field(
        default=False, description="The event was longer than the bound and `event` is its start"
    )
    attempt: int = Field(
        default=1,
        description="The attempt running or last run (an asynchronous call still queued for "
        "its first: 0; a sync call: 1)",
    )
    max_attempts: int | None = Field(
        default=None, description="Asynchronous calls: the most attempts it may have"
    )
    run_after: datetime | None = Field(
        default=None, description="Asynchronous calls: when it may run (next)"
    )
    attempts: list[dict[str, Any]] = Field(
        default_factory=list,
        description="Asynchronous calls: each earlier attempt's end, oldest first "
        "({attempt, state, error, started_at, finished_at})",
    )
    caused_by: str | None = Field(
        default=None, description="The invocation whose destination queued this one"
    )
    alias: str | None = Field(
        default=None,
        description="The alias the call named (`latest` when it named none; null when it "
        "named a version number); `version` is the one that served it",
    )

    @classmethod
    def of(cls, invocation: Invocation) -> InvocationOut:
        return cls(
            id=invocation.id,
            function=invocation.function_name,
            function_id=invocation.function_id,
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
            event=invocation.event,
            event_truncated=invocation.event_truncated,
            attempt=invocation.attempt,
            max_attempts=invocation.max_attempts,
            run_after=invocation.run_after,
            attempts=list(invocation.attempts),
            caused_by=invocation.caused_by,
            alias=invocation.alias,
        )


class InvocationList(BaseModel):
    items: list[InvocationOut]
    next_cursor: str | None


ROLE_DESCRIPTION = (
    "One of `admin` (a key role only: the platform admin), `owner`, `developer`, `invoker`, "
    "`viewer`; never above the caller's own (RoleTooHigh)"
)


class KeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # Printable: no control characters (PostgreSQL's text cannot even hold a NUL).
    name: str = Field(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")
    # A string, not an enum: an unknown role is the named InvalidRole, not a schema error.
    role: str = Field(default=Role.DEVELOPER.value, max_length=32, description=ROLE_DESCRIPTION)
    functions: list[str] | None = Field(
        default=None,
        max_length=100,
        description="Limit the key to these function names; leave out for every function",
    )
    expires_at: datetime | None = Field(default=None, description="When the key stops working")
    expires_in_days: int | None = Field(
        default=None, ge=1, le=3650, description="Or: days from now until it stops working"
    )


class KeyOut(BaseModel):
    id: str
    name: str
    role: str
    prefix: str
    created_at: datetime
    revoked_at: datetime | None
    functions: list[str] | None = Field(description="The functions it is limited to; null: all")
    expires_at: datetime | None
    last_used_at: datetime | None
    created_by: str | None = Field(
        description="The login of the person who made it; null for keys no person made "
        "(the bootstrap key, offline recovery keys, keys made by keys)"
    )

    @classmethod
    def of(cls, key: ApiKey) -> KeyOut:
        return cls(
            id=key.id,
            name=key.name,
            role=key.role.value,
            prefix=key.prefix,
            created_at=key.created_at,
            revoked_at=key.revoked_at,
            functions=list(key.functions) if key.functions is not None else None,
            expires_at=key.expires_at,
            last_used_at=key.last_used_at,
            created_by=key.created_by,
        )


class KeyCreated(KeyOut):
    key: str = Field(description="The secret key. It is shown only this once.")
    aws_access_key_id: str = Field(
        description="The key as an AWS access key id (`sl_<prefix>`), for boto3 and the AWS "
        "CLI on the Lambda API (/2015-03-31); the secret access key is `key` itself"
    )
    aws_region: str = Field(description="The region to sign Lambda API requests for")


class KeyList(BaseModel):
    items: list[KeyOut]
