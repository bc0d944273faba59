"""Uvicorn, told about Sandlot's shutdown when the signal arrives.

Uvicorn's own order on SIGTERM is: stop accepting, wait `timeout_graceful_shutdown` for the
requests in flight, cancel them (their clients get a plain-text 500), and only then run the
lifespan shutdown, where the pool used to close. Here the signal also starts
`Runtime.stop_calls()` at once: calls get the grace period, then the pool stops their
processes and they are answered with the documented 503 JSON and recorded `cancelled`,
while Uvicorn (given a few seconds more than the grace) still waits for those answers.

`on_listening(port)` runs once the sockets listen (the port actually bound, which differs
from the setting when that is 0) and `on_stopping()` as soon as the server begins to stop,
or when serving ends by an exception: the CLI keeps its server record with them.
"""

from __future__ import annotations

import asyncio
import copy
import socket
import sys
from collections.abc import Callable
from types import FrameType
from typing import Any

import uvicorn
from starlette.types import ASGIApp
from uvicorn.config import LOGGING_CONFIG

from sandlot.services.runtime import Runtime

_STARTUP_FAILURE = 3  # Uvicorn's exit status when the app did not start


class SandlotServer(uvicorn.Server):
    def __init__(
        self,
        config: uvicorn.Config,
        runtime: Runtime,
        *,
        on_listening: Callable[[int], None] | None = None,
        on_stopping: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(config)
        self.runtime = runtime
        self._on_listening = on_listening
        self._on_stopping = on_stopping
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Task[None] | None = None

    async def serve(self, sockets: list[socket.socket] | None = None) -> None:
        self._loop = asyncio.get_running_loop()
        await super().serve(sockets)

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started and self._on_listening is not None:
            bound = self.servers[0].sockets[0].getsockname()[1] if self.servers else None
            self._on_listening(bound or self.config.port)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self.stopping()
        await super().shutdown(sockets)

    def stopping(self) -> None:
        if self._on_stopping is not None:
            self._on_stopping()

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        # A signal handler runs between any two bytecodes of the loop's thread: hand the
        # work to the loop instead of starting it here.
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._stop_calls)

    def _stop_calls(self) -> None:
        if self._stopping is None:
            self._stopping = asyncio.ensure_future(self.runtime.stop_calls())


def run(
    app: ASGIApp,
    runtime: Runtime,
    options: dict[str, Any],
    *,
    on_listening: Callable[[int], None] | None = None,
    on_stopping: Callable[[], None] | None = None,
) -> None:
    """What `uvicorn.run(app, **options)` does, with `SandlotServer`."""
    server = SandlotServer(
        uvicorn.Config(app, **options),
        runtime,
        on_listening=on_listening,
        on_stopping=on_stopping,
    )
    try:
        server.run()
    finally:
        server.stopping()  # also when the serving loop ended by an exception
    if not server.started:
        sys.exit(_STARTUP_FAILURE)


def log_config() -> dict[str, Any]:
    """Uvicorn's logging, plus Sandlot's own logger on the same handler (the sandbox summary
    at start, warnings about functions, errors of ours); a worker logs the same way."""
    config = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["sandlot"] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    return config
