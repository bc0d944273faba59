"""Where the CLI finds the server: options, then `SANDLOT_*` settings, then local defaults."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer

from sandlot.cli.output import print_api_error, print_error, stderr
from sandlot.client import ApiError, ClientError, ClientSettings, SandlotClient, ServerUnreachable


@dataclass
class CliState:
    """The app-wide options, kept on the Typer context for every command (`ctx.obj`)."""

    url: str | None = None
    api_key: str | None = None
    data_dir: Path | None = None

    def settings(self) -> ClientSettings:
        # Only options that were given override the environment and the defaults.
        given: dict[str, Any] = {
            "url": self.url,
            "api_key": self.api_key,
            "data_dir": self.data_dir,
        }
        return ClientSettings(**{k: v for k, v in given.items() if v is not None})


def state_of(ctx: typer.Context) -> CliState:
    return ctx.find_object(CliState) or CliState()


@contextmanager
def api_session(ctx: typer.Context) -> Iterator[SandlotClient]:
    """A client for the command's duration; API and connection errors end it with status 1."""
    try:
        with SandlotClient.from_settings(state_of(ctx).settings()) as client:
            yield client
    except ApiError as exc:
        print_api_error(exc)
        raise typer.Exit(1) from None
    except ServerUnreachable as exc:
        print_error(str(exc))
        stderr.print("Start it with `sandlot serve`, or point --url / SANDLOT_URL at it.")
        raise typer.Exit(1) from None
    except ClientError as exc:
        print_error(str(exc))
        raise typer.Exit(1) from None
