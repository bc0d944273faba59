"""The warm-invocation baseline: a bare FastAPI endpoint that echoes its JSON body.

Served exactly as `sandlot serve` serves Sandlot (`uvicorn.run(app, ...)` in its own process,
the same options as `sandlot.cli.server_commands.serve`), so the ratio isolates what Sandlot's
invoke path adds: auth, routing to the pool, the round trip to a warm instance.
Run as `python -m bench.echo_app PORT`.
"""

from __future__ import annotations

import sys
from typing import Any

from fastapi import Body, FastAPI

app = FastAPI()


@app.post("/echo")
async def echo(event: Any = Body(None)) -> Any:
    # The idiomatic FastAPI echo: decode the JSON body, return it, let FastAPI encode it.
    return event


def main(argv: list[str]) -> int:
    import uvicorn

    from sandlot.app import server_options
    from sandlot.config import Settings

    # Exactly the options of `sandlot serve`, so both servers pay the same per-request
    # logging and use the same event loop and HTTP parser.
    uvicorn.run(app, **{**server_options(Settings()), "port": int(argv[1])})
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
