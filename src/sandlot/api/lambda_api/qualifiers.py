"""What a Lambda request's `FunctionName` (and `Qualifier`) name, in Sandlot's terms.

Lambda takes a function as its name, `name:qualifier` or its ARN; the qualifier is
`$LATEST`, a version number or an alias. Sandlot's `latest` is Lambda's `$LATEST`, its
version N is Lambda's "N", and an alias is called as `name:alias` (`domain.aliases`).
An ARN is accepted only with the caller's own namespace's account: another account's is
not found, as another namespace's function always is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Path

from sandlot.domain.arns import account_id, parse_function_arn
from sandlot.domain.errors import FunctionNotFound, InvalidInput
from sandlot.domain.limits import VERSION_NUMBER_MAX
from sandlot.domain.models import Principal

LAMBDA_LATEST = "$LATEST"
# The path parameter every operation names its function with, under Lambda's name.
FunctionName = Annotated[str, Path(alias="FunctionName", min_length=1, max_length=256)]


@dataclass(frozen=True)
class Target:
    """A function and what the caller qualified it with (None: unqualified)."""

    name: str
    qualifier: str | None = None

    @property
    def latest(self) -> bool:
        return self.qualifier is None or self.qualifier == LAMBDA_LATEST

    @property
    def version(self) -> int | None:
        """The version number the qualifier names, if it names one."""
        if self.qualifier is None or not is_version_number(self.qualifier):
            return None
        return version_number(self.qualifier)

    @property
    def alias(self) -> str | None:
        if self.latest or self.version is not None:
            return None
        return self.qualifier

    def sandlot_call(self) -> tuple[str, int | None]:
        """(qualified name, version) as `services.invocations.invoke` takes them."""
        if self.alias is not None:
            return f"{self.name}:{self.alias}", None
        return self.name, self.version


def target_of(principal: Principal, function_name: str, qualifier: str | None = None) -> Target:
    """The function a request names, with `Qualifier` (a query parameter) when it gives one.
    Both forms at once must agree, as Lambda requires."""
    if function_name.startswith("arn:"):
        _, account, name, in_name = parse_function_arn(function_name)
        if account != account_id(principal.namespace):
            raise FunctionNotFound(f"no function {function_name!r} in this account", function=name)
    else:
        name, colon, rest = function_name.partition(":")
        in_name = rest if colon else None
    if in_name == "" or qualifier == "":
        raise InvalidInput("the qualifier is empty", field="Qualifier")
    if in_name is not None and qualifier is not None and in_name != qualifier:
        raise InvalidInput(
            f"the function name's qualifier {in_name!r} differs from Qualifier {qualifier!r}",
            field="Qualifier",
        )
    return Target(name=name, qualifier=in_name if in_name is not None else qualifier)


def unqualified(principal: Principal, function_name: str) -> str:
    """The function of an operation on the function itself (its aliases, versions or
    concurrency): a qualifier here is refused rather than ignored."""
    target = target_of(principal, function_name)
    if target.qualifier is not None:
        raise InvalidInput(
            f"this operation takes an unqualified function name, not {function_name!r}",
            field="FunctionName",
        )
    return target.name


def is_version_number(text: str) -> bool:
    # ASCII digits only ("²".isdigit() is true).
    return text.isascii() and text.isdigit()


def version_number(text: str) -> int:
    """A version number as Lambda writes it ("3"), within Sandlot's range."""
    if not is_version_number(text) or len(text) > 10 or not 1 <= int(text) <= VERSION_NUMBER_MAX:
        raise InvalidInput(
            f"{text!r} is not a version number (1 to {VERSION_NUMBER_MAX})", field="Version"
        )
    return int(text)
