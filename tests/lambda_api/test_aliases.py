"""Aliases through Lambda's API, with boto3 and the AWS CLI: made, read, listed, split by
weight (seen through /api/v1 as Sandlot's whole-percent routes), guarded by RevisionId, and
deleted; a weight that is not a whole percent is refused; another namespace sees none, and
an invoker key may call through an alias but not make one."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError

from tests.conftest import LiveServer
from tests.lambda_api.conftest import (
    AwsCli,
    admin_client,
    lambda_client,
    make_key,
    make_namespace,
)
from tests.lambda_api.test_invoke import BEARER, code, deploy, error_code, payload_of


def test_aliases_through_boto3_and_the_cli(server: LiveServer, aws: AwsCli) -> None:
    for number in (1, 2, 3):
        assert deploy(server, "shop", code(number)) == number
    lam = admin_client(server)

    made = lam.create_alias(FunctionName="shop", Name="prod", FunctionVersion="1")
    assert made["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert made["Name"] == "prod" and made["FunctionVersion"] == "1"
    assert made["AliasArn"].endswith(":function:shop:prod")
    assert "RoutingConfig" not in made
    with pytest.raises(ClientError) as refused:
        lam.create_alias(FunctionName="shop", Name="prod", FunctionVersion="2")
    assert error_code(refused) == "ResourceConflictException"

    split = lam.update_alias(
        FunctionName="shop",
        Name="prod",
        FunctionVersion="1",
        RoutingConfig={"AdditionalVersionWeights": {"2": 0.1}},
        RevisionId=made["RevisionId"],
    )
    assert split["FunctionVersion"] == "1"
    assert split["RoutingConfig"] == {"AdditionalVersionWeights": {"2": 0.1}}
    assert split["RevisionId"] != made["RevisionId"]
    routes = httpx.get(
        f"{server.url}/api/v1/functions/shop/aliases/prod", headers=BEARER, timeout=30
    ).json()["routes"]
    assert sorted((r["version"], r["weight"]) for r in routes) == [(1, 90), (2, 10)]
    got = lam.get_alias(FunctionName="shop", Name="prod")
    assert _shown(got) == _shown(split)  # read back as it was written

    with pytest.raises(ClientError) as refused:  # the revision it read is not current
        lam.update_alias(FunctionName="shop", Name="prod", RevisionId=made["RevisionId"])
    assert error_code(refused) == "PreconditionFailedException"
    with pytest.raises(ClientError) as refused:
        lam.update_alias(
            FunctionName="shop",
            Name="prod",
            RoutingConfig={"AdditionalVersionWeights": {"2": 0.125}},
        )
    assert error_code(refused) == "InvalidParameterValueException"
    assert "whole percent" in refused.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as refused:
        lam.create_alias(FunctionName="shop", Name="edge", FunctionVersion="$LATEST")
    assert error_code(refused) == "InvalidParameterValueException"

    # Without RoutingConfig the weights stay; a new FunctionVersion takes the rest.
    moved = lam.update_alias(FunctionName="shop", Name="prod", FunctionVersion="3")
    assert moved["FunctionVersion"] == "3"
    assert moved["RoutingConfig"] == {"AdditionalVersionWeights": {"2": 0.1}}
    cleared = lam.update_alias(
        FunctionName="shop", Name="prod", RoutingConfig={"AdditionalVersionWeights": {}}
    )
    assert "RoutingConfig" not in cleared and cleared["FunctionVersion"] == "3"
    assert payload_of(lam.invoke(FunctionName="shop", Qualifier="prod"))["version"] == 3

    # The AWS CLI: publish-version (the newest ready one), create-alias, list-aliases.
    published = aws.json("publish-version", "--function-name", "shop")
    assert published["Version"] == "3"
    aws.json("create-alias", "--function-name", "shop", "--name", "beta", "--function-version", "2")
    listed = aws.json("list-aliases", "--function-name", "shop")["Aliases"]
    assert [(a["Name"], a["FunctionVersion"]) for a in listed] == [("beta", "2"), ("prod", "3")]
    only_2 = lam.list_aliases(FunctionName="shop", FunctionVersion="2")["Aliases"]
    assert [a["Name"] for a in only_2] == ["beta"]
    page = lam.list_aliases(FunctionName="shop", MaxItems=1)
    assert [a["Name"] for a in page["Aliases"]] == ["beta"]
    rest = lam.list_aliases(FunctionName="shop", Marker=page["NextMarker"])
    assert [a["Name"] for a in rest["Aliases"]] == ["prod"] and "NextMarker" not in rest

    lam.delete_alias(FunctionName="shop", Name="beta")
    with pytest.raises(ClientError) as refused:
        lam.get_alias(FunctionName="shop", Name="beta")
    assert error_code(refused) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as refused:  # Sandlot's built-in is $LATEST, not an alias
        lam.get_alias(FunctionName="shop", Name="latest")
    assert error_code(refused) == "ResourceNotFoundException"


def test_aliases_keep_to_their_namespace_and_role(server: LiveServer) -> None:
    deploy(server, "shop", code(1))
    lam = admin_client(server)
    lam.create_alias(FunctionName="shop", Name="prod", FunctionVersion="1")
    arn = lam.get_function(FunctionName="shop")["Configuration"]["FunctionArn"]

    other = lambda_client(server, make_namespace(server, "other-team"))
    for name in ("shop", arn):
        with pytest.raises(ClientError) as refused:
            other.list_aliases(FunctionName=name)
        assert error_code(refused) == "ResourceNotFoundException"
        with pytest.raises(ClientError) as refused:
            other.get_alias(FunctionName=name, Name="prod")
        assert error_code(refused) == "ResourceNotFoundException"
        with pytest.raises(ClientError) as refused:
            other.invoke(FunctionName=name, Qualifier="prod")
        assert error_code(refused) == "ResourceNotFoundException"

    invoker = lambda_client(server, make_key(server, role="invoker"))
    called = invoker.invoke(FunctionName="shop:prod")
    assert called["ExecutedVersion"] == "1" and payload_of(called)["version"] == 1
    with pytest.raises(ClientError) as refused:
        invoker.create_alias(FunctionName="shop", Name="mine", FunctionVersion="1")
    assert error_code(refused) == "AccessDeniedException"
    with pytest.raises(ClientError) as refused:
        invoker.update_alias(FunctionName="shop", Name="prod", FunctionVersion="1")
    assert error_code(refused) == "AccessDeniedException"
    with pytest.raises(ClientError) as refused:
        invoker.delete_alias(FunctionName="shop", Name="prod")
    assert error_code(refused) == "AccessDeniedException"
    assert [a["Name"] for a in lam.list_aliases(FunctionName="shop")["Aliases"]] == ["prod"]


def _shown(answer: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in answer.items() if key != "ResponseMetadata"}
