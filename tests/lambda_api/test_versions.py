"""Versions and concurrency through Lambda's API: PublishVersion answers the newest ready
version and makes none, with Lambda's preconditions; ListVersionsByFunction lists `$LATEST`
and then every version, in pages; the concurrency operations set a function's cap (a
configuration change, so a new version) and clear it."""

from __future__ import annotations

import httpx
import pytest
from botocore.exceptions import ClientError

from tests.conftest import LiveServer
from tests.lambda_api.conftest import admin_client, lambda_client, make_key
from tests.lambda_api.test_invoke import BEARER, code, deploy, error_code


def test_publish_and_list_versions_and_concurrency(server: LiveServer) -> None:
    deploy(server, "shop", code(1))
    deploy(server, "shop", code(2))
    lam = admin_client(server)

    published = lam.publish_version(FunctionName="shop")
    assert published["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert published["Version"] == "2"
    assert published["FunctionArn"].endswith(":function:shop:2")
    again = lam.publish_version(FunctionName="shop", CodeSha256=published["CodeSha256"])
    assert again["Version"] == "2"  # nothing new was made
    with pytest.raises(ClientError) as refused:
        lam.publish_version(FunctionName="shop", CodeSha256="c2FuZGxvdA==")
    assert error_code(refused) == "PreconditionFailedException"
    with pytest.raises(ClientError) as refused:
        lam.publish_version(FunctionName="shop", RevisionId="not-this-one")
    assert error_code(refused) == "PreconditionFailedException"

    listed = lam.list_versions_by_function(FunctionName="shop")
    assert [v["Version"] for v in listed["Versions"]] == ["$LATEST", "1", "2"]
    assert "NextMarker" not in listed
    first = lam.list_versions_by_function(FunctionName="shop", MaxItems=2)
    assert [v["Version"] for v in first["Versions"]] == ["$LATEST", "1"]
    rest = lam.list_versions_by_function(FunctionName="shop", Marker=first["NextMarker"])
    assert [v["Version"] for v in rest["Versions"]] == ["2"]

    assert "ReservedConcurrentExecutions" not in lam.get_function_concurrency(FunctionName="shop")
    put = lam.put_function_concurrency(FunctionName="shop", ReservedConcurrentExecutions=3)
    assert put["ReservedConcurrentExecutions"] == 3
    got = lam.get_function_concurrency(FunctionName="shop")
    assert got["ReservedConcurrentExecutions"] == 3
    newest = httpx.get(f"{server.url}/api/v1/functions/shop", headers=BEARER, timeout=30).json()
    assert newest["latest_version"] == 3  # a configuration change is a version in Sandlot
    assert newest["config"]["max_concurrency"] == 3
    with pytest.raises(ClientError) as refused:
        lam.put_function_concurrency(FunctionName="shop", ReservedConcurrentExecutions=0)
    assert error_code(refused) == "InvalidParameterValueException"
    lam.delete_function_concurrency(FunctionName="shop")
    assert "ReservedConcurrentExecutions" not in lam.get_function_concurrency(FunctionName="shop")

    invoker = lambda_client(server, make_key(server, role="invoker"))
    with pytest.raises(ClientError) as refused:
        invoker.publish_version(FunctionName="shop")
    assert error_code(refused) == "AccessDeniedException"
    with pytest.raises(ClientError) as refused:
        invoker.put_function_concurrency(FunctionName="shop", ReservedConcurrentExecutions=2)
    assert error_code(refused) == "AccessDeniedException"
    with pytest.raises(ClientError) as refused:
        lam.list_versions_by_function(FunctionName="nothing-here")
    assert error_code(refused) == "ResourceNotFoundException"
