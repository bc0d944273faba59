"""Identifiers: time-ordered invocation ids and API key material."""

from __future__ import annotations

import hashlib
import os
import secrets
import time

_CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz"
# What `new_invocation_id` makes: 26 characters of the alphabet above.
INVOCATION_ID_PATTERN = "^[0-9a-hjkmnp-tv-z]{26}$"
OPTIONAL_INVOCATION_ID_PATTERN = "^([0-9a-hjkmnp-tv-z]{26})?$"  # a cursor that may be empty
API_KEY_PREFIX = "sl"


# Every pair of characters, for the 10-bit groups `new_invocation_id` writes: 13 look-ups
# per id instead of 26 divisions (it runs on every call).
_PAIRS = [a + b for a in _CROCKFORD for b in _CROCKFORD]
_RANDOM_BITS = 80
_last = [0, 0]  # the previous id's milliseconds and random part, for monotonic ids


def new_invocation_id() -> str:
    """A ULID-like id: 48 bits of milliseconds, then 80 random bits, in lowercase base32.

    Ids sort by creation time, so "newest first" and cursor pagination are a plain
    ORDER BY on the primary key. Within one millisecond the random part is incremented
    instead of drawn again (ULID's monotonic mode), so ids made by one process never sort
    out of order.
    """
    millis = time.time_ns() // 1_000_000
    last_millis, last_random = _last
    if millis <= last_millis and last_random + 1 < 1 << _RANDOM_BITS:
        millis, randomness = last_millis, last_random + 1
    else:
        randomness = int.from_bytes(os.urandom(_RANDOM_BITS // 8), "big") >> 1
    _last[0], _last[1] = millis, randomness
    # 10 characters of milliseconds then 16 of randomness: the 130 bits of one number.
    value = millis << _RANDOM_BITS | randomness
    pairs = _PAIRS
    return "".join([pairs[(value >> shift) & 1023] for shift in _PAIR_SHIFTS])


_PAIR_SHIFTS = range(120, -1, -10)


def new_api_key() -> tuple[str, str]:
    """Return (key, prefix). The prefix is shown in listings; the key only once."""
    prefix = secrets.token_hex(4)
    return f"{API_KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}", prefix


def api_key_prefix(key: str) -> str | None:
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != API_KEY_PREFIX:
        return None
    return parts[1]


def hash_api_key(key: str) -> str:
    # Keys carry 256 random bits, so a fast hash is enough; a slow KDF protects low-entropy
    # passwords, which these are not.
    return hashlib.sha256(key.encode()).hexdigest()
