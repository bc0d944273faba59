"""Where the CLI finds the server and its key (`sandlot.client.discovery` says in what order),
and the one way a command talks to it: `api_session`."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from sandlot.cli.output import note, print_api_error, print_error

if TYPE_CHECKING:
    from sandlot.client import Located, SandlotClient


@dataclass
class CliState:
    """The app-wide options, kept on the Typer context for every command (`ctx.obj`)."""

    url: str | None = None
    api_key: str | None = None
    data_dir: Path | None = None
    namespace: str | None = None

    def locate(self) -> Located:
        from sandlot.client import locate

        return locate(
            url=self.url,
            api_key=self.api_key,
            data_dir=self.data_dir,
            environ=os.environ,
            namespace=self.namespace,
        )


def state_of(ctx: typer.Context) -> CliState:
    return ctx.find_object(CliState) or CliState()


@contextmanager
def api_session(ctx: typer.Context) -> Iterator[SandlotClient]:
    """A client for the command's duration; API and connection errors end it with status 1,
    saying where the CLI looked when the server or the key was not found."""
    # The client is imported here, not at the top: `sandlot --help` never needs it.
    from sandlot.client import ApiError, ClientError, SandlotClient, ServerUnreachable

    state = state_of(ctx)
    try:
        located = state.locate()
    except ClientError as exc:  # a setting that makes no sense, e.g. SANDLOT_PORT=abc
        print_error(str(exc))
        raise typer.Exit(1) from None
    try:
        with SandlotClient(located.url, located.api_key, namespace=state.namespace) as client:
            yield client
    except ApiError as exc:
        print_api_error(exc)
        if exc.name == "Unauthenticated":
            _explain_key(located)
        raise typer.Exit(1) from None
    except ServerUnreachable as exc:
        print_error(str(exc))
        _trail("Where the CLI looked for the server:", located.url_trail)
        note("Start it with `sandlot serve`, or point --url / SANDLOT_URL at it.")
        raise typer.Exit(1) from None
    except ClientError as exc:
        print_error(str(exc))
        raise typer.Exit(1) from None


def _explain_key(located: Located) -> None:
    if located.api_key is None:
        _trail("No API key was given or found. Where the CLI looked:", located.key_trail)
    else:
        _trail("The key sent came from:", located.key_trail[-1:])
    note("Sign in with `sandlot login`, or give a key with --api-key or SANDLOT_API_KEY.")


def _trail(heading: str, places: Sequence[str]) -> None:
    note(heading)
    for place in places:
        note(f"  {place}")
