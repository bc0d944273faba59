"""Output an instance writes below Python's `sys.stdout`: C extensions, subprocesses.

The bootstrap captures `print` and `logging` exactly, per invocation. Whatever reaches the
process's real fds 1 and 2 goes to a pipe instead; this module drains it while the
instance lives (so a chatty subprocess never blocks on a full pipe) and attributes it to
the invocation that is running, best effort.
"""

from __future__ import annotations

import asyncio
import os

from sandlot.worker.inside.bootstrap import truncation_note

_CHUNK = 64 * 1024


class OutputPipe:
    """The read end of the pipe on an instance's fds 1 and 2, bounded to `limit` bytes."""

    def __init__(self, read_fd: int, limit: int) -> None:
        self._fd = read_fd
        self._limit = limit
        self._data = bytearray()
        self._truncated = False
        self._eof = False
        self._loop = asyncio.get_running_loop()
        os.set_blocking(read_fd, False)
        self._loop.add_reader(read_fd, self.drain)

    def drain(self) -> None:
        """Read what is in the pipe now, keeping up to the limit and dropping the rest."""
        while self._fd >= 0 and not self._eof:
            try:
                chunk = os.read(self._fd, _CHUNK)
            except BlockingIOError:
                return
            if not chunk:  # every writer is gone: the instance and all it started
                self._eof = True
                self._loop.remove_reader(self._fd)
                return
            room = self._limit - len(self._data)
            if len(chunk) > room:
                chunk = chunk[: max(room, 0)]
                self._truncated = True
            self._data += chunk

    def take(self) -> tuple[bytes, bool]:
        """Hand out and clear what was written since the last `take()`.

        Draining first catches everything written before the instance sent its reply: the
        write to the pipe happened before the write to the control socket.
        """
        self.drain()
        data, truncated = bytes(self._data), self._truncated
        self._data = bytearray()
        self._truncated = False
        return data, truncated

    def close(self) -> None:
        if self._fd < 0:
            return
        if not self._loop.is_closed():
            self._loop.remove_reader(self._fd)
        os.close(self._fd)
        self._fd = -1


def merge_logs(
    inside: bytes, inside_truncated: bool, outside: bytes, outside_truncated: bool, limit: int
) -> tuple[str, bool]:
    """One invocation's logs: what Python printed, then what reached the fds directly."""
    if inside_truncated:  # already full, and already marked by the bootstrap
        return _text(inside), True
    data = inside + outside
    if outside_truncated or len(data) > limit:
        return _text(data[:limit] + truncation_note(limit)), True
    return _text(data), False


def _text(data: bytes) -> str:
    # NUL becomes U+FFFD like any undecodable byte: PostgreSQL's text cannot hold it, and a
    # record that cannot be written would hold up every record batched with it.
    return data.replace(b"\0", b"\xef\xbf\xbd").decode("utf-8", "replace")
