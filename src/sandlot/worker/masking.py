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

from sandlot.worker.inside.bootstrap import TRUNCATION_NOTE

MASK = "***"
MIN_MASKED_CHARS = 4
# How a capped log says where it was cut: the start of the note the cap appends.
CUT_MARK = TRUNCATION_NOTE.split("{limit}")[0]


class Masker:
    """Replaces every occurrence of any of the given values (and of each line of a
    multi-line value, which a function may well print one line at a time) by `***`."""

    def __init__(self, values: Iterable[str]) -> None:
        needles: set[str] = set()
        for value in values:
            needles.add(value)
            needles.update(line.strip() for line in value.splitlines())
        kept = sorted((n for n in needles if len(n) >= MIN_MASKED_CHARS), key=len, reverse=True)
        self._needles = kept
        # Longest first, so that a value containing another is masked whole.
        self._pattern = re.compile("|".join(map(re.escape, kept))) if kept else None

    def __bool__(self) -> bool:
        return self._pattern is not None

    def mask(self, text: str) -> str:
        if self._pattern is None or not text:
            return text
        return self._pattern.sub(MASK, text)

    def mask_cut(self, text: str) -> str:
        """A capped log: a value cut in two by the cap leaves its start just before the
        note that says so; that start is masked too (when it is `MIN_MASKED_CHARS` long)."""
        cut = text.rfind(CUT_MARK)
        if cut < 0 or not self._needles:
            return text
        head = text[:cut]
        for needle in self._needles:
            start = _partial_start(head, needle)
            if start is not None:
                return head[:start] + MASK + text[cut:]
        return text


def _partial_start(head: str, needle: str) -> int | None:
    """Where `head` ends with a proper prefix of `needle` at least `MIN_MASKED_CHARS` long
    (the longest such), found by looking only where the needle's first characters appear."""
    lead = needle[:MIN_MASKED_CHARS]
    position = head.find(lead, max(0, len(head) - len(needle) + 1))
    while position >= 0:
        if needle.startswith(head[position:]):
            return position
        position = head.find(lead, position + 1)
    return None
