"""The server's SigV4 verification against botocore's own signer: what botocore signs
verifies, and any change to what the signature covers does not."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from sandlot.domain import sigv4
from sandlot.domain.sigv4 import SignatureError, SignedRequest

ACCESS = "sl_abcd1234"
SECRET = "sl_abcd1234_" + "s" * 43
REGION = "us-east-1"
HOST = "127.0.0.1:8123"
URL = f"http://{HOST}/2015-03-31/functions/my-fn%3Aprod/invocations?Qualifier=prod&a=b%20c"
BODY = b'{"x": 1}'


@dataclass
class Signed:
    """What the server receives of a request botocore signed."""

    request: SignedRequest
    authorization: str
    amz_date: str


def sign(
    url: str = URL,
    body: bytes = BODY,
    *,
    method: str = "POST",
    region: str = REGION,
    service: str = "lambda",
    headers: dict[str, str] | None = None,
) -> Signed:
    made = AWSRequest(method=method, url=url, data=body, headers=headers or {})
    SigV4Auth(Credentials(ACCESS, SECRET), service, region).add_auth(made)
    received: dict[str, list[str]] = {}
    for name, value in made.headers.items():
        received.setdefault(name.lower(), []).append(value)
    received["host"] = [HOST]
    parts = urlsplit(url)
    request = SignedRequest(method, parts.path, parts.query, received, body)
    return Signed(request, made.headers["Authorization"], made.headers["X-Amz-Date"])


def verifies(signed: Signed, secret: str = SECRET, now: datetime | None = None) -> bool:
    credential = sigv4.parse_authorization(signed.authorization)
    sigv4.check_scope(credential, signed.amz_date, REGION, now or datetime.now(UTC))
    canonical = sigv4.canonical_request(signed.request, credential)
    return sigv4.matches(secret, credential, signed.amz_date, canonical)


def changed(signed: Signed, **fields: Any) -> Signed:
    return Signed(replace(signed.request, **fields), signed.authorization, signed.amz_date)


def test_botocores_signature_verifies_and_names_the_key() -> None:
    signed = sign()
    assert verifies(signed)
    assert sigv4.parse_authorization(signed.authorization).access_key_id == ACCESS


def test_a_path_with_an_encoded_colon_verifies() -> None:
    # `name:qualifier` in the path is sent as %3A and signed encoded once more.
    signed = sign(f"http://{HOST}/2015-03-31/functions/my-fn%3A7/configuration", b"", method="GET")
    assert signed.request.raw_path.endswith("my-fn%3A7/configuration")
    assert verifies(signed)


def test_a_wrong_secret_does_not_verify() -> None:
    assert not verifies(sign(), secret=SECRET + "x")


@pytest.mark.parametrize(
    "tamper",
    [
        {"body": b'{"x": 2}'},
        {"raw_path": "/2015-03-31/functions/other-fn%3Aprod/invocations"},
        {"raw_query": "Qualifier=dev&a=b%20c"},
        {"method": "PUT"},
    ],
    ids=["body", "path", "query", "method"],
)
def test_a_tampered_request_does_not_verify(tamper: dict[str, object]) -> None:
    signed = sign()
    assert verifies(signed)
    assert not verifies(changed(signed, **tamper))


def test_a_body_that_is_not_its_claimed_hash_is_refused() -> None:
    signed = sign()
    headers = {**signed.request.headers, "x-amz-content-sha256": ["0" * 64]}
    with pytest.raises(SignatureError, match="not the SHA-256 of the body"):
        verifies(changed(signed, headers=headers))


def test_a_tampered_signed_header_does_not_verify() -> None:
    signed = sign(headers={"X-Amz-Invocation-Type": "Event"})
    assert "x-amz-invocation-type" in sigv4.parse_authorization(signed.authorization).signed_headers
    headers = {**signed.request.headers, "x-amz-invocation-type": ["RequestResponse"]}
    assert not verifies(changed(signed, headers=headers))
    missing = {k: v for k, v in signed.request.headers.items() if k != "x-amz-invocation-type"}
    with pytest.raises(SignatureError, match="not in the request"):
        verifies(changed(signed, headers=missing))


def test_a_stale_signature_is_refused() -> None:
    signed = sign()
    later = datetime.now(UTC) + timedelta(minutes=16)
    with pytest.raises(SignatureError, match="more than 15 minutes") as refused:
        verifies(signed, now=later)
    assert refused.value.kind == "InvalidSignatureException"
    assert verifies(signed, now=datetime.now(UTC) + timedelta(minutes=14))


def test_another_region_or_service_is_refused() -> None:
    with pytest.raises(SignatureError, match="region 'eu-west-1'"):
        verifies(sign(region="eu-west-1"))
    with pytest.raises(SignatureError, match="'s3'"):
        verifies(sign(service="s3"))


def test_an_unsigned_payload_is_refused() -> None:
    signed = sign()
    headers = {**signed.request.headers, "x-amz-content-sha256": [sigv4.UNSIGNED_PAYLOAD]}
    with pytest.raises(SignatureError, match="unsigned payload"):
        sigv4.payload_hash(changed(signed, headers=headers).request)


@pytest.mark.parametrize(
    ("header", "kind"),
    [
        (None, "MissingAuthenticationTokenException"),
        ("Bearer sl_abc_def", "IncompleteSignatureException"),
        (
            "AWS4-HMAC-SHA256 Credential=sl_a/20260101/us-east-1/lambda, "
            "SignedHeaders=host;x-amz-date, Signature=" + "0" * 64,
            "IncompleteSignatureException",
        ),
    ],
    ids=["missing", "bearer", "short-scope"],
)
def test_a_malformed_authorization_is_named(header: str | None, kind: str) -> None:
    with pytest.raises(SignatureError) as refused:
        sigv4.parse_authorization(header)
    assert refused.value.kind == kind
