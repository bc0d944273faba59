"""Warm invoke p50 with and without one live log-stream subscriber on the function.

`python -m bench.log_stream`: one real server, the trivial workload, rounds interleaved
(no subscriber, one subscriber reading `GET .../logs/stream` in a thread) so that drift of
a shared machine hits both alike. Prints p50 and throughput of each, and their ratio.
"""

from __future__ import annotations

import io
import statistics
import tempfile
import threading
import zipfile
from pathlib import Path

import httpx

from bench import loads
from bench.sandlot_server import API_KEY, start_sandlot

ROUNDS, REQUESTS, SECONDS = 4, 3000, 6.0
HEADERS = {"Authorization": f"Bearer {API_KEY}"}


def _zip(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.write(folder / "main.py", "main.py")
    return buffer.getvalue()


def _subscribe(url: str, stop: threading.Event, seen: list[int]) -> None:
    with (
        httpx.Client(base_url=url, headers=HEADERS, timeout=60) as client,
        client.stream("GET", "/api/v1/functions/trivial/logs/stream") as stream,
    ):
        for line in stream.iter_lines():
            if line.startswith("id: "):
                seen[0] += 1
            if stop.is_set():
                return


def main() -> None:
    server = start_sandlot(Path(tempfile.mkdtemp(prefix="sandlot-bench-logs-")))
    try:
        workload = Path(__file__).parent / "workloads" / "trivial"
        with httpx.Client(base_url=server.url, headers=HEADERS, timeout=60) as client:
            answer = client.post(
                "/api/v1/functions",
                data={"name": "trivial"},
                files={"code": ("code.zip", _zip(workload), "application/zip")},
            )
            answer.raise_for_status()
        p50s: dict[str, list[float]] = {"none": [], "one": []}
        rps: dict[str, list[float]] = {"none": [], "one": []}
        seen = [0]
        for _ in range(ROUNDS):
            for label in ("none", "one"):
                stop = threading.Event()
                reader = threading.Thread(target=_subscribe, args=(server.url, stop, seen))
                if label == "one":
                    reader.start()
                result = loads.closed(
                    server.port, loads.invoke_path("trivial"), '{"name": "Ada"}',
                    connections=1, requests=REQUESTS, seconds=SECONDS, auth=True,
                )  # fmt: skip
                stop.set()
                p50s[label].append(statistics.median(result.latencies_ms))
                rps[label].append(result.rps)
        none, one = statistics.median(p50s["none"]), statistics.median(p50s["one"])
        print(f"warm p50, no subscriber:  {none:.3f} ms  ({statistics.median(rps['none']):.0f}/s)")
        print(f"warm p50, one subscriber: {one:.3f} ms  ({statistics.median(rps['one']):.0f}/s)")
        print(f"ratio: {one / none:.3f}; events the subscriber read: {seen[0]}")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
