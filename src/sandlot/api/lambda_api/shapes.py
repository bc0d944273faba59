"""Lambda's `FunctionConfiguration`, built from a Sandlot function and one of its versions.

What Sandlot does not keep is filled the way Lambda would answer for a plain zip function:
`Role` is echoed when the request gave one, else `DEFAULT_ROLE`; `Description` is "";
`PackageType` "Zip", `Architectures` ["x86_64"]. `Runtime` is always this server's own
Python (`python3.X`): Sandlot runs every function on it, whatever runtime was asked for.
"""

from __future__ import annotations

import base64
import binascii
import sys
from dataclasses import dataclass
from typing import Any

from sandlot.domain import arns
from sandlot.domain.arns import account_id, function_arn, parse_function_arn
from sandlot.domain.errors import FunctionNotFound, InvalidInput
from sandlot.domain.limits import LAMBDA_LOG_LEVEL_NAMES
from sandlot.domain.models import Function, Version
from sandlot.domain.states import VersionState

LATEST = "$LATEST"
RUNTIME = f"python{sys.version_info.major}.{sys.version_info.minor}"

# (State, LastUpdateStatus) per version state, as Lambda reports a function being set up.
_STATES: dict[VersionState, tuple[str, str]] = {
    VersionState.PENDING: ("Pending", "InProgress"),
    VersionState.BUILDING: ("Pending", "InProgress"),
    VersionState.READY: ("Active", "Successful"),
    VersionState.FAILED: ("Failed", "Failed"),
}


def default_role(namespace: str) -> str:
    """What `Role` reads when none was given: Sandlot has no IAM, so a fixed, documented
    role name in the namespace's account."""
    return f"arn:aws:iam::{account_id(namespace)}:role/sandlot-function"


def code_sha256(hex_digest: str) -> str:
    """Lambda's `CodeSha256`: the base64 of the zip's SHA-256 (Sandlot stores it in hex)."""
    try:
        return base64.b64encode(bytes.fromhex(hex_digest)).decode()
    except (ValueError, binascii.Error):
        return hex_digest


def qualifier_of(version: Version, latest: bool) -> str:
    return LATEST if latest else str(version.number)


@dataclass(frozen=True)
class FunctionRef:
    """What a `FunctionName` (and a `Qualifier`) name: a function and, optionally, "$LATEST",
    a version number or an alias name."""

    name: str
    qualifier: str | None = None

    @property
    def version_number(self) -> int | None:
        """The version a numeric qualifier names (None: $LATEST, an alias, or none)."""
        if self.qualifier is not None and self.qualifier.isdigit():
            return int(self.qualifier)
        return None

    @property
    def is_latest(self) -> bool:
        return self.qualifier is None or self.qualifier == LATEST


def function_ref(
    raw: str, *, region: str, namespace: str, qualifier: str | None = None
) -> FunctionRef:
    """A `FunctionName` as Lambda takes it: a name, `name:qualifier`, or a function ARN,
    which must be of this region and the caller's namespace's account (another account's
    function is not found, as another namespace's always is). A `Qualifier` given besides
    one in the name must be the same."""
    if raw.startswith("arn:"):
        arn_region, account, name, in_name = parse_function_arn(raw)
        if account != account_id(namespace):
            raise FunctionNotFound(f"Function not found: {raw}", function=raw)
        if arn_region != region:
            raise InvalidInput(
                f"the ARN is of region {arn_region!r}; this server is {region!r}",
                field="FunctionName",
            )
    else:
        name, sep, in_name_text = raw.partition(":")
        in_name = in_name_text if sep else None
        if sep and not in_name_text:
            raise InvalidInput(f"FunctionName {raw!r} has an empty qualifier")
    if in_name is not None and qualifier is not None and in_name != qualifier:
        raise InvalidInput(
            f"the qualifier in FunctionName ({in_name!r}) and Qualifier ({qualifier!r}) differ"
        )
    return FunctionRef(name, in_name if in_name is not None else qualifier)


def function_configuration(
    *,
    region: str,
    namespace: str,
    function: Function,
    version: Version,
    latest: bool = True,
    role: str | None = None,
    alias: str | None = None,
) -> dict[str, Any]:
    """`latest`: answer for `$LATEST` (unqualified ARN, Version "$LATEST") from the newest
    version, ready or not; else for the immutable version N (the ARN qualified with N,
    Version "N"). `alias`: for version N read through that alias (the ARN qualified with
    the alias, Version "N", as Lambda answers)."""
    config = version.config
    state, update_status = _STATES[version.state]
    if latest and function.latest_version is not None and state != "Active":
        # An update under way or failed; the function itself still serves its last ready
        # version, which is what Lambda's State says (LastUpdateStatus tells the rest).
        state = "Active"
    answer: dict[str, Any] = {
        "FunctionName": function.name,
        "FunctionArn": function_arn(
            region, namespace, function.name, alias or (None if latest else str(version.number))
        ),
        "Runtime": RUNTIME,
        "Role": role or default_role(namespace),
        "Handler": config.handler,
        "CodeSize": version.code_size,
        "CodeSha256": code_sha256(version.code_sha256),
        "Description": "",
        "Timeout": config.timeout_s,
        "MemorySize": config.memory_mb,
        "LastModified": _lambda_time(version),
        "Version": qualifier_of(version, latest),
        "Environment": {"Variables": dict(config.env)},
        "TracingConfig": {"Mode": "PassThrough"},
        "RevisionId": version.id,
        "State": state,
        "LastUpdateStatus": update_status,
        "PackageType": "Zip",
        "Architectures": ["x86_64"],
        "EphemeralStorage": {"Size": 512},
        "LoggingConfig": logging_config(version, namespace, function.name),
    }
    if version.state is VersionState.FAILED:
        reason = version.error or "the build failed"
        answer["LastUpdateStatusReason"] = reason
        answer["LastUpdateStatusReasonCode"] = "InvalidConfiguration"
        if state == "Failed":
            answer["StateReason"] = reason
            answer["StateReasonCode"] = "InvalidConfiguration"
    elif state == "Pending":
        answer["StateReason"] = "The function is being created (dependencies are installed)."
        answer["StateReasonCode"] = "Creating"
    return answer


def logging_config(version: Version, namespace: str, function_name: str) -> dict[str, Any]:
    config: dict[str, Any] = {
        "LogFormat": "Text",
        "LogGroup": arns.log_group_name(namespace, function_name),
    }
    level = version.config.log_level
    if level:
        config["ApplicationLogLevel"] = LAMBDA_LOG_LEVEL_NAMES.get(level, level)
    return config


def _lambda_time(version: Version) -> str:
    # Lambda's own format: 2026-12-02T04:12:46.000+0000
    return version.created_at.strftime("%Y-%m-%dT%H:%M:%S.") + (
        f"{version.created_at.microsecond // 1000:03d}+0000"
    )
