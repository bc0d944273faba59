"""`sandlot functions async-config NAME` (show or set the retry policy of its asynchronous
calls) and `sandlot invocations cancel ID`."""

from __future__ import annotations

from typing import Annotated

import typer

from sandlot.cli.config import api_session
from sandlot.cli.output import JsonOption, print_json, print_record, say

NameArg = Annotated[str, typer.Argument(help="The function's name.")]
IdArg = Annotated[str, typer.Argument(help="The invocation id.")]


def async_config(
    ctx: typer.Context,
    name: NameArg,
    max_attempts: Annotated[
        int | None,
        typer.Option(help="The most attempts of each call accepted from now on (1-10)."),
    ] = None,
    retry_on_error: Annotated[
        bool | None,
        typer.Option(
            "--retry-on-error/--no-retry-on-error",
            help="Also retry when the handler raises (crashes, timeouts and out of memory "
            "always are).",
        ),
    ] = None,
    max_event_age: Annotated[
        int | None,
        typer.Option(help="Seconds (60-21600): an older call is not run again, but dead."),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Show the retry policy of the function's asynchronous calls; with options, change it."""
    with api_session(ctx) as client:
        if max_attempts is None and retry_on_error is None and max_event_age is None:
            config = client.get_async_config(name)
        else:
            config = client.set_async_config(
                name,
                max_attempts=max_attempts,
                retry_on_error=retry_on_error,
                max_event_age_s=max_event_age,
            )
    if json_output:
        print_json(config)
    else:
        print_record(config)


def cancel(ctx: typer.Context, invocation_id: IdArg, json_output: JsonOption = False) -> None:
    """Cancel a queued or running asynchronous call: it never runs, or its instance is
    killed; its state is `cancelled`."""
    with api_session(ctx) as client:
        invocation = client.cancel_invocation(invocation_id)
    if json_output:
        print_json(invocation)
    else:
        say(f"{invocation['id']} {invocation['state']}")
