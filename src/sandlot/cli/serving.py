"""Running the assembled server under Uvicorn, with the record that lets the CLI find it.

Once the server listens, it writes its record (`sandlot.client.discovery`) into its data dir
and the user's config dir; it removes them as soon as it begins to stop, so the CLI never
picks a server on its way out. A crash leaves them behind, and the CLI sees by the pid that
they are stale.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import uvicorn
from starlette.types import ASGIApp

from sandlot.client.discovery import (
    ServerRecord,
    connect_url,
    record_paths,
    remove_record,
    write_record,
)
from sandlot.config import Settings

log = logging.getLogger("sandlot")

# What `uvicorn.run` exits with when the server did not start.
_STARTUP_FAILURE = 3


class _RecordedServer(uvicorn.Server):
    def __init__(
        self, config: uvicorn.Config, settings: Settings, environ: Mapping[str, str]
    ) -> None:
        super().__init__(config)
        self._settings = settings
        self._paths = record_paths(settings.data_dir, environ)

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            self._write_records()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self.remove_records()
        await super().shutdown(sockets)

    def _write_records(self) -> None:
        # The bound port, which differs from the setting when that is 0 (any free port).
        port = self.servers[0].sockets[0].getsockname()[1] if self.servers else self.config.port
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

    def remove_records(self) -> None:
        for path in self._paths:
            remove_record(path, os.getpid())


def run_server(app: ASGIApp, settings: Settings, options: Mapping[str, Any]) -> None:
    """Serve `app` with Uvicorn `options` (`sandlot.app.server_options`) until SIGINT or
    SIGTERM, as `uvicorn.run` would, with the server record."""
    server = _RecordedServer(uvicorn.Config(app, **options), settings, os.environ)
    try:
        server.run()
    finally:
        server.remove_records()  # also when the serving loop ended by an exception
    if not server.started:
        sys.exit(_STARTUP_FAILURE)
