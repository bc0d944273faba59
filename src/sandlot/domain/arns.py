"""ARN-shaped names for Sandlot's functions, as Lambda's context and API give them.

`arn:aws:lambda:<region>:<account>:function:<name>[:<qualifier>]`: the region is the
operator's setting (`SANDLOT_AWS_REGION`), the account a 12-digit number derived from the
namespace's name (stable, and different per namespace, so tools that parse an ARN's account
field find one), the qualifier the alias or version that the caller named. `aws` stays the
partition so that the SDKs' ARN parsers accept it; nothing else about it is Amazon's.
"""

from __future__ import annotations

import hashlib
import re

from sandlot.domain.errors import InvalidInput

_ARN_RE = re.compile(
    r"^arn:aws:lambda:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):function:"
    r"(?P<name>[A-Za-z0-9_-]+)(?::(?P<qualifier>\$LATEST|[A-Za-z0-9_-]+))?$"
)


def account_id(namespace: str) -> str:
    """The namespace's 12-digit account number."""
    digest = hashlib.sha256(f"sandlot-namespace:{namespace}".encode()).digest()
    return f"{int.from_bytes(digest[:8], 'big') % 10**12:012d}"


def function_arn(region: str, namespace: str, function: str, qualifier: str | None = None) -> str:
    arn = f"arn:aws:lambda:{region}:{account_id(namespace)}:function:{function}"
    return f"{arn}:{qualifier}" if qualifier else arn


def log_group_name(namespace: str, function: str) -> str:
    """A function's log group: Lambda's is `/aws/lambda/<function>`; Sandlot's names the
    namespace too, since function names are unique only within one."""
    return f"/sandlot/{namespace}/{function}"


def parse_function_arn(arn: str) -> tuple[str, str, str, str | None]:
    """(region, account, function, qualifier) of a function ARN; `InvalidInput` otherwise."""
    found = _ARN_RE.fullmatch(arn)
    if found is None:
        raise InvalidInput(f"not a function ARN: {arn!r}", field="FunctionName")
    return found["region"], found["account"], found["name"], found["qualifier"]
