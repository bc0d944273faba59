"""Commands that run on the server's own machine: `serve`, `db upgrade`, `doctor`.

They assemble the server from `Settings` directly instead of talking HTTP. What they need is
imported when they run: `sandlot --help` and the HTTP commands never pay for it.
"""

from __future__ import annotations

import os
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from sandlot.cli.output import command_group, print_error, say

if TYPE_CHECKING:
    from sandlot.config import Settings

HostOpt = Annotated[str | None, typer.Option(help="Address to listen on (default 127.0.0.1).")]
PortOpt = Annotated[int | None, typer.Option(help="Port to listen on (default 8000).")]


class RoleChoice(StrEnum):
    """`config.Role`'s values, without importing the settings for `--help`."""

    ALL = "all"
    API = "api"


RoleOpt = Annotated[
    RoleChoice | None,
    typer.Option(
        "--role",
        help="all: API, runtime pool and queue in one process (default). api: only the API; "
        "calls go to the workers (`sandlot worker`), PostgreSQL and SANDLOT_CLUSTER_SECRET "
        "needed.",
    ),
]
DataDirOpt = Annotated[
    Path | None, typer.Option("--data-dir", help="Where state lives (default ./.sandlot).")
]


def _settings(**given: Any) -> Settings:
    from sandlot.config import Settings

    return Settings(**{key: value for key, value in given.items() if value is not None})


def serve(
    host: HostOpt = None, port: PortOpt = None, data_dir: DataDirOpt = None, role: RoleOpt = None
) -> None:
    """Run the Sandlot server (API, runtime pool) until Ctrl-C or SIGTERM."""
    from sandlot.app import create_app
    from sandlot.app import serve as run_server
    from sandlot.cli.serving import ServerRecords
    from sandlot.client.discovery import SERVER_FILE, connect_url, user_config_dir
    from sandlot.domain.errors import ClusterSetupInvalid, SandlotError

    settings = _settings(host=host, port=port, data_dir=data_dir, role=role and role.value)
    try:
        app = create_app(settings)
    except ClusterSetupInvalid as exc:  # role api on SQLite, or without the cluster secret
        print_error(exc.message)
        raise typer.Exit(2) from None
    except SandlotError as exc:  # another server holds the data dir, a sandbox layer missing
        print_error(exc.message)
        raise typer.Exit(1) from None
    url = connect_url(settings.host, settings.port)
    say(
        f"Sandlot on {url}  (API docs: {url}/docs, data: {settings.data_dir.resolve()})\n"
        f"On this machine the CLI finds it and its admin key from any directory (through "
        f"{user_config_dir(os.environ) / SERVER_FILE}); elsewhere:\n"
        f"  export SANDLOT_URL={url} SANDLOT_API_KEY=<key>"
    )
    records = ServerRecords(settings, os.environ)
    run_server(app, on_listening=records.write, on_stopping=records.remove)


def db_upgrade(data_dir: DataDirOpt = None) -> None:
    """Apply database migrations (the server also does this when it starts)."""
    from sandlot.app import migrate

    migrate(_settings(data_dir=data_dir))
    say("database is up to date")


def doctor() -> None:
    """Report which sandbox layers this host provides; exit 1 if a required one is missing."""
    from sandlot.app import sandbox_report

    text, ok = sandbox_report(_settings())
    say(text)
    raise typer.Exit(0 if ok else 1)


def register(app: typer.Typer) -> None:
    app.command()(serve)
    app.command()(doctor)
    db_app = command_group("Database maintenance.")
    db_app.command("upgrade")(db_upgrade)
    app.add_typer(db_app, name="db")
