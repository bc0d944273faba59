"""A local append-only journal: what the server promised, kept until the database has it.

Each entry is one frame, `length (4 bytes) | CRC-32 (4 bytes) | payload`, written with one
`pwrite()`: once that returns the kernel holds it, so a crash of the process (kill -9) cannot
lose it. On the next start `open()` reads every segment back; a frame cut short by a kill in
the middle of a write, or one whose checksum does not match, ends its segment (a torn tail),
and a zero header marks where writing stopped in a preallocated segment.

Segments are preallocated (`posix_fallocate`), so the journal keeps taking entries while the
disk is too full for the database; one spare segment is kept ahead, and new calls are refused
(`InsufficientStorage`) when no spare can be made, so that calls already running can still
write their outcome. A segment is deleted once each entry in it is settled (committed to the
database by the caller).

Written by hand: the frame format and segment bookkeeping are a few dozen lines of the
standard library, and the warm invoke path can afford no more than one system call per entry.
"""

from __future__ import annotations

import logging
import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

from sandlot.domain.errors import InsufficientStorage
from sandlot.storage.space import full_disk_named

log = logging.getLogger(__name__)

_HEADER = struct.Struct(">II")  # payload length, CRC-32 of the payload
_SUFFIX = ".journal"


@dataclass(frozen=True)
class Replayed:
    """An entry read back at open, from the segment that still holds it."""

    segment: int
    payload: bytes


@dataclass(frozen=True)
class Frames:
    payloads: list[bytes]
    torn_at: int | None  # the offset of a frame cut short or corrupt, if one was found


def frame(payload: bytes) -> bytes:
    return _HEADER.pack(len(payload), zlib.crc32(payload)) + payload


def read_frames(data: bytes) -> Frames:
    """The whole frames at the start of `data`, up to a zero header (where writing stopped)
    or a frame that is cut short or fails its checksum (a torn tail)."""
    payloads: list[bytes] = []
    offset = 0
    while offset + _HEADER.size <= len(data):
        length, crc = _HEADER.unpack_from(data, offset)
        if length == 0:
            return Frames(payloads, None)
        start, end = offset + _HEADER.size, offset + _HEADER.size + length
        if end > len(data) or zlib.crc32(data[start:end]) != crc:
            return Frames(payloads, offset)
        payloads.append(data[start:end])
        offset = end
    torn = offset < len(data) and any(data[offset:])
    return Frames(payloads, offset if torn else None)


@dataclass(eq=False)
class _Segment:
    number: int
    path: Path
    fd: int | None  # None once sealed: nothing more is written to it
    capacity: int
    used: int = 0
    unsettled: int = 0

    def seal(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


class Journal:
    """Segment files `<number>.journal` in `directory`, one writer (the server's event loop).

    `open()` once, then `append()` entries and `settle()` each one (by the segment number
    `append()` returned) when the database holds what it says.
    """

    def __init__(self, directory: Path, segment_bytes: int) -> None:
        self.directory = directory
        self.segment_bytes = segment_bytes
        self.torn_tails = 0  # segments found with a torn tail at open
        self._segments: dict[int, _Segment] = {}
        self._current: _Segment | None = None
        self._spare: _Segment | None = None
        self._last_number = 0
        self._short = False  # the last attempt to make a spare failed

    # starting

    def open(self) -> list[Replayed]:
        """Read back what earlier runs left (each entry unsettled until `settle()`), and
        prepare the segments this run writes to."""
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        replayed: list[Replayed] = []
        for number, path in self._existing():
            self._last_number = max(self._last_number, number)
            frames = read_frames(path.read_bytes())
            if frames.torn_at is not None:
                self.torn_tails += 1
                log.warning(
                    "journal %s: torn tail at byte %d (a write cut short); skipped",
                    path.name,
                    frames.torn_at,
                )
            if not frames.payloads:
                path.unlink()
                continue
            segment = _Segment(number, path, None, 0, unsettled=len(frames.payloads))
            self._segments[number] = segment
            replayed.extend(Replayed(number, payload) for payload in frames.payloads)
        try:
            self._current = self._make(self.segment_bytes)
        except InsufficientStorage as exc:
            log.error("the journal cannot make a segment: %s; calls are refused", exc.message)
        self._try_spare()
        return replayed

    def _existing(self) -> list[tuple[int, Path]]:
        found = []
        for path in self.directory.glob(f"*{_SUFFIX}"):
            stem = path.name.removesuffix(_SUFFIX)
            if stem.isdigit():
                found.append((int(stem), path))
        return sorted(found)

    # writing

    @property
    def has_reserve(self) -> bool:
        """Whether a spare segment is ready for the outcomes of calls in flight."""
        return self._spare is not None

    def append(self, payload: bytes, *, needs_reserve: bool = False) -> int:
        """Write one entry; returns its segment's number. `needs_reserve` (a new call's start)
        refuses the entry unless a spare segment is ready for what follows it."""
        data = frame(payload)
        if needs_reserve and self._spare is None and not self._try_spare():
            raise InsufficientStorage(
                "the data dir is full: the journal has no room for new calls' records"
            )
        segment = self._current
        if segment is None or segment.used + len(data) > segment.capacity:
            segment = self._roll(len(data))
        assert segment.fd is not None
        with full_disk_named():
            os.pwrite(segment.fd, data, segment.used)
        segment.used += len(data)
        segment.unsettled += 1
        return segment.number

    def settle(self, number: int) -> None:
        """One entry of segment `number` is in the database; a sealed segment whose entries
        are all settled is deleted."""
        segment = self._segments.get(number)
        if segment is None:
            return
        segment.unsettled -= 1
        if segment.unsettled <= 0 and segment is not self._current and segment is not self._spare:
            self._delete(segment)

    def _roll(self, size: int) -> _Segment:
        spare = self._spare
        if spare is not None and spare.capacity >= size:
            self._spare = None
            new = spare
        else:
            new = self._make(max(self.segment_bytes, size))
        old, self._current = self._current, new
        if old is not None:
            old.seal()
            if old.unsettled <= 0:
                self._delete(old)
        self._try_spare()
        return new

    def _try_spare(self) -> bool:
        if self._spare is None:
            try:
                self._spare = self._make(self.segment_bytes)
            except InsufficientStorage as exc:
                if not self._short:  # said once, not on every call refused meanwhile
                    log.error("the journal cannot keep a spare segment: %s", exc.message)
                self._short = True
                return False
            if self._short:
                log.info("the journal has room again")
            self._short = False
        return True

    def _make(self, capacity: int) -> _Segment:
        number = self._last_number + 1
        path = self.directory / f"{number:012d}{_SUFFIX}"
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        try:
            with full_disk_named():
                os.posix_fallocate(fd, 0, capacity)
        except BaseException:
            os.close(fd)
            path.unlink(missing_ok=True)
            raise
        self._last_number = number
        segment = _Segment(number, path, fd, capacity)
        self._segments[number] = segment
        return segment

    def _delete(self, segment: _Segment) -> None:
        segment.seal()
        self._segments.pop(segment.number, None)
        segment.path.unlink(missing_ok=True)

    # stopping

    def close(self) -> None:
        """Close every file; segments with unsettled entries stay for the next start."""
        for segment in (self._current, self._spare):
            if segment is not None and segment.unsettled <= 0:
                self._delete(segment)
        self._current = self._spare = None
        for segment in list(self._segments.values()):
            segment.seal()
