"""Hypothesis strategies for JSON values and event bytes, shared by the codec and door tests."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

from sandlot.domain.json_values import MAX_JSON_DEPTH

# Integers stay under int()'s 4,300-digit limit for str conversion.
_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**400), max_value=10**400)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)

# Values the door must accept and every function must get back unchanged.
json_values: st.SearchStrategy[Any] = st.recursive(
    _scalars,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=25,
)

# Values a handler may return that are not I-JSON, mixed with ones that are.
_lone_surrogates = st.text(alphabet=st.characters(categories=["Cs"]), min_size=1, max_size=3)
_not_json_scalars = st.sampled_from([float("nan"), float("inf"), float("-inf")]) | _lone_surrogates
any_values: st.SearchStrategy[Any] = st.recursive(
    _scalars | _not_json_scalars,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(max_size=6) | _lone_surrogates, children, max_size=4)
    ),
    max_leaves=15,
) | st.integers(min_value=MAX_JSON_DEPTH - 2, max_value=MAX_JSON_DEPTH + 40).map(
    lambda n: nested(n)
)

_fragments = st.sampled_from(
    [
        b"NaN",
        b"Infinity",
        b"-Infinity",
        b"1e400",
        b"-1e999",
        b'"\\ud800"',
        b'"\\udc00\\ud800"',
        b'"\\ud83d\\ude00"',
        b"\xef\xbb\xbf",
        b"\xed\xa0\x80",
        b"\x00",
        b"\xff",
        b"[",
        b"]",
        b"{",
        b'"',
        b"\\",
        b",",
        b":",
        b"9" * 5000,
    ]
)


def _splice(text: bytes, fragment: bytes, at: int) -> bytes:
    cut = at % (len(text) + 1)
    return text[:cut] + fragment + text[cut:]


# Bytes a client might send: noise, JSON, JSON with something spliced in, deep nesting.
event_bytes: st.SearchStrategy[bytes] = st.one_of(
    st.binary(max_size=64),
    json_values.map(lambda value: json.dumps(value).encode()),
    st.builds(
        _splice,
        json_values.map(lambda value: json.dumps(value, ensure_ascii=False).encode()),
        _fragments,
        st.integers(min_value=0, max_value=1000),
    ),
    st.integers(min_value=1, max_value=1500).map(lambda n: b"[" * n + b"]" * n),
    st.integers(min_value=1, max_value=1500).map(lambda n: b'{"a":' * n + b"0" + b"}" * n),
)


def nested(depth: int) -> Any:
    value: Any = 0
    for _ in range(depth):
        value = [value]
    return value


def depth_of(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max(map(depth_of, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(depth_of, value), default=0)
    return 0


def same_json(left: Any, right: Any) -> bool:
    """Equal as JSON, strictly: 1 is not 1.0 nor true, -0.0 is not 0.0, key order counts."""
    return json.dumps(left) == json.dumps(right)
