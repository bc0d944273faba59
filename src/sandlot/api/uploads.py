"""Reading request bodies within limits, and the two shapes of a deploy (multipart or JSON)."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from starlette.datastructures import UploadFile
from starlette.types import Message

from sandlot.api.schemas import FunctionCreateJson, FunctionUpdateJson
from sandlot.domain.egress import EgressPolicy
from sandlot.domain.errors import InvalidEgressPolicy, InvalidInput, PayloadTooLarge
from sandlot.domain.limits import VERSION_NUMBER_MAX
from sandlot.domain.secrets import SecretRef, parse_secret_refs
from sandlot.services.archives import zip_texts
from sandlot.services.functions import ConfigChanges

_MULTIPART_OVERHEAD = 64 * 1024


async def read_body(request: Request, limit: int, what: str = "request body") -> bytes:
    """Read at most `limit` bytes, refusing early when Content-Length already says more."""
    chunks = [chunk async for chunk in limited(request, limit, what).stream()]
    return b"".join(chunks)


def limited(request: Request, limit: int, what: str) -> Request:
    """The same request, whose body is refused (413) once it passes `limit` bytes, whether
    Content-Length says so up front or a chunked body grows past it."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"the {what} is {declared} bytes; at most {limit} are accepted")
    size = 0

    async def receive() -> Message:
        nonlocal size
        message = await request.receive()
        size += len(message.get("body", b""))
        if size > limit:
            raise PayloadTooLarge(f"the {what} is larger than {limit} bytes")
        return message

    return Request(request.scope, receive)


@dataclass(frozen=True)
class DeployInput:
    name: str | None
    code: bytes | None
    changes: ConfigChanges
    expect_version: int | None = None  # PUT only: the version the deploy supersedes


_FORM_KEYWORDS = ("description", "pattern", "minimum", "maximum", "enum")
# Fields that a form carries as JSON text (an object, or a list of names).
_JSON_TEXT_FIELDS = ("env", "env_set", "env_unset", "secrets", "egress")


def _form_schema(model: type[BaseModel], required: list[str]) -> dict[str, Any]:
    """The multipart form of a JSON deploy body: the zip as the file part `code`, `env` as a
    JSON string, and no nulls (a field left out keeps its value). Derived from the JSON
    model so that both forms document the same fields and rules."""
    properties: dict[str, Any] = {}
    for name, field in model.model_json_schema()["properties"].items():
        if name == "code_base64":
            properties["code"] = {"type": "string", "format": "binary", "description": "a zip"}
            continue
        if name == "files":  # JSON only: a form sends the zip itself
            continue
        types = [alt["type"] for alt in field.get("anyOf", [field]) if alt["type"] != "null"]
        form = {key: field[key] for key in _FORM_KEYWORDS if key in field}
        if "enum" in form:  # a form leaves a field out rather than sending null
            form["enum"] = [value for value in form["enum"] if value is not None]
        if name in _JSON_TEXT_FIELDS:
            form = {"type": "string", "description": f"JSON text: {field['description']}"}
        properties[name] = {"type": types[0], **form}
    return {"type": "object", "properties": properties, "required": required}


def _json_schema(model: type[BaseModel]) -> dict[str, Any]:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    schema.pop("$defs", None)
    return schema


def _deploy_body(model: type[BaseModel], form_required: list[str]) -> dict[str, Any]:
    return {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": _form_schema(model, form_required),
                "encoding": {"code": {"contentType": "application/zip"}},
            },
            # Nested models (SecretUse) as references into the document's components, where
            # the answers' schemas put them; pydantic's default `#/$defs/...` dangles here.
            "application/json": {"schema": _json_schema(model)},
        },
    }


CREATE_REQUEST_BODY = _deploy_body(FunctionCreateJson, ["name", "code"])
UPDATE_REQUEST_BODY = _deploy_body(FunctionUpdateJson, [])


async def deploy_input(
    request: Request, max_upload: int, *, creating: bool, max_files: int
) -> DeployInput:
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        return await _from_multipart(request, max_upload, creating=creating)
    if content_type.startswith("application/json"):
        return await _from_json(request, max_upload, creating=creating, max_files=max_files)
    raise InvalidInput(
        "send the function as multipart/form-data (with a 'code' zip file) "
        "or as application/json (with 'code_base64' or 'files')",
        content_type=content_type,
    )


async def _from_multipart(request: Request, max_upload: int, *, creating: bool) -> DeployInput:
    # Starlette spools file parts of any size to disk: the stream itself is bounded.
    bounded = limited(request, max_upload + _MULTIPART_OVERHEAD, "upload")
    async with bounded.form(max_files=1, max_fields=20) as form:
        upload = form.get("code")
        code = None
        if isinstance(upload, UploadFile):
            code = await upload.read(max_upload + 1)
            if len(code) > max_upload:
                raise PayloadTooLarge(f"the zip is larger than {max_upload} bytes")
        elif upload is not None:
            raise InvalidInput("'code' must be a file upload (a zip)")
        fields = {key: value for key, value in form.items() if isinstance(value, str)}
    env_set, env_unset = _env_field(fields.get("env_set"), "env_set"), _names(fields)
    if creating and (env_set is not None or env_unset is not None):
        raise InvalidInput("a new function takes 'env'; 'env_set' and 'env_unset' are for PUT")
    expect_version = _int_field(fields, "expect_version")
    if creating and expect_version is not None:
        raise InvalidInput("'expect_version' is for PUT: a new function supersedes nothing")
    if expect_version is not None and not 1 <= expect_version <= VERSION_NUMBER_MAX:
        raise InvalidInput(
            f"expect_version must be a version number, got {expect_version}",
            field="expect_version",
        )
    return DeployInput(
        name=fields.get("name"),
        code=code,
        expect_version=expect_version,
        changes=ConfigChanges(
            handler=fields.get("handler") or None,
            memory_mb=_int_field(fields, "memory_mb"),
            timeout_s=_int_field(fields, "timeout_s"),
            env=_env_field(fields.get("env")),
            max_concurrency=_int_field(fields, "max_concurrency"),
            min_warm=_int_field(fields, "min_warm"),
            keep_alive_s=_int_field(fields, "keep_alive_s"),
            log_level=fields.get("log_level"),
            env_set=env_set,
            env_unset=env_unset,
            secrets=_secrets_field(fields.get("secrets")),
            egress=_egress_field(fields.get("egress")),
        ),
    )


def _names(fields: dict[str, str]) -> tuple[str, ...] | None:
    raw = fields.get("env_unset")
    if raw is None or raw == "":
        return None
    try:
        names = json.loads(raw)
    except ValueError as exc:
        raise InvalidInput(f"env_unset must be a JSON list: {exc}", field="env_unset") from exc
    if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
        raise InvalidInput("env_unset must be a JSON list of strings", field="env_unset")
    return tuple(names)


def _secrets_field(raw: str | None) -> tuple[SecretRef, ...] | None:
    if raw is None or raw == "":
        return None
    try:
        parsed = json.loads(raw)
    except ValueError as exc:
        raise InvalidInput(f"secrets must be a JSON list: {exc}", field="secrets") from exc
    return parse_secret_refs(parsed)


def _egress_field(raw: str | None) -> EgressPolicy | None:
    if raw is None or raw == "":
        return None
    try:
        parsed = json.loads(raw)
    except ValueError as exc:
        raise InvalidEgressPolicy(f"egress must be a JSON list: {exc}", field="egress") from exc
    if not isinstance(parsed, list):
        raise InvalidEgressPolicy("egress must be a JSON list of strings", field="egress")
    return EgressPolicy.parse(parsed)


def _int_field(fields: dict[str, str], name: str) -> int | None:
    raw = fields.get(name)
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except ValueError as exc:
        raise InvalidInput(f"{name} must be an integer, got {raw!r}", field=name) from exc


def _env_field(raw: str | None, name: str = "env") -> dict[str, str] | None:
    if raw is None or raw == "":
        return None
    try:
        env = json.loads(raw)
    except ValueError as exc:
        raise InvalidInput(f"{name} must be a JSON object of strings: {exc}", field=name) from exc
    if not isinstance(env, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in env.items()
    ):
        raise InvalidInput(f"{name} must be a JSON object whose values are strings", field=name)
    return env


async def _from_json(
    request: Request, max_upload: int, *, creating: bool, max_files: int
) -> DeployInput:
    body = await read_body(request, max_upload * 4 // 3 + _MULTIPART_OVERHEAD, "upload")
    model: type[BaseModel] = FunctionCreateJson if creating else FunctionUpdateJson
    try:
        parsed = model.model_validate_json(body)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors()) from exc
    assert isinstance(parsed, FunctionCreateJson | FunctionUpdateJson)
    code = _code_of(parsed, max_files)
    return DeployInput(
        name=parsed.name if isinstance(parsed, FunctionCreateJson) else None,
        code=code,
        expect_version=parsed.expect_version if isinstance(parsed, FunctionUpdateJson) else None,
        changes=ConfigChanges(
            handler=parsed.handler,
            memory_mb=parsed.memory_mb,
            timeout_s=parsed.timeout_s,
            env=parsed.env,
            max_concurrency=parsed.max_concurrency,
            min_warm=parsed.min_warm,
            keep_alive_s=parsed.keep_alive_s,
            log_level=parsed.log_level,
            env_set=parsed.env_set if isinstance(parsed, FunctionUpdateJson) else None,
            env_unset=(
                tuple(parsed.env_unset)
                if isinstance(parsed, FunctionUpdateJson) and parsed.env_unset is not None
                else None
            ),
            secrets=(
                None
                if parsed.secrets is None
                else parse_secret_refs(
                    [
                        item if isinstance(item, str) else item.model_dump(by_alias=True)
                        for item in parsed.secrets
                    ]
                )
            ),
            egress=None if parsed.egress is None else EgressPolicy.parse(parsed.egress),
        ),
    )


def _decode_base64(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidInput(f"code_base64 is not valid base64: {exc}", field="code_base64") from exc


def _code_of(parsed: FunctionCreateJson | FunctionUpdateJson, max_files: int) -> bytes | None:
    """The zip of a JSON deploy: sent base64-encoded, or made here from its text files."""
    if parsed.code_base64 is not None and parsed.files is not None:
        raise InvalidInput("send the code as 'code_base64' or as 'files', not both")
    if parsed.files is not None:
        return zip_texts(parsed.files, max_files=max_files)
    if parsed.code_base64 is not None:
        return _decode_base64(parsed.code_base64)
    return None


def expected_version(if_match: str | None, given: int | None) -> int | None:
    """The version a deploy supersedes, from `If-Match: "N"` (an ETag: quoted, maybe weak)
    or the `expect_version` field; both may be given only if they agree."""
    if if_match is None or not if_match.strip():
        return given
    text = if_match.strip().removeprefix("W/").strip('"')
    if not text.isdigit() or not 1 <= int(text) <= VERSION_NUMBER_MAX:
        raise InvalidInput(
            'If-Match must name one version, like "3"', field="If-Match", value=if_match[:64]
        )
    if given is not None and given != int(text):
        raise InvalidInput(
            "If-Match and expect_version name different versions",
            field="If-Match",
            expect_version=given,
        )
    return int(text)
