"""The record that lets the CLI find a running server.

Once the server listens, it writes its record (`sandlot.client.discovery`) into its data dir
and the user's config dir; it removes them as soon as it begins to stop, so the CLI never
picks a server on its way out. A crash leaves them behind, and the CLI sees by the pid that
they are stale.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from datetime import UTC, datetime

from sandlot.client.discovery import (
    ServerRecord,
    connect_url,
    record_paths,
    remove_record,
    write_record,
)
from sandlot.config import Settings

log = logging.getLogger("sandlot")


class ServerRecords:
    """The server's record in its data dir and the user's config dir, for the CLI to find it;
    `write` and `remove` are the server's `on_listening` and `on_stopping` hooks."""

    def __init__(self, settings: Settings, environ: Mapping[str, str]) -> None:
        self._settings = settings
        self._paths = record_paths(settings.data_dir, environ)

    def write(self, port: int) -> None:
        """Once listening on `port` (the bound one, which differs from the setting when that
        is 0: any free port)."""
        record = ServerRecord(
            url=connect_url(self._settings.host, port),
            pid=os.getpid(),
            data_dir=str(self._settings.data_dir.resolve()),
            admin_key_file=str(self._settings.admin_key_path.resolve()),
            started_at=datetime.now(UTC).isoformat(timespec="seconds"),
        )
        for path in self._paths:
            try:
                write_record(record, path)
            except OSError as exc:  # a read-only home must not stop the server
                log.warning("could not write %s for the CLI to find this server: %s", path, exc)

    def remove(self) -> None:
        for path in self._paths:
            remove_record(path, os.getpid())
