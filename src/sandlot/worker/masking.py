"""Masking secret values in what an instance printed, the way CI systems mask theirs.

Done here, on the server, where an instance's output is captured: nothing the function does
inside its sandbox can skip it. An invocation's output is masked as one text (what Python
printed, then what reached the fds), so a value split across several writes of one call is
masked too. Values shorter than `MIN_MASKED_CHARS` are left alone: masking "on" or "1" would
turn every log into asterisks while hiding nothing worth hiding.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

MASK = "***"
MIN_MASKED_CHARS = 4


class Masker:
    """Replaces every occurrence of any of the given values (and of each line of a
    multi-line value, which a function may well print one line at a time) by `***`."""

    def __init__(self, values: Iterable[str]) -> None:
        needles: set[str] = set()
        for value in values:
            needles.add(value)
            needles.update(line.strip() for line in value.splitlines())
        kept = sorted((n for n in needles if len(n) >= MIN_MASKED_CHARS), key=len, reverse=True)
        # Longest first, so that a value containing another is masked whole.
        self._pattern = re.compile("|".join(map(re.escape, kept))) if kept else None

    def __bool__(self) -> bool:
        return self._pattern is not None

    def mask(self, text: str) -> str:
        if self._pattern is None or not text:
            return text
        return self._pattern.sub(MASK, text)
