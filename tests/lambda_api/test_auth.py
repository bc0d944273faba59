"""Signatures on the Lambda API, as boto3 makes them: a right one works, a wrong one is
refused with Lambda's error names, and a signed key is held to the same rules as a bearer key."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from botocore.exceptions import ClientError

from tests.conftest import ADMIN_KEY, LiveServer, start_server, stop_server
from tests.lambda_api.conftest import ADMIN_PAIR, admin_client, lambda_client, make_key


def _code(error: pytest.ExceptionInfo[ClientError]) -> str:
    return str(error.value.response["Error"]["Code"])


def test_a_signed_request_is_answered(server: LiveServer) -> None:
    answer = admin_client(server).list_functions()
    assert answer["Functions"] == []
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_a_wrong_secret_is_refused(server: LiveServer) -> None:
    client = lambda_client(server, (ADMIN_PAIR[0], ADMIN_KEY + "x"))
    with pytest.raises(ClientError) as refused:
        client.list_functions()
    assert _code(refused) == "InvalidSignatureException"
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_an_unknown_access_key_is_refused(server: LiveServer) -> None:
    client = lambda_client(server, ("sl_nosuchkey", "sl_nosuchkey_secret"))
    with pytest.raises(ClientError) as refused:
        client.list_functions()
    assert _code(refused) == "UnrecognizedClientException"


def test_an_unsigned_request_gets_lambdas_error_shape(server: LiveServer) -> None:
    answer = httpx.get(f"{server.url}/2015-03-31/functions", timeout=30)
    assert answer.status_code == 403
    assert answer.headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"
    assert answer.json()["Type"] == "User" and "message" in answer.json()
    # A bearer key is not a signature: this door takes only SigV4.
    bearer = httpx.get(
        f"{server.url}/2015-03-31/functions",
        headers={"Authorization": f"Bearer {ADMIN_KEY}"},
        timeout=30,
    )
    assert bearer.headers["x-amzn-ErrorType"] == "IncompleteSignatureException"


def test_an_operation_sandlot_does_not_serve_is_named_in_lambdas_shape(
    server: LiveServer,
) -> None:
    client = admin_client(server)
    with pytest.raises(ClientError) as unknown:
        client.list_layers()
    assert _code(unknown) == "UnknownOperationException"
    assert unknown.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert "not an operation of Sandlot's Lambda API" in str(unknown.value)


def test_a_revoked_key_is_refused_though_its_signature_matches(server: LiveServer) -> None:
    pair = make_key(server, role="developer")
    client = lambda_client(server, pair)
    assert client.list_functions()["Functions"] == []
    revoked = httpx.delete(
        f"{server.url}/api/v1/keys/{pair.id}",
        headers={"Authorization": f"Bearer {ADMIN_KEY}"},
        timeout=30,
    )
    assert revoked.status_code == 204
    with pytest.raises(ClientError) as refused:
        client.list_functions()
    assert _code(refused) == "UnrecognizedClientException"


def test_a_key_rotation_reseals_the_keys_and_they_still_sign(
    tmp_path: Path, database_url: str
) -> None:
    env = {"SANDLOT_DATABASE_URL": database_url}
    first = start_server(tmp_path / "data", env)
    try:
        pair = make_key(first, role="viewer")
        assert lambda_client(first, pair).list_functions()["Functions"] == []
        rotated = httpx.post(
            f"{first.url}/api/v1/secret-key/rotate",
            headers={"Authorization": f"Bearer {ADMIN_KEY}"},
            timeout=60,
        )
        assert rotated.status_code == 200, rotated.text
        assert rotated.json()["retired_key_ids"]  # the old key is forgotten
    finally:
        stop_server(first)
    # A new process holds only the new key: the keys' copies must be sealed under it.
    second = start_server(tmp_path / "data", env)
    try:
        assert lambda_client(second, pair).list_functions()["Functions"] == []
        assert admin_client(second).list_functions()["Functions"] == []
    finally:
        stop_server(second)
