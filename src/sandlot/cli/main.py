"""The `sandlot` command: `app` is the console script, `python -m sandlot.cli.main` runs it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sandlot import __version__
from sandlot.cli import accounts, async_control, function_urls, server_commands
from sandlot.cli.aliases import aliases_app, history, rollback
from sandlot.cli.async_calls import async_config, cancel
from sandlot.cli.audit import audit
from sandlot.cli.config import CliState
from sandlot.cli.destinations import deliveries_app, destinations_app
from sandlot.cli.egress import egress_app
from sandlot.cli.envs import envs_app
from sandlot.cli.functions import config, deploy, functions_app, invoke, versions
from sandlot.cli.invocations import invocations_app, logs
from sandlot.cli.keys import keys_app
from sandlot.cli.members import members_app
from sandlot.cli.metrics import metrics
from sandlot.cli.namespaces import namespaces_app
from sandlot.cli.pool import pool
from sandlot.cli.quotas import quota_app
from sandlot.cli.releases import release, releases_app
from sandlot.cli.schedules import schedules_app
from sandlot.cli.secrets import secrets_app
from sandlot.cli.test_events import test_events_app
from sandlot.cli.worker import worker_app

app = typer.Typer(
    name="sandlot",
    help="Sandlot: deploy, invoke and inspect Python functions.",
    no_args_is_help=True,
    add_completion=False,
    # Click's plain help, not Rich's panels: importing Rich alone takes about a third of the
    # 0.3 s that `sandlot --help` may take.
    rich_markup_mode=None,
    # Locals would include the API key; a traceback must never print it.
    pretty_exceptions_show_locals=False,
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"sandlot {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    ctx: typer.Context,
    url: Annotated[
        str | None,
        typer.Option(
            help="Server URL. (env SANDLOT_URL; else SANDLOT_HOST/SANDLOT_PORT, else the "
            "server running on this machine, else http://127.0.0.1:8000)"
        ),
    ] = None,
    api_key: Annotated[
        str | None,
        typer.Option(help="API key. (env SANDLOT_API_KEY; else the admin key of the server found)"),
    ] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            help="A local server's data dir, to find it and its key in. "
            "(env SANDLOT_DATA_DIR; default .sandlot)"
        ),
    ] = None,
    namespace: Annotated[
        str | None,
        typer.Option(
            "--namespace",
            "-n",
            envvar="SANDLOT_NAMESPACE",
            help="The namespace to act in (sent as X-Sandlot-Namespace). "
            "(env SANDLOT_NAMESPACE; default: your default one)",
        ),
    ] = None,
    version: Annotated[
        bool | None,
        typer.Option("--version", callback=_print_version, is_eager=True, help="Show the version."),
    ] = None,
) -> None:
    """Sandlot: deploy, invoke and inspect Python functions."""
    ctx.obj = CliState(url=url, api_key=api_key, data_dir=data_dir, namespace=namespace)


app.command()(deploy)
app.command()(config)
app.command()(invoke)
app.command()(rollback)
app.command()(history)
app.command()(logs)
app.command()(metrics)
app.command()(versions)
app.command()(audit)
app.command()(pool)
app.add_typer(functions_app, name="functions")
app.add_typer(aliases_app, name="aliases")
app.add_typer(invocations_app, name="invocations")
app.add_typer(keys_app, name="keys")
app.add_typer(envs_app, name="envs")
app.add_typer(quota_app, name="quota")
app.add_typer(egress_app, name="egress")
app.add_typer(namespaces_app, name="namespaces")
app.add_typer(members_app, name="members")
app.add_typer(secrets_app, name="secrets")
app.add_typer(test_events_app, name="test-events")
app.add_typer(schedules_app, name="schedules")
app.add_typer(worker_app, name="worker")
app.command()(release)
app.add_typer(releases_app, name="releases")
app.add_typer(destinations_app, name="destinations")
app.add_typer(deliveries_app, name="deliveries")
server_commands.register(app)
accounts.register(app)
functions_app.command("async-config")(async_config)
functions_app.command("update")(config)  # the same as `sandlot config`
invocations_app.command("cancel")(cancel)
function_urls.register(app)
async_control.register(invocations_app)


if __name__ == "__main__":
    app()
