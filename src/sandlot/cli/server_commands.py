"""Commands that run on the server's own machine: `serve`, `db upgrade`, `doctor`.

They assemble the server from `Settings` directly instead of talking HTTP.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from sandlot.cli.output import stdout
from sandlot.config import Settings

HostOpt = Annotated[str | None, typer.Option(help="Address to listen on (default 127.0.0.1).")]
PortOpt = Annotated[int | None, typer.Option(help="Port to listen on (default 8000).")]
DataDirOpt = Annotated[
    Path | None, typer.Option("--data-dir", help="Where state lives (default ./.sandlot).")
]


def _settings(**given: Any) -> Settings:
    return Settings(**{key: value for key, value in given.items() if value is not None})


def serve(host: HostOpt = None, port: PortOpt = None, data_dir: DataDirOpt = None) -> None:
    """Run the Sandlot server (API, runtime pool) until Ctrl-C or SIGTERM."""
    from sandlot.app import serve as run_server

    settings = _settings(host=host, port=port, data_dir=data_dir)
    url = f"http://{settings.host}:{settings.port}"
    stdout.print(
        f"Sandlot on {url}  (API docs: {url}/docs, data: {settings.data_dir.resolve()})\n"
        f"On this machine the CLI finds the admin key in {settings.admin_key_path}; elsewhere:\n"
        f"  export SANDLOT_URL={url} SANDLOT_API_KEY=<key>"
    )
    run_server(settings)


def db_upgrade(data_dir: DataDirOpt = None) -> None:
    """Apply database migrations (the server also does this when it starts)."""
    from sandlot.app import migrate

    migrate(_settings(data_dir=data_dir))
    stdout.print("database is up to date")


def doctor() -> None:
    """Report which sandbox layers this host provides; exit 1 if a required one is missing."""
    from sandlot.app import sandbox_report

    text, ok = sandbox_report()
    stdout.print(text)
    raise typer.Exit(0 if ok else 1)


def register(app: typer.Typer) -> None:
    app.command()(serve)
    app.command()(doctor)
    db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)
    db_app.command("upgrade")(db_upgrade)
    app.add_typer(db_app, name="db")
