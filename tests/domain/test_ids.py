"""Invocation ids: 10 base32 characters of milliseconds, then 16 of randomness, in order."""

from __future__ import annotations

import itertools
import re
import time

from sandlot.domain import ids

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"


def _decode(text: str) -> int:
    value = 0
    for char in text:
        value = value * 32 + _ALPHABET.index(char)
    return value


def test_an_id_spells_its_milliseconds_then_its_randomness() -> None:
    before = time.time_ns() // 1_000_000
    made = ids.new_invocation_id()
    after = time.time_ns() // 1_000_000
    assert re.fullmatch(ids.INVOCATION_ID_PATTERN, made)
    assert before <= _decode(made[:10]) < after + 1000  # never behind the clock
    assert _decode(made[10:]) < 1 << 80


def test_ids_made_in_a_row_sort_in_the_order_they_were_made() -> None:
    made = [ids.new_invocation_id() for _ in range(5000)]
    assert made == sorted(made)
    assert len(set(made)) == len(made)
    # Within one millisecond the random part counts up by one.
    same = [(a, b) for a, b in itertools.pairwise(made) if a[:10] == b[:10]]
    assert same
    assert all(_decode(b[10:]) == _decode(a[10:]) + 1 for a, b in same)
