"""The JSON that events and results may be, checked the same way both ways.

Sandlot accepts I-JSON (RFC 7493), the subset of JSON that every parser reads the same:

- UTF-8 text (no byte-order mark);
- no `NaN`, `Infinity` or `-Infinity` (they are not JSON), and no number beyond a double's
  range (`1e400` would become infinity);
- no lone surrogates in strings (`"\\ud800"`): they cannot be written as UTF-8;
- at most `MAX_JSON_DEPTH` nested arrays and objects: parsers, validators and serialisers
  recurse, so deeper documents fail somewhere down the line instead of at the door.

The door checks events with `json_problem`, and the invoke path checks each result with
the same function, so what an event may hold a result may hold too, and any value the door
accepts round-trips through a function unchanged. Duplicate keys are not refused (that
would cost a Python call per object): the last one wins, as in Python's `json`.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import orjson

# Below pydantic's serialisation limit (about 250) and CPython's recursion limit (1000),
# with room for an invocation record or list page around the value.
MAX_JSON_DEPTH = 128

# Only a \u escape can put a surrogate into a string decoded from valid UTF-8.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def _finite_float(text: str) -> float:
    number = float(text)
    if math.isinf(number):
        raise ValueError(f"the number {text[:40]} is out of a double's range")
    return number


def json_problem(data: bytes) -> str | None:
    """Why `data` is not JSON that Sandlot accepts, or None when it is.

    orjson first: it runs on every event and every result, and what it accepts the
    standard parser below accepts too (it refuses NaN, out-of-range numbers, lone
    surrogates, a BOM and bad UTF-8 alike), so only depth is left to check. Anything it
    refuses is judged again by the standard parser, which words the reason."""
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError:
        return _standard_problem(data)
    if data.count(b"[") + data.count(b"{") > MAX_JSON_DEPTH and _too_deep(value):
        return f"it is nested more than {MAX_JSON_DEPTH} levels deep"
    return None


def _standard_problem(data: bytes) -> str | None:
    try:
        text = data.decode("utf-8")
        value = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    except RecursionError:
        return f"it is nested more than {MAX_JSON_DEPTH} levels deep"
    except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        return str(exc)
    # Both pre-checks are C-speed string scans; the walks run only when one may matter.
    if text.count("[") + text.count("{") > MAX_JSON_DEPTH and _too_deep(value):
        return f"it is nested more than {MAX_JSON_DEPTH} levels deep"
    if _SURROGATE_ESCAPE.search(text) and _has_lone_surrogate(value):
        return "a string holds a lone UTF-16 surrogate (\\ud800-\\udfff), which is not Unicode"
    return None


def _too_deep(value: Any) -> bool:
    """Breadth first, one level of containers at a time: scalars are never visited."""
    level = [value] if isinstance(value, dict | list) else []
    depth = 0
    while level:
        depth += 1
        if depth > MAX_JSON_DEPTH:
            return True
        below: list[Any] = []
        for item in level:
            children = item.values() if isinstance(item, dict) else item
            below.extend([child for child in children if isinstance(child, dict | list)])
        level = below
    return False


def _has_lone_surrogate(value: Any) -> bool:
    # Decoding joins every valid pair into one character, so any surrogate left is alone,
    # and UTF-8 refuses exactly those: C-speed, keys included.
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False
