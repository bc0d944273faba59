"""The rules of destinations without I/O: what a destination may be, the signature a
receiver checks (and its replay window), and the back-off between attempts."""

from __future__ import annotations

import hashlib
import hmac
import random

import pytest

from sandlot.domain.destinations import (
    Condition,
    DestinationKind,
    backoff_s,
    check_secret,
    parse_destination,
    signature,
    verify,
)
from sandlot.domain.errors import InvalidDestination, WebhookSecretTooShort


def test_a_signature_is_the_hmac_of_timestamp_dot_body() -> None:
    secret, body = b"k" * 32, b'{"a":1}'
    mac = hmac.new(secret, b"1700000000." + body, hashlib.sha256).hexdigest()
    assert signature(secret, 1700000000, body) == f"v1={mac}"
    header = signature(secret, 1700000000, body)
    assert verify(secret, "1700000000", body, header, now=1700000100)
    assert not verify(secret, "1700000000", body, header, now=1700000000 + 301)  # a replay
    assert not verify(secret, "1700000000", body + b" ", header, now=1700000000)
    assert not verify(secret, "not-a-number", body, header, now=1700000000)


def test_back_off_grows_is_jittered_and_capped() -> None:
    rng = random.Random(7)
    waits = [backoff_s(n, base_s=2, cap_s=60, rng=rng) for n in range(1, 10)]
    assert 1 <= waits[0] <= 2 and 2 <= waits[1] <= 4 and 4 <= waits[2] <= 8
    assert all(30 <= wait <= 60 for wait in waits[5:])


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        ({"type": "webhook", "url": "ftp://x.test/h"}, "http or https"),
        ({"type": "webhook", "url": "https:///nohost"}, "no host"),
        ({"type": "webhook"}, "needs a `url`"),
        ({"type": "webhook", "url": "https://x.test/a b"}, "no spaces"),
        ({"type": "queue"}, "'webhook' or 'function'"),
        ({"type": "function", "function": "Bad_Name"}, "must name a function"),
        ({"type": "function", "function": "me"}, "its own destination"),
        ("https://x.test", "an object"),
    ],
)
def test_bad_destinations_say_why(raw: object, words: str) -> None:
    with pytest.raises(InvalidDestination, match=words.replace("(", r"\(")):
        parse_destination(raw, condition=Condition.SUCCESS, function="me")


def test_good_destinations() -> None:
    hook = parse_destination(
        {"type": "webhook", "url": "https://x.test/h?a=1"},
        condition=Condition.SUCCESS,
        function="me",
    )
    assert hook is not None and hook.kind is DestinationKind.WEBHOOK
    itself = parse_destination(
        {"type": "function", "function": "me"}, condition=Condition.FAILURE, function="me"
    )
    assert itself is not None and itself.target == "me"  # on failure it may
    assert parse_destination(None, condition=Condition.SUCCESS, function="me") is None


def test_a_secret_has_at_least_32_bytes() -> None:
    with pytest.raises(WebhookSecretTooShort):
        check_secret("x" * 31)
    assert check_secret("é" * 16) == "é".encode() * 16  # bytes, not characters
