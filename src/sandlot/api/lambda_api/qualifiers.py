"""What a Lambda request's `FunctionName` (and `Qualifier`) name, in Sandlot's terms.

Parsing is `shapes.function_ref` (a name, `name:qualifier` or an ARN of the caller's own
account). The qualifier is `$LATEST`, a version number or an alias: Sandlot's `latest` is
Lambda's `$LATEST`, its version N is Lambda's "N", and an alias is called as `name:alias`
(`domain.aliases`).
"""

from __future__ import annotations

from typing import Annotated, TypeVar

from fastapi import Path, Request
from pydantic import BaseModel, ValidationError

from sandlot.api.lambda_api.auth import signed_body
from sandlot.api.lambda_api.shapes import LATEST, FunctionRef, function_ref
from sandlot.domain.errors import InvalidInput
from sandlot.domain.limits import VERSION_NUMBER_MAX
from sandlot.domain.models import Principal

LAMBDA_LATEST = LATEST
# The path parameter every operation names its function with, under Lambda's name.
FunctionName = Annotated[str, Path(alias="FunctionName", min_length=1, max_length=256)]


def target_of(
    principal: Principal, region: str, function_name: str, qualifier: str | None = None
) -> FunctionRef:
    """The function a request names, with `Qualifier` (a query parameter) when it gives one;
    a numeric qualifier must be a version number Sandlot can have."""
    if qualifier == "":
        raise InvalidInput("the Qualifier is empty", field="Qualifier")
    ref = function_ref(
        function_name, region=region, namespace=principal.namespace, qualifier=qualifier
    )
    if ref.qualifier is not None and is_version_number(ref.qualifier):
        version_number(ref.qualifier)
    return ref


def sandlot_call(ref: FunctionRef) -> tuple[str, int | None]:
    """(qualified name, version) as `services.invocations.invoke` takes them."""
    if ref.is_latest:
        return ref.name, None
    assert ref.qualifier is not None
    if is_version_number(ref.qualifier):
        return ref.name, version_number(ref.qualifier)
    return f"{ref.name}:{ref.qualifier}", None


def unqualified(principal: Principal, region: str, function_name: str) -> str:
    """The function of an operation on the function itself (its aliases, versions or
    concurrency): a qualifier here is refused rather than ignored."""
    ref = target_of(principal, region, function_name)
    if ref.qualifier is not None:
        raise InvalidInput(
            f"this operation takes an unqualified function name, not {function_name!r}",
            field="FunctionName",
        )
    return ref.name


M = TypeVar("M", bound=BaseModel)


def parsed_body(model: type[M], request: Request) -> M:
    """The signed JSON body as `model`. Not a FastAPI body parameter: the signature check
    has read the body already, and this is the copy it verified."""
    try:
        return model.model_validate_json(signed_body(request) or b"{}")
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in problem['loc']) or 'body'}: {problem['msg']}"
            for problem in error.errors()
        )
        raise InvalidInput(f"the request is not valid: {problems}") from None


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
