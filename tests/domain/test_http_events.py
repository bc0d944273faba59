"""The translation between HTTP and AWS's HTTP API payload 2.0, without a server."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest

from sandlot.domain.errors import FunctionUrlResponseInvalid, InvalidFunctionUrl
from sandlot.domain.http_events import (
    Cors,
    HttpRequest,
    check_url_config,
    http_answer,
    http_event,
    is_preflight,
    preflight_headers,
    response_cors_headers,
)


def _request(**changes: object) -> HttpRequest:
    values: dict[str, object] = {
        "method": "GET",
        "raw_path": "/",
        "raw_query": "",
        "headers": [("host", "api.example.com")],
        "body": b"",
        "source_ip": "192.0.2.1",
        "protocol": "HTTP/1.1",
        "request_id": "req-1",
        "account_id": "ns-1",
        "api_id": "fn-1",
        "received_at": datetime(2026, 3, 12, 19, 3, 58, 123000, tzinfo=UTC).timestamp(),
    }
    values.update(changes)
    return HttpRequest(**values)  # type: ignore[arg-type]


def test_time_and_context() -> None:
    event = http_event(_request())
    context = event["requestContext"]
    assert context["time"] == "12/Mar/2026:19:03:58 +0000"
    assert context["timeEpoch"] == 1773342238123
    assert context["domainPrefix"] == "api"
    assert "queryStringParameters" not in event and "cookies" not in event
    assert "body" not in event and event["isBase64Encoded"] is False


def test_query_values_are_decoded_and_repeats_joined() -> None:
    event = http_event(_request(raw_query="q=a+b%21&q=c&flag"))
    assert event["rawQueryString"] == "q=a+b%21&q=c&flag"
    assert event["queryStringParameters"] == {"q": "a b!,c", "flag": ""}


@pytest.mark.parametrize(
    ("content_type", "body", "encoded"),
    [
        ("application/json", b'{"a": 1}', False),
        ("text/html; charset=utf-8", "<p>é</p>".encode(), False),
        ("application/vnd.api+json", b"{}", False),
        (None, b"plain words", False),
        ("application/octet-stream", b"abc", True),
        ("image/png", b"\x89PNG", True),
        (None, b"\xff\xfe", True),
        ("text/plain", b"\xff not utf-8", True),
    ],
)
def test_text_bodies_stay_text_and_others_are_base64(
    content_type: str | None, body: bytes, encoded: bool
) -> None:
    headers = [("content-type", content_type)] if content_type else []
    event = http_event(_request(method="POST", headers=headers, body=body))
    assert event["isBase64Encoded"] is encoded
    expected = base64.b64encode(body).decode() if encoded else body.decode()
    assert event["body"] == expected


def test_a_plain_value_is_json_200_as_is() -> None:
    answer = http_answer(b'{"hello": "world"}')
    assert (answer.status, answer.body) == (200, b'{"hello": "world"}')
    assert http_answer(None).body == b"null"
    assert http_answer(b'"statusCode"').status == 200  # a string, not a response


def test_a_response_dict() -> None:
    answer = http_answer(
        b'{"statusCode": 302, "headers": {"Location": "/there", "X-N": 5},'
        b' "cookies": ["a=1"], "body": ""}'
    )
    assert answer.status == 302
    assert ("location", "/there") in answer.headers and ("x-n", "5") in answer.headers
    assert ("set-cookie", "a=1") in answer.headers
    assert ("content-type", "application/json") in answer.headers
    binary = http_answer(b'{"statusCode": 200, "isBase64Encoded": true, "body": "/w=="}')
    assert binary.body == b"\xff"
    structured = http_answer(b'{"statusCode": 200, "body": {"a": 1}}')
    assert structured.body == b'{"a":1}'


@pytest.mark.parametrize(
    "result",
    [
        b'{"statusCode": 99}',
        b'{"statusCode": "200"}',
        b'{"statusCode": 200, "headers": ["x"]}',
        b'{"statusCode": 200, "headers": {"x": "a\\r\\nInjected: 1"}}',
        b'{"statusCode": 200, "headers": {"bad name": "1"}}',
        b'{"statusCode": 200, "cookies": "a=1"}',
        b'{"statusCode": 200, "isBase64Encoded": true, "body": "not base64!"}',
    ],
)
def test_a_malformed_response_is_named(result: bytes) -> None:
    with pytest.raises(FunctionUrlResponseInvalid):
        http_answer(result)


def test_config_checks() -> None:
    config = check_url_config(
        "none", {"allow_origins": ["https://a.example", "https://a.example"], "max_age": 5}
    )
    assert config.cors.allow_origins == ("https://a.example",)
    for auth, cors in [
        ("iam", None),
        ("none", {"allow_origins": ["ftp://x"]}),
        ("none", {"allow_methods": ["FETCH"]}),
        ("none", {"allow_headers": ["bad header"]}),
        ("none", {"max_age": -1}),
        ("none", {"allow_origins": "https://a.example"}),
    ]:
        with pytest.raises(InvalidFunctionUrl):
            check_url_config(auth, cors)


def test_cors_rules() -> None:
    cors = Cors(allow_origins=("*",), allow_methods=("GET",))
    asked = {"origin": "https://x.example", "access-control-request-method": "GET"}
    assert is_preflight(cors, "OPTIONS", asked)
    assert not is_preflight(Cors(), "OPTIONS", asked)  # CORS off: the function answers
    assert ("access-control-allow-origin", "*") in preflight_headers(cors, asked)
    assert response_cors_headers(cors, None) == [("vary", "Origin")]
    assert response_cors_headers(Cors(), "https://x.example") == []
    credentials = Cors(allow_origins=("https://x.example",), allow_credentials=True)
    added = response_cors_headers(credentials, "https://x.example")
    assert ("access-control-allow-origin", "https://x.example") in added
    assert ("access-control-allow-credentials", "true") in added
