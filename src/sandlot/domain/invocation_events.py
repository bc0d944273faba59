"""What an invocation's record keeps of the event it was invoked with.

The event is kept as text, its first `limit` bytes at most (`SANDLOT_INVOCATION_EVENT_BYTES`),
flagged when cut. The invoke door accepts only UTF-8 JSON (`domain.json_values`), so the one
way a kept event can stop being UTF-8 is a cut through a multi-byte character: the cut backs
off to the character's start instead, and the kept text is at most `limit` bytes. Bytes that
are not UTF-8 at all (no door sends them today) are decoded with U+FFFD replacement
characters, so the record always holds text that both databases store as it is.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class KeptEvent:
    text: str | None  # None: the bound is 0, nothing is kept
    truncated: bool


NOTHING = KeptEvent(None, False)


def keep_event(data: bytes, limit: int) -> KeptEvent:
    if limit <= 0:
        return NOTHING
    if len(data) <= limit:
        return KeptEvent(data.decode("utf-8", errors="replace"), False)
    end = limit
    # A UTF-8 continuation byte is 0b10xxxxxx: back off to the start of the character that
    # the bound cuts (at most 3 bytes), so the cut leaves no broken character at the end.
    while end > 0 and limit - end < 3 and data[end] & 0xC0 == 0x80:
        end -= 1
    return KeptEvent(data[:end].decode("utf-8", errors="replace"), True)
