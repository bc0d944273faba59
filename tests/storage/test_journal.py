"""The journal's segment files, on a real directory: frames, torn tails, rolling, dropping."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sandlot.domain.errors import InsufficientStorage
from sandlot.storage.journal import Journal, frame, read_frames
from tests.tmpfs import fill, small_tmpfs

SEGMENT = 64 * 1024


def _segments(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.journal"))


def _reopen(directory: Path) -> list[bytes]:
    journal = Journal(directory, SEGMENT)
    payloads = [item.payload for item in journal.open()]
    journal.close()
    return payloads


def test_entries_written_come_back_after_the_process_lost_its_journal(tmp_path: Path) -> None:
    journal = Journal(tmp_path, SEGMENT)
    assert journal.open() == []
    for n in range(5):
        journal.append(f"entry {n}".encode())
    # No close(): like a process killed with -9, only what the kernel holds remains.
    segment = _segments(tmp_path)[0]
    assert segment.stat().st_size == SEGMENT  # preallocated, not grown entry by entry
    assert _reopen(tmp_path) == [f"entry {n}".encode() for n in range(5)]


def test_a_torn_tail_is_detected_and_skipped(tmp_path: Path) -> None:
    journal = Journal(tmp_path, SEGMENT)
    journal.open()
    journal.append(b"whole one")
    journal.append(b"whole two")
    path = _segments(tmp_path)[0]
    used = len(frame(b"whole one")) + len(frame(b"whole two"))
    torn = frame(b"this write was cut short by a kill")[:-7]
    with path.open("r+b") as handle:
        handle.seek(used)
        handle.write(torn)

    reopened = Journal(tmp_path, SEGMENT)
    assert [item.payload for item in reopened.open()] == [b"whole one", b"whole two"]
    assert reopened.torn_tails == 1
    reopened.close()


def test_a_frame_that_fails_its_checksum_ends_the_segment(tmp_path: Path) -> None:
    good, bad, after = frame(b"good"), bytearray(frame(b"flipped")), frame(b"after")
    bad[-1] ^= 0xFF
    frames = read_frames(good + bytes(bad) + after)
    assert frames.payloads == [b"good"]
    assert frames.torn_at == len(good)
    clean = read_frames(good + bytes(64))  # zeros: where writing stopped, not a tear
    assert clean.payloads == [b"good"] and clean.torn_at is None


def test_segments_roll_and_are_dropped_once_every_entry_is_settled(tmp_path: Path) -> None:
    journal = Journal(tmp_path, SEGMENT)
    journal.open()
    payload = os.urandom(10_000)
    numbers = [journal.append(payload) for _ in range(20)]  # about three segments' worth
    assert len(set(numbers)) >= 3
    first = numbers[0]
    for number in numbers:
        if number == first:
            journal.settle(number)
    assert not (tmp_path / f"{first:012d}.journal").exists()
    assert len(_reopen(tmp_path)) == len(numbers) - numbers.count(first)


def test_a_settled_journal_leaves_nothing_at_close(tmp_path: Path) -> None:
    journal = Journal(tmp_path, SEGMENT)
    journal.open()
    for number in [journal.append(b"x" * 100) for _ in range(3)]:
        journal.settle(number)
    journal.close()
    assert _segments(tmp_path) == []


def test_a_full_disk_refuses_new_calls_but_keeps_room_for_their_outcomes(tmp_path: Path) -> None:
    with small_tmpfs(tmp_path / "disk", "1m") as disk:
        journal = Journal(disk / "journal", SEGMENT)
        journal.open()
        filler = disk / "filler"
        fill(filler)
        entry = b"y" * 1000
        # The current segment fills, the spare takes over, and no new spare fits.
        while journal.has_reserve:
            journal.append(entry, needs_reserve=True)
        with pytest.raises(InsufficientStorage):
            journal.append(b"a new call's start", needs_reserve=True)
        for _ in range(SEGMENT // len(frame(entry)) - 1):
            journal.append(entry)  # the outcomes of calls already running still fit
        filler.unlink()
        journal.append(b"room again: a new call", needs_reserve=True)
        assert journal.has_reserve
        journal.close()
