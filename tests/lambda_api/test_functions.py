"""Function operations of the Lambda API, driven by boto3 and the AWS CLI against a real
`sandlot serve`, on both databases; what they make is a Sandlot function like any other."""

from __future__ import annotations

import asyncio
import base64
import hashlib
from pathlib import Path
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError
from sqlalchemy import update
from sqlalchemy.ext.asyncio import create_async_engine

from sandlot.storage.tables import ApiKeyRow
from tests.conftest import ADMIN_KEY, LiveServer, zip_bytes
from tests.lambda_api.conftest import (
    AwsCli,
    admin_client,
    lambda_client,
    make_key,
    make_namespace,
)

HANDLER = {
    "main.py": "import os\n\n"
    "def handler(event, context):\n"
    '    return {"greeting": os.environ.get("GREETING"), "name": (event or {}).get("name")}\n'
}
ROLE = "arn:aws:iam::123456789012:role/lambda-basic"


def _code(error: pytest.ExceptionInfo[ClientError]) -> str:
    return str(error.value.response["Error"]["Code"])


def _invoke(server: LiveServer, name: str, event: object, key: str = ADMIN_KEY) -> Any:
    answer = httpx.post(
        f"{server.url}/api/v1/functions/{name}/invoke",
        json=event,
        headers={"Authorization": f"Bearer {key}"},
        timeout=120,
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def _create(client: Any, name: str, **fields: Any) -> dict[str, Any]:
    given: dict[str, Any] = {
        "FunctionName": name,
        "Runtime": "python3.12",
        "Role": ROLE,
        "Handler": "main.handler",
        "Code": {"ZipFile": zip_bytes(HANDLER)},
        **fields,
    }
    made: dict[str, Any] = client.create_function(**given)
    return made


def test_boto3_creates_reads_updates_and_deletes_a_function(server: LiveServer) -> None:
    client = admin_client(server)
    code = zip_bytes(HANDLER)
    made = client.create_function(
        FunctionName="greeter",
        Runtime="python3.12",
        Role=ROLE,
        Handler="main.handler",
        Code={"ZipFile": code},
        Environment={"Variables": {"GREETING": "hello"}},
        Timeout=10,
        MemorySize=256,
        Description="not kept",
        Tags={"team": "not kept"},
        Publish=True,
    )
    assert made["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert made["Version"] == "1" and made["FunctionArn"].endswith(":function:greeter:1")
    assert made["Role"] == ROLE and made["Handler"] == "main.handler"
    assert made["State"] == "Active" and made["LastUpdateStatus"] == "Successful"
    assert made["Runtime"].startswith("python3.")  # this server's Python, whatever was asked
    assert made["CodeSha256"] == base64.b64encode(hashlib.sha256(code).digest()).decode()
    assert made["CodeSize"] == len(code)
    assert made["Environment"]["Variables"] == {"GREETING": "hello"}
    # The function is a Sandlot function: /api/v1 invokes it.
    assert _invoke(server, "greeter", {"name": "Ada"}) == {"greeting": "hello", "name": "Ada"}

    got = client.get_function(FunctionName="greeter")
    assert got["Configuration"]["Version"] == "$LATEST"
    assert got["Configuration"]["FunctionArn"].endswith(":function:greeter")
    assert got["Configuration"]["Timeout"] == 10
    location = got["Code"]["Location"]
    zipped = httpx.get(location, headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=30)
    assert zipped.status_code == 200 and zipped.content == code
    by_arn = client.get_function_configuration(FunctionName=made["FunctionArn"])
    assert by_arn["Version"] == "1" and by_arn["RevisionId"] == made["RevisionId"]
    listed = client.list_functions()["Functions"]
    assert [item["FunctionName"] for item in listed] == ["greeter"]

    # New code, against the revision it read: version 2.
    newer = {"main.py": HANDLER["main.py"].replace("os.environ.get", "'v2:' + os.environ.get")}
    updated = client.update_function_code(
        FunctionName="greeter", ZipFile=zip_bytes(newer), RevisionId=made["RevisionId"]
    )
    assert updated["Version"] == "$LATEST" and updated["RevisionId"] != made["RevisionId"]
    assert _invoke(server, "greeter", {})["greeting"] == "v2:hello"
    # A revision that is no longer current is refused: another update came first.
    with pytest.raises(ClientError) as stale:
        client.update_function_code(
            FunctionName="greeter", ZipFile=zip_bytes(HANDLER), RevisionId=made["RevisionId"]
        )
    assert _code(stale) == "PreconditionFailedException"
    assert stale.value.response["ResponseMetadata"]["HTTPStatusCode"] == 412

    configured = client.update_function_configuration(
        FunctionName="greeter",
        MemorySize=512,
        Environment={"Variables": {"GREETING": "bonjour"}},
        RevisionId=updated["RevisionId"],
        LoggingConfig={"ApplicationLogLevel": "WARN"},
    )
    assert configured["MemorySize"] == 512 and configured["Timeout"] == 10
    # Lambda's level names, kept as Python's (WARN is WARNING) and answered in Lambda's.
    assert configured["LoggingConfig"]["ApplicationLogLevel"] == "WARN"
    assert configured["LoggingConfig"]["LogGroup"] == "/sandlot/default/greeter"
    record = httpx.get(
        f"{server.url}/api/v1/functions/greeter/versions/3",
        headers={"Authorization": f"Bearer {ADMIN_KEY}"},
        timeout=30,
    )
    assert record.json()["log_level"] == "WARNING", record.text
    assert _invoke(server, "greeter", {})["greeting"] == "v2:bonjour"
    three = client.get_function_configuration(FunctionName="greeter", Qualifier="3")
    assert three["Version"] == "3" and three["MemorySize"] == 512
    # An alias (made through /api/v1) reads as the version it points at.
    aliased = httpx.put(
        f"{server.url}/api/v1/functions/greeter/aliases/prod",
        json={"version": 2},
        headers={"Authorization": f"Bearer {ADMIN_KEY}"},
        timeout=30,
    )
    assert aliased.status_code in (200, 201), aliased.text
    prod = client.get_function_configuration(FunctionName="greeter:prod")
    assert prod["Version"] == "2" and prod["FunctionArn"].endswith(":function:greeter:prod")
    assert (
        client.get_function(FunctionName="greeter", Qualifier="prod")["Configuration"]["MemorySize"]
        == 256
    )
    everything = client.list_functions(FunctionVersion="ALL")["Functions"]
    assert [item["Version"] for item in everything] == ["$LATEST", "1", "2", "3"]

    with pytest.raises(ClientError) as one_version:
        client.delete_function(FunctionName="greeter", Qualifier="1")
    assert _code(one_version) == "InvalidParameterValueException"
    client.delete_function(FunctionName="greeter")
    with pytest.raises(ClientError) as gone:
        client.get_function(FunctionName="greeter")
    assert _code(gone) == "ResourceNotFoundException"
    assert isinstance(gone.value, client.exceptions.ResourceNotFoundException)
    assert client.list_functions()["Functions"] == []


def test_list_functions_pages_with_marker(server: LiveServer) -> None:
    client = admin_client(server)
    for name in ("fn-a", "fn-b", "fn-c"):
        _create(client, name)
    first = client.list_functions(MaxItems=2)
    assert [item["FunctionName"] for item in first["Functions"]] == ["fn-a", "fn-b"]
    second = client.list_functions(MaxItems=2, Marker=first["NextMarker"])
    assert [item["FunctionName"] for item in second["Functions"]] == ["fn-c"]
    assert "NextMarker" not in second
    pages = client.get_paginator("list_functions").paginate(PaginationConfig={"PageSize": 1})
    assert [f["FunctionName"] for page in pages for f in page["Functions"]] == [
        "fn-a",
        "fn-b",
        "fn-c",
    ]


def test_the_aws_cli_manages_a_function(aws: AwsCli, tmp_path: Path) -> None:
    archive = tmp_path / "function.zip"
    archive.write_bytes(zip_bytes(HANDLER))
    made = aws.json(
        "create-function",
        "--function-name",
        "cli-fn",
        "--runtime",
        "python3.12",
        "--role",
        ROLE,
        "--handler",
        "main.handler",
        "--environment",
        "Variables={GREETING=hi}",
        "--zip-file",
        f"fileb://{archive}",
    )
    assert made["FunctionName"] == "cli-fn" and made["State"] == "Active"
    assert _invoke(aws.server, "cli-fn", {"name": "cli"}) == {"greeting": "hi", "name": "cli"}
    got = aws.json("get-function", "--function-name", "cli-fn")
    assert got["Configuration"]["Handler"] == "main.handler"
    listed = aws.json("list-functions")
    assert [item["FunctionName"] for item in listed["Functions"]] == ["cli-fn"]
    aws("delete-function", "--function-name", "cli-fn")
    missing = aws("get-function", "--function-name", "cli-fn", check=False)
    assert missing.returncode != 0 and "ResourceNotFoundException" in missing.stderr


def test_keys_see_and_change_only_what_they_may(server: LiveServer, database_url: str) -> None:
    admin = admin_client(server)
    _create(admin, "mine")
    _create(admin, "other")

    invoker = lambda_client(server, make_key(server, role="invoker"))
    with pytest.raises(ClientError) as denied:
        _create(invoker, "not-allowed")
    assert _code(denied) == "AccessDeniedException"
    assert denied.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403

    stranger = lambda_client(server, make_namespace(server, "elsewhere"))
    assert stranger.list_functions()["Functions"] == []
    with pytest.raises(ClientError) as hidden:
        stranger.get_function(FunctionName="mine")
    assert _code(hidden) == "ResourceNotFoundException"
    # Nor by this namespace's ARN: another account's function is not found either.
    arn = admin.get_function_configuration(FunctionName="mine")["FunctionArn"]
    with pytest.raises(ClientError) as by_arn:
        stranger.get_function(FunctionName=arn)
    assert _code(by_arn) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as not_deleted:
        stranger.delete_function(FunctionName="mine")
    assert _code(not_deleted) == "ResourceNotFoundException"

    limited = lambda_client(server, make_key(server, role="developer", functions=["mine"]))
    names = [item["FunctionName"] for item in limited.list_functions()["Functions"]]
    assert names == ["mine"]
    with pytest.raises(ClientError) as out_of_scope:
        limited.get_function(FunctionName="other")
    assert _code(out_of_scope) in ("AccessDeniedException", "ResourceNotFoundException")
    assert admin.get_function(FunctionName="mine")["Configuration"]["FunctionName"] == "mine"


def test_a_key_without_a_sealed_copy_is_refused_by_name(
    server: LiveServer, database_url: str
) -> None:
    pair = make_key(server, role="developer")

    async def unseal() -> None:
        # As a key made before the Lambda API was: no copy to verify signatures with.
        engine = create_async_engine(database_url)
        try:
            async with engine.begin() as connection:
                await connection.execute(
                    update(ApiKeyRow)
                    .where(ApiKeyRow.id == pair.id)
                    .values(sigv4_key_id=None, sigv4_sealed=None)
                )
        finally:
            await engine.dispose()

    asyncio.run(unseal())
    with pytest.raises(ClientError) as refused:
        lambda_client(server, pair).list_functions()
    assert _code(refused) == "UnrecognizedClientException"
    assert "made before Lambda API support: create a new key" in str(refused.value)


BAD_INPUT: list[tuple[dict[str, Any], str]] = [
    ({"Handler": None}, "needs a Handler"),
    ({"Code": {"ZipFile": b"not a zip"}}, "not a valid zip"),
    ({"MemorySize": 10240}, "memory_mb"),
    ({"Code": {"S3Bucket": "my-bucket", "S3Key": "code.zip"}}, "S3"),
    ({"Layers": ["arn:aws:lambda:us-east-1:123456789012:layer:x:1"]}, "Layers"),
    ({"PackageType": "Image", "Code": {"ImageUri": "x"}}, "PackageType"),
    ({"Runtime": "nodejs20.x"}, "Runtime"),
    ({"FunctionName": "Not_A_Sandlot_Name"}, "name"),
    ({"LoggingConfig": {"ApplicationLogLevel": "LOUD"}}, "ApplicationLogLevel"),
]


def test_bad_input_is_invalid_parameter_value(server: LiveServer) -> None:
    client = admin_client(server)
    for fields, words in BAD_INPUT:
        given: dict[str, Any] = {
            "FunctionName": "bad",
            "Runtime": "python3.12",
            "Role": ROLE,
            "Handler": "main.handler",
            "Code": {"ZipFile": zip_bytes(HANDLER)},
        }
        for key, value in fields.items():
            if value is None:
                given.pop(key)
            else:
                given[key] = value
        with pytest.raises(ClientError) as refused:
            client.create_function(**given)
        assert _code(refused) == "InvalidParameterValueException", (fields, refused.value)
        assert isinstance(refused.value, client.exceptions.InvalidParameterValueException)
        assert words in str(refused.value), (fields, str(refused.value))
    assert client.list_functions()["Functions"] == []
