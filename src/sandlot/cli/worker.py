"""`sandlot worker`: run this machine as a worker of a cluster; `sandlot worker drain`.

Like `serve`, it assembles what it runs from `Settings` (through `sandlot.node`), and imports
it only when it runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sandlot.cli.output import print_error, say

worker_app = typer.Typer(
    help='Run a worker of a cluster (README "More machines"), or drain one.',
    invoke_without_command=True,
    rich_markup_mode=None,
)

HostOpt = Annotated[
    str | None, typer.Option(help="Address the internal API listens on (SANDLOT_WORKER_HOST).")
]
PortOpt = Annotated[
    int | None, typer.Option(help="Port the internal API listens on (SANDLOT_WORKER_PORT).")
]
DataDirOpt = Annotated[
    Path | None, typer.Option("--data-dir", help="This worker's own state (SANDLOT_DATA_DIR).")
]
UrlOpt = Annotated[
    str | None,
    typer.Option("--url", help="The worker's address (default: this machine's worker URL)."),
]


@worker_app.callback()
def worker(
    ctx: typer.Context, host: HostOpt = None, port: PortOpt = None, data_dir: DataDirOpt = None
) -> None:
    """Run a worker until drained (SIGTERM or `sandlot worker drain`); exits 0 then."""
    if ctx.invoked_subcommand is not None:
        return
    from sandlot.config import Settings
    from sandlot.domain.errors import SandlotError
    from sandlot.node import refusal, serve_worker

    given = {"worker_host": host, "worker_port": port, "data_dir": data_dir}
    settings = Settings(**{k: v for k, v in given.items() if v is not None})  # type: ignore[arg-type]
    problem = refusal(settings)
    if problem is not None:
        print_error(problem)
        raise typer.Exit(2)
    try:
        serve_worker(settings)
    except SandlotError as exc:  # another process holds the data dir, a sandbox layer missing
        print_error(exc.message)
        raise typer.Exit(1) from None


@worker_app.command()
def drain(url: UrlOpt = None) -> None:
    """Ask a worker to drain: it finishes its calls, hands back its queued work and exits."""
    import httpx

    from sandlot.config import Settings
    from sandlot.domain.errors import SandlotError
    from sandlot.node import default_url, drain_worker

    settings = Settings()
    target = url or default_url(settings)
    try:
        status, answer = drain_worker(settings, target)
    except SandlotError as exc:
        print_error(exc.message)
        raise typer.Exit(2) from None
    except httpx.HTTPError as exc:
        print_error(f"could not reach the worker at {target}: {exc}")
        raise typer.Exit(1) from None
    if status != 202:
        detail = answer.get("detail") or {}
        print_error(f"{target} answered {status}: {detail.get('message') or answer}")
        raise typer.Exit(1)
    if answer.get("started"):
        say(f"worker {answer.get('worker')} at {target} is draining; it exits once its calls end")
    else:
        say(f"worker {answer.get('worker')} at {target} was draining already")
