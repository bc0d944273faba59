"""The load generator: a separate process on loopback, the same client for every server.

Run as `python -m bench.loadgen '<json spec>'`; prints one JSON object of samples. A raw
HTTP/1.1 keep-alive client on asyncio (uvloop when present) keeps the client's own cost per
request small and identical for Sandlot and for the bare FastAPI baseline; an HTTP library
would add more per-request time than the thing being measured.

Modes:
- "closed": `connections` keep-alive connections, each sending its next request when the last
  answer arrived (and `think_s` more passed), until `requests` answers or `seconds` passed
  (whichever comes first).
- "burst": `rounds` times, open `connections` fresh connections, send one request on each at
  the same moment, wait for all answers, then pause `pause_s` (so a pool can retire the
  instances the burst started).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Spec:
    host: str
    port: int
    path: str
    body: str = "{}"
    # When given, requests cycle through these paths in order, shared by every connection:
    # concurrent requests then go to different functions (to force cold starts by eviction).
    paths: list[str] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    mode: str = "closed"
    connections: int = 1
    requests: int = 1000
    seconds: float = 10.0
    warmup: int = 0  # requests per connection sent before timing starts (closed mode)
    think_s: float = 0.0  # each connection's pause between an answer and its next request
    rounds: int = 1
    pause_s: float = 0.0


@dataclass
class Samples:
    latencies_us: list[int] = field(default_factory=list)
    status: list[int] = field(default_factory=list)  # per request, in order
    statuses: dict[str, int] = field(default_factory=dict)
    cold: list[bool] = field(default_factory=list)
    server_ms: list[float] = field(default_factory=list)  # X-Sandlot-Duration-Ms, if sent
    # Server-Timing phases (queue, start, init, handler) of cold answers only: few, and
    # where the time of a cold start goes is what they are for.
    cold_phases: list[dict[str, float]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0


class Requests:
    """Pre-built request bytes, handed out in rotation."""

    def __init__(self, spec: Spec) -> None:
        self._all = [build_request(spec, path) for path in (spec.paths or [spec.path])]
        self._next = 0

    def next(self) -> bytes:
        request = self._all[self._next % len(self._all)]
        self._next += 1
        return request


def build_request(spec: Spec, path: str) -> bytes:
    body = spec.body.encode()
    lines = [
        f"POST {path} HTTP/1.1",
        f"Host: {spec.host}:{spec.port}",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        *(f"{name}: {value}" for name, value in spec.headers.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str]]:
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers: dict[str, str] = {}
    for line in header_lines:
        if ":" in line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    if "content-length" in headers:
        await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip().split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    return int(status_line.split(" ", 2)[1]), headers


def _record(samples: Samples, started: int, status: int, headers: dict[str, str]) -> None:
    samples.latencies_us.append((time.perf_counter_ns() - started) // 1000)
    samples.status.append(status)
    samples.statuses[str(status)] = samples.statuses.get(str(status), 0) + 1
    samples.cold.append(headers.get("x-sandlot-cold-start") == "true")
    duration = headers.get("x-sandlot-duration-ms")
    samples.server_ms.append(float(duration) if duration else -1.0)
    if samples.cold[-1] and "server-timing" in headers:
        samples.cold_phases.append(parse_server_timing(headers["server-timing"]))


def parse_server_timing(value: str) -> dict[str, float]:
    """`queue;dur=0.1, start;dur=2.5` -> {"queue": 0.1, "start": 2.5}."""
    phases: dict[str, float] = {}
    for metric in value.split(","):
        name, _, params = metric.strip().partition(";")
        for param in params.split(";"):
            key, _, number = param.strip().partition("=")
            if key == "dur":
                phases[name] = float(number)
    return phases


async def _closed_worker(
    spec: Spec, requests: Requests, samples: Samples, ready: list[int], go: asyncio.Event
) -> None:
    reader, writer = await asyncio.open_connection(spec.host, spec.port)
    try:
        for _ in range(spec.warmup):
            writer.write(requests.next())
            await _read_response(reader)
        ready.append(1)
        # Every worker starts timing together, after every worker's warm-up.
        await go.wait()
        deadline = time.monotonic() + spec.seconds
        while len(samples.latencies_us) < spec.requests and time.monotonic() < deadline:
            request = requests.next()
            started = time.perf_counter_ns()
            writer.write(request)
            status, headers = await _read_response(reader)
            _record(samples, started, status, headers)
            if spec.think_s:
                await asyncio.sleep(spec.think_s)
    finally:
        writer.close()


async def run_closed(spec: Spec) -> Samples:
    samples = Samples()
    requests = Requests(spec)
    ready: list[int] = []
    go = asyncio.Event()
    workers = [
        asyncio.ensure_future(_closed_worker(spec, requests, samples, ready, go))
        for _ in range(spec.connections)
    ]
    while len(ready) < spec.connections and not any(w.done() for w in workers):
        await asyncio.sleep(0.005)
    began = time.monotonic()
    go.set()
    results = await asyncio.gather(*workers, return_exceptions=True)
    samples.elapsed_s = time.monotonic() - began
    samples.errors = [repr(r) for r in results if isinstance(r, BaseException)]
    return samples


async def _burst_one(spec: Spec, request: bytes, go: asyncio.Event, samples: Samples) -> None:
    reader, writer = await asyncio.open_connection(spec.host, spec.port)
    try:
        await go.wait()
        started = time.perf_counter_ns()
        writer.write(request)
        status, headers = await _read_response(reader)
        _record(samples, started, status, headers)
    finally:
        writer.close()


async def run_burst(spec: Spec) -> Samples:
    samples = Samples()
    requests = Requests(spec)
    began = time.monotonic()
    for _ in range(spec.rounds):
        if time.monotonic() - began > spec.seconds:
            break
        go = asyncio.Event()
        tasks = [
            asyncio.ensure_future(_burst_one(spec, requests.next(), go, samples))
            for _ in range(spec.connections)
        ]
        await asyncio.sleep(0.02)  # let every connection finish its handshake first
        go.set()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        samples.errors += [repr(r) for r in results if isinstance(r, BaseException)]
        if spec.pause_s:
            await asyncio.sleep(spec.pause_s)
    samples.elapsed_s = time.monotonic() - began
    return samples


def main(argv: list[str]) -> int:
    spec = Spec(**json.loads(argv[1]))
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover - uvicorn[standard] brings it
        pass
    runner = run_burst if spec.mode == "burst" else run_closed
    samples = asyncio.run(runner(spec))
    out: dict[str, Any] = asdict(samples)
    sys.stdout.write(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
