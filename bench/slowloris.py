"""Slow clients for the bench: `python -m bench.slowloris '<json spec>'`.

Holds `connections` connections to a server on loopback, each sending one byte every
`interval_s`: half of them a request header that never ends, half a request body (of a
declared length it never reaches) after complete headers. A connection the server cuts off
is opened again at once, so the count stays up as an attacker would keep it. Prints `ready`
once every connection is open, and on SIGTERM one JSON line: how many were opened and cut off.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from dataclasses import asdict, dataclass


@dataclass
class Spec:
    host: str
    port: int
    connections: int
    interval_s: float
    body_path: str
    headers: dict[str, str]


@dataclass
class Tally:
    opened: int = 0
    cut_off: int = 0


def _openings(spec: Spec) -> tuple[bytes, bytes]:
    header = f"GET /healthz HTTP/1.1\r\nHost: {spec.host}\r\nX-Slow-".encode()
    extra = "".join(f"{name}: {value}\r\n" for name, value in spec.headers.items())
    body = (
        f"POST {spec.body_path} HTTP/1.1\r\nHost: {spec.host}\r\n{extra}"
        "Content-Type: application/json\r\nContent-Length: 1000000\r\n\r\n"
    ).encode()
    return header, body


async def _hold(spec: Spec, opening: bytes, tally: Tally, opened: asyncio.Event) -> None:
    """Keep one slow connection open, reopening it whenever the server cuts it off."""
    while True:
        try:
            reader, writer = await asyncio.open_connection(spec.host, spec.port)
        except OSError:
            await asyncio.sleep(spec.interval_s)
            continue
        tally.opened += 1
        opened.set()
        try:
            writer.write(opening)
            while True:
                try:
                    answered = await asyncio.wait_for(reader.read(1), spec.interval_s)
                except TimeoutError:
                    writer.write(b"1")  # one more byte of the header or body
                    await writer.drain()
                    continue
                if answered or reader.at_eof():
                    break  # the server answered (408) or closed: cut off
        except OSError:
            pass
        finally:
            writer.close()
        tally.cut_off += 1


async def run(spec: Spec) -> Tally:
    tally = Tally()
    header, body = _openings(spec)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    firsts = [asyncio.Event() for _ in range(spec.connections)]
    tasks = [
        asyncio.ensure_future(_hold(spec, header if n % 2 else body, tally, firsts[n]))
        for n in range(spec.connections)
    ]
    await asyncio.gather(*(event.wait() for event in firsts))
    print("ready", flush=True)
    await stop.wait()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return tally


def main(argv: list[str]) -> int:
    spec = Spec(**json.loads(argv[1]))
    tally = asyncio.run(run(spec))
    print(json.dumps(asdict(tally)), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
