"""Properties of the event/result codec: the door (json_problem) and the bootstrap's encoder
agree, so what one accepts the other gives back unchanged."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, example, given, settings

from sandlot.domain.json_values import MAX_JSON_DEPTH, json_problem
from sandlot.worker.inside.bootstrap import ResultInvalid, encode_result
from tests.jsonvalues import any_values, depth_of, event_bytes, json_values, nested, same_json

LIMIT = 6 * 1024 * 1024
CODEC = settings(
    max_examples=400,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _result(value: Any) -> bytes | None:
    """What the bootstrap sends back for a handler's return value, or None if it refuses."""
    try:
        return encode_result(value, LIMIT)
    except ResultInvalid:
        return None


@CODEC
@given(json_values)
def test_every_json_value_passes_both_ways_unchanged(value: Any) -> None:
    for ensure_ascii in (True, False):
        event = json.dumps(value, ensure_ascii=ensure_ascii).encode()
        assert (json_problem(event) is None) == (depth_of(value) <= MAX_JSON_DEPTH), event
    result = _result(value)
    assert result is not None
    assert (json_problem(result) is None) == (depth_of(value) <= MAX_JSON_DEPTH)
    assert same_json(json.loads(result), value)


@CODEC
@given(any_values)
@example("\ud800\udc00")  # a pair held as two code points: U+10000 once escaped
@example({"\udfff": 1})
@example([float("nan")])
@example(nested(MAX_JSON_DEPTH + 1))
def test_the_door_takes_exactly_what_a_result_may_be(value: Any) -> None:
    """The same value as an event (written leniently, as any client might) and as a handler's
    return value: accepted both ways or refused both ways."""
    event = json.dumps(value).encode()  # NaN as NaN, a lone surrogate as \\udXXX
    result = _result(value)
    accepted_as_result = result is not None and json_problem(result) is None
    assert (json_problem(event) is None) == accepted_as_result, (event, result)


@CODEC
@given(event_bytes)
def test_an_accepted_event_comes_back_as_it_went_in(event: bytes) -> None:
    """What the door takes, the bootstrap decodes and a handler returning it encodes into
    bytes the result check takes, holding the same value."""
    if json_problem(event) is not None:
        return
    value = json.loads(event)
    result = _result(value)
    assert result is not None and json_problem(result) is None
    assert same_json(json.loads(result), value)


# Inputs where a fast parser and Python's json are known to part ways: out-of-range numbers,
# huge integers, surrogates (escaped, raw, paired), a BOM, constants, depth on both sides of
# the limit and of orjson's own, control characters.
_EDGES = [
    b"1e400", b"-1e400", b"[1e309]", b"1.7976931348623157e308", b"1.8e308", b"1e-400",
    b"1" + b"0" * 400, b"9" * 4301, b'"\\ud800"', b'"\\udc00x"', b'"\\ud83d\\ude00"',
    b'"\xed\xa0\x80"', b"\xef\xbb\xbf{}", b"NaN", b"Infinity", b"-Infinity", b" {} ",
    b'{"a":1,"a":2}', b'"\x00"', b'"\\u0000"', b"", b"  ",
    b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH,
    b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1), b"[" * 1100 + b"]" * 1100,
    b'{"a":' * (MAX_JSON_DEPTH + 1) + b"1" + b"}" * (MAX_JSON_DEPTH + 1), b"01", b"[1,]",
]  # fmt: skip


def test_the_fast_path_judges_every_edge_as_the_standard_parser_does() -> None:
    from sandlot.domain.json_values import _standard_problem

    for data in _EDGES:
        assert json_problem(data) == _standard_problem(data), data


@CODEC
@given(event_bytes)
def test_the_fast_path_agrees_with_the_standard_parser(event: bytes) -> None:
    from sandlot.domain.json_values import _standard_problem

    assert json_problem(event) == _standard_problem(event)
