"""The OpenAPI document as the server actually answers.

FastAPI documents every 422 in its own `HTTPValidationError` shape and files a route's error
answers under the route's own media type (text/plain for the logs, say), but Sandlot sends
every error as JSON in one shape (`api.errors`). Rewriting the generated document in one
place keeps it true for every route, including routes added later.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from sandlot.api.schemas import ErrorOut, ValidationErrorOut

_REF = "#/components/schemas/{model}"
_FASTAPI_VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError")


def install(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                summary=app.summary,
                description=app.description,
                routes=app.routes,
            )
            app.openapi_schema = truthful(document)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def truthful(document: dict[str, Any]) -> dict[str, Any]:
    """Errors as sent: `ValidationErrorOut` for every 422, and `ErrorOut` always as JSON."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for name in _FASTAPI_VALIDATION_SCHEMAS:
        schemas.pop(name, None)
    _, top = models_json_schema(
        [(ErrorOut, "serialization"), (ValidationErrorOut, "serialization")], ref_template=_REF
    )
    schemas.update(top["$defs"])
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            _namespace_not_found(operation)
            _too_many_failures(operation)
            for status, response in operation.get("responses", {}).items():
                if status == "422":
                    response["content"] = _json_of(ValidationErrorOut)
                elif _refers_to(response, ErrorOut):
                    response["content"] = _json_of(ErrorOut)
    return document


def _namespace_not_found(operation: dict[str, Any]) -> None:
    """Any route that takes `X-Sandlot-Namespace` may answer 404 NamespaceNotFound."""
    names = {parameter.get("name") for parameter in operation.get("parameters", [])}
    responses = operation.setdefault("responses", {})
    if "X-Sandlot-Namespace" in names and "404" not in responses:
        responses["404"] = {
            "description": "NamespaceNotFound: no namespace of that name that you can act in",
            "content": _json_of(ErrorOut),
        }


def _too_many_failures(operation: dict[str, Any]) -> None:
    """Any route that authenticates may answer 429 TooManyAuthFailures: the caller's address
    presented too many wrong credentials lately, whatever it presents now."""
    responses = operation.setdefault("responses", {})
    if operation.get("security") and "429" not in responses:
        responses["429"] = {
            "description": "TooManyAuthFailures (too many wrong credentials from this "
            "address; see Retry-After), or a rate limit",
            "headers": {"Retry-After": {"schema": {"type": "integer"}}},
            "content": _json_of(ErrorOut),
        }


def _json_of(model: type[BaseModel]) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": _REF.format(model=model.__name__)}}}


def _refers_to(response: dict[str, Any], model: type[BaseModel]) -> bool:
    ref = _REF.format(model=model.__name__)
    return any(
        content.get("schema", {}).get("$ref") == ref
        for content in response.get("content", {}).values()
    )
