"""In-memory caches that keep the invoke path free of database reads.

Entries expire after a short TTL so that several API servers sharing one database agree
within seconds; within one server, deploys, deletes and revocations invalidate at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class TtlCache(Generic[K, V]):
    def __init__(self, ttl_s: float, max_entries: int = 10_000) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._entries: dict[K, tuple[float, V]] = {}

    def get(self, key: K) -> V | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires, value = entry
        if expires < time.monotonic():
            del self._entries[key]
            return None
        return value

    def put(self, key: K, value: V, ttl_s: float | None = None) -> None:
        """Keep `value` for the cache's TTL, or for `ttl_s` if that is shorter (a value that
        stops being true at a known time, such as a key that expires)."""
        if len(self._entries) >= self.max_entries:
            self._entries.clear()  # crude but bounded; a cold cache only costs reads
        ttl = self.ttl_s if ttl_s is None else min(self.ttl_s, ttl_s)
        self._entries[key] = (time.monotonic() + ttl, value)

    def discard(self, key: K) -> None:
        self._entries.pop(key, None)

    def discard_where(self, predicate: Callable[[K], bool]) -> None:
        for key in [key for key in self._entries if predicate(key)]:
            del self._entries[key]

    def clear(self) -> None:
        self._entries.clear()
