"""What the Lambda API's function operations take: Lambda's request shapes (PascalCase, as
botocore sends them), and how each maps onto Sandlot's `ConfigChanges` or is refused by name
as not supported."""

from __future__ import annotations

import base64
import binascii
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from sandlot.api.lambda_api.errors import LambdaError
from sandlot.domain.errors import InvalidInput
from sandlot.domain.limits import LOG_LEVELS
from sandlot.services.functions import ConfigChanges

NOT_SUPPORTED = "is not supported by Sandlot"


class _Lenient(BaseModel):
    # Fields Lambda has and Sandlot neither keeps nor refuses are ignored, as Lambda
    # ignores what a newer SDK sends.
    model_config = ConfigDict(extra="ignore")


class CodeIn(_Lenient):
    ZipFile: str | None = None  # base64, as botocore sends a blob in JSON
    S3Bucket: str | None = None
    S3Key: str | None = None
    S3ObjectVersion: str | None = None
    ImageUri: str | None = None


class EnvironmentIn(_Lenient):
    Variables: dict[str, str] | None = None


class LoggingConfigIn(_Lenient):
    LogFormat: str | None = None
    ApplicationLogLevel: str | None = None
    SystemLogLevel: str | None = None
    LogGroup: str | None = None


class SettingsIn(_Lenient):
    """What CreateFunction and UpdateFunctionConfiguration both set."""

    Role: str | None = None
    Handler: str | None = None
    Runtime: str | None = None
    Description: str | None = None
    Timeout: int | None = None
    MemorySize: int | None = None
    Environment: EnvironmentIn | None = None
    LoggingConfig: LoggingConfigIn | None = None
    TracingConfig: dict[str, Any] | None = None
    KMSKeyArn: str | None = None
    VpcConfig: dict[str, Any] | None = None
    Layers: list[str] | None = None
    FileSystemConfigs: list[dict[str, Any]] | None = None
    DeadLetterConfig: dict[str, Any] | None = None
    ImageConfig: dict[str, Any] | None = None
    EphemeralStorage: dict[str, Any] | None = None
    SnapStart: dict[str, Any] | None = None


class CreateFunctionIn(SettingsIn):
    FunctionName: str
    Code: CodeIn
    Publish: bool = False
    PackageType: str | None = None
    Tags: dict[str, str] | None = None
    Architectures: list[str] | None = None
    CodeSigningConfigArn: str | None = None


class UpdateConfigurationIn(SettingsIn):
    RevisionId: str | None = None


class UpdateCodeIn(CodeIn):
    Publish: bool = False
    DryRun: bool = False
    RevisionId: str | None = None
    Architectures: list[str] | None = None


M = TypeVar("M", bound=BaseModel)


def parsed(model: type[M], body: bytes) -> M:
    try:
        return model.model_validate_json(body or b"{}")
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in problem['loc']) or 'body'}: {problem['msg']}"
            for problem in error.errors()
        )
        raise InvalidInput(f"the request is not valid: {problems}") from None


def zip_of(code: CodeIn) -> bytes:
    if code.S3Bucket or code.S3Key or code.S3ObjectVersion:
        raise LambdaError(f"code in S3 {NOT_SUPPORTED}: send the zip itself (ZipFile)")
    if code.ImageUri:
        raise LambdaError(f"container images {NOT_SUPPORTED}: send a zip (ZipFile)")
    if not code.ZipFile:
        raise LambdaError("the code is missing: send the zip in ZipFile")
    try:
        return base64.b64decode(code.ZipFile, validate=True)
    except (binascii.Error, ValueError):
        raise LambdaError("ZipFile is not valid base64") from None


def check_architectures(architectures: list[str] | None) -> None:
    if architectures not in (None, [], ["x86_64"]):
        raise LambdaError(f"Architectures {architectures} {NOT_SUPPORTED}: only x86_64")


def changes_of(body: SettingsIn) -> ConfigChanges:
    _refuse_unsupported(body)
    if body.Runtime is not None and not body.Runtime.startswith("python3"):
        raise LambdaError(
            f"Runtime {body.Runtime!r} {NOT_SUPPORTED}: Sandlot runs Python (any python3.x is "
            "accepted and runs on this server's Python)"
        )
    fields: dict[str, Any] = {
        "handler": body.Handler,
        "memory_mb": body.MemorySize,
        "timeout_s": body.Timeout,
        "env": dict(body.Environment.Variables or {}) if body.Environment else None,
    }
    level = body.LoggingConfig.ApplicationLogLevel if body.LoggingConfig else None
    if level is not None:
        fields["log_level"] = python_log_level(level)
    return ConfigChanges(**fields)


# Lambda's level names -> Python's (TRACE has no Python level: DEBUG is the nearest).
_PYTHON_LEVELS = {"TRACE": "DEBUG", "WARN": "WARNING", "FATAL": "CRITICAL"}


def python_log_level(level: str) -> str:
    upper = level.upper()
    name = _PYTHON_LEVELS.get(upper, upper)
    if name not in LOG_LEVELS:
        raise LambdaError(
            f"LoggingConfig.ApplicationLogLevel must be one of TRACE, DEBUG, INFO, WARN, "
            f"ERROR, FATAL, not {level[:20]!r}"
        )
    return name


def _refuse_unsupported(body: SettingsIn) -> None:
    vpc = body.VpcConfig or {}
    if vpc.get("SubnetIds") or vpc.get("SecurityGroupIds"):
        raise LambdaError(
            f"VpcConfig {NOT_SUPPORTED}: a function's network is its egress policy "
            "(/api/v1/functions/{name}/egress)"
        )
    for name, given in (
        ("Layers", body.Layers),
        ("FileSystemConfigs", body.FileSystemConfigs),
        ("ImageConfig", body.ImageConfig),
    ):
        if given:
            raise LambdaError(f"{name} {NOT_SUPPORTED}")
    if body.DeadLetterConfig and body.DeadLetterConfig.get("TargetArn"):
        raise LambdaError(
            f"DeadLetterConfig {NOT_SUPPORTED}: failed asynchronous calls are kept as dead "
            "invocations (/api/v1/dead-letters), and destinations can forward them"
        )
    if body.SnapStart and body.SnapStart.get("ApplyOn") not in (None, "None"):
        raise LambdaError(f"SnapStart {NOT_SUPPORTED}: each version's zygote starts warm")
    size = (body.EphemeralStorage or {}).get("Size")
    if size not in (None, 512):
        raise LambdaError(f"EphemeralStorage of {size} MB {NOT_SUPPORTED}: /tmp is 512 MB")
