"""A real HTTP server on 127.0.0.1 that takes webhooks, for the destinations tests: it
answers each request with the next of its scripted statuses, after an optional stall."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes


@dataclass
class Script:
    statuses: list[int] = field(default_factory=lambda: [200])  # the last one repeats
    stall_first: int = 0  # how many requests to hold until released (a slow receiver)
    released: threading.Event = field(default_factory=threading.Event)
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next(self) -> tuple[int, bool]:
        with self.lock:
            index = len(self.received)
            status = self.statuses[min(index, len(self.statuses) - 1)]
            return status, index < self.stall_first


def _handler(script: Script) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            status, stall = script.next()
            with script.lock:
                script.received.append(Received(dict(self.headers.items()), body))
            if stall:
                # Held until the test ends (or 30 s): longer than the sender's timeout.
                script.released.wait(30)
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: object) -> None:
            return None

    return Handler


@contextmanager
def receiver(port: int, script: Script) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", port), _handler(script))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}/hook"
    finally:
        script.released.set()
        server.shutdown()
        server.server_close()
        thread.join(10)
