"""`sandlot invocations list|get|logs` and `sandlot logs NAME [--follow]`."""

from __future__ import annotations

import contextlib
import time
from typing import TYPE_CHECKING, Annotated

import typer

from sandlot.cli.config import api_session
from sandlot.cli.functions import NameArg
from sandlot.cli.output import (
    JsonOption,
    command_group,
    fmt,
    fmt_time,
    note,
    print_json,
    print_record,
    print_table,
    say,
)
from sandlot.domain.states import FINAL_INVOCATION_STATES, InvocationState

if TYPE_CHECKING:
    from sandlot.client import JSON, SandlotClient

invocations_app = command_group("List and inspect invocations.")

_FINAL = frozenset(state.value for state in FINAL_INVOCATION_STATES)
# How many invocations one --follow request asks for (the server's largest page).
_FOLLOW_PAGE = 200

IdArg = Annotated[str, typer.Argument(help="The invocation id.")]
IncludeDeletedOption = Annotated[
    bool,
    typer.Option("--include-deleted", help="Also of the functions of that name that were deleted."),
]


@invocations_app.command("list")
def list_invocations(
    ctx: typer.Context,
    function: Annotated[
        str | None,
        typer.Option(
            "--function",
            "-f",
            help="Only this function: the one that has the name now, not deleted ones.",
        ),
    ] = None,
    state: Annotated[InvocationState | None, typer.Option(help="Only in this state.")] = None,
    limit: Annotated[int | None, typer.Option(help="At most this many.", min=1)] = None,
    cursor: Annotated[str | None, typer.Option(help="Continue after a previous page.")] = None,
    function_id: Annotated[
        str | None, typer.Option(help="Only the function with this id, live or deleted.")
    ] = None,
    include_deleted: IncludeDeletedOption = False,
    version: Annotated[
        int | None, typer.Option("--version", help="Only calls of this version.", min=1)
    ] = None,
    cold: Annotated[
        bool | None,
        typer.Option("--cold/--warm", help="Only cold starts, or only calls served warm."),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(help="Only calls accepted at or after this time (ISO 8601 with a zone)."),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option(help="Only calls accepted before this time (ISO 8601 with a zone)."),
    ] = None,
    alias: Annotated[
        str | None,
        typer.Option("--alias", help="Only calls served through this alias (latest: none named)."),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """List invocations, newest first."""
    with api_session(ctx) as client:
        page = client.list_invocations(
            function=function,
            state=state.value if state else None,
            limit=limit,
            cursor=cursor,
            function_id=function_id,
            include_deleted=include_deleted,
            version=version,
            cold_start=cold,
            since=since,
            until=until,
            alias=alias,
        )
    if json_output:
        print_json(page)
        return
    columns = ["ID", "FUNCTION", "ALIAS", "VERSION", "STATE", "COLD", "MS", "CREATED"]
    rows = [_invocation_row(item) for item in page["items"]]
    if include_deleted:  # which function of that name each one ran
        columns.insert(2, "FUNCTION ID")
        for row, item in zip(rows, page["items"], strict=True):
            row.insert(2, fmt(item.get("function_id")))
    print_table(columns, rows)
    if page.get("next_cursor"):
        note(f"more: --cursor {page['next_cursor']}")


def _invocation_row(invocation: JSON) -> list[str]:
    return [
        invocation["id"],
        fmt(invocation.get("function")),
        fmt(invocation.get("alias")),
        fmt(invocation.get("version")),
        fmt(invocation.get("state")),
        fmt(invocation.get("cold_start")),
        fmt(invocation.get("duration_ms")),
        fmt_time(invocation.get("created_at")),
    ]


@invocations_app.command("get")
def get_invocation(
    ctx: typer.Context, invocation_id: IdArg, json_output: JsonOption = False
) -> None:
    """Show one invocation: timings, result or error, and the start of its logs."""
    with api_session(ctx) as client:
        invocation = client.get_invocation(invocation_id)
    if json_output:
        print_json(invocation)
    else:
        print_record(invocation)


@invocations_app.command("logs")
def invocation_logs(ctx: typer.Context, invocation_id: IdArg) -> None:
    """Print all captured output of one invocation."""
    with api_session(ctx) as client:
        _echo_raw(client.get_invocation_logs(invocation_id))


def logs(
    ctx: typer.Context,
    name: NameArg,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new invocations until Ctrl-C.")
    ] = False,
    limit: Annotated[int, typer.Option(help="How many recent invocations.", min=1)] = 20,
    interval: Annotated[float, typer.Option(help="Seconds between polls.", hidden=True)] = 1.0,
    include_deleted: IncludeDeletedOption = False,
) -> None:
    """Print the logs of a function's recent invocations, oldest first. A function deleted
    and made again is a new function: its logs start afresh (see --include-deleted)."""
    with api_session(ctx) as client:
        if not include_deleted:
            _check_live(client, name)
        if not follow:
            recent = client.list_invocations(
                function=name, limit=limit, include_deleted=include_deleted
            )["items"]
            for invocation in reversed(recent):
                _print_logs(client, invocation, show_function=include_deleted)
            return
        with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is how --follow is meant to end
            _follow(client, name, limit, interval)


def _follow(client: SandlotClient, name: str, limit: int, interval: float) -> None:
    """Print the newest `limit` invocations, then every new one, each once: new ones are read
    by cursor, oldest first (the server lists every call with a smaller id before a larger
    one, a call still running as `running`), and one still running is printed when it ends,
    so that its logs are whole."""
    recent = client.list_invocations(function=name, limit=limit)["items"]  # newest first
    running: list[str] = []
    for invocation in reversed(recent):
        _print_when_ended(client, invocation, running)
    # No history yet: every invocation from the first on is new ("" sorts before any id).
    cursor = recent[0]["id"] if recent else ""
    while True:
        cursor = _print_new(client, name, cursor, running)
        running[:] = [i for i in running if not _printed_if_ended(client, i)]
        time.sleep(interval)


def _print_new(client: SandlotClient, name: str, cursor: str, running: list[str]) -> str:
    """Print what was recorded after `cursor`, page by page; returns the new cursor."""
    while True:
        page = client.list_invocations(function=name, after=cursor, limit=_FOLLOW_PAGE)
        for invocation in page["items"]:
            _print_when_ended(client, invocation, running)
            cursor = invocation["id"]
        if not page.get("next_cursor"):
            return cursor


def _print_when_ended(client: SandlotClient, invocation: JSON, running: list[str]) -> None:
    if invocation["state"] in _FINAL:
        _print_logs(client, invocation)
    else:
        running.append(invocation["id"])


def _printed_if_ended(client: SandlotClient, invocation_id: str) -> bool:
    """Print a call seen running if it has ended; True once it needs no more looking at."""
    from sandlot.client import ApiError

    try:
        invocation = client.get_invocation(invocation_id)
    except ApiError as exc:
        if exc.status == 404:  # refused before it ran (it waited for a slot, then got 429)
            return True
        raise
    if invocation["state"] not in _FINAL:
        return False
    _print_logs(client, invocation)
    return True


def _check_live(client: SandlotClient, name: str) -> None:
    """A typo says FunctionNotFound rather than nothing at all; for a deleted function, the
    hint says how to see its history."""
    from sandlot.client import ApiError

    try:
        client.get_function(name)
    except ApiError as exc:
        if (
            exc.name == "FunctionNotFound"
            and client.list_invocations(function=name, limit=1)["items"]
        ):
            note(f"{name} was deleted; its logs: sandlot logs {name} --include-deleted")
        raise


def _print_logs(client: SandlotClient, invocation: JSON, *, show_function: bool = False) -> None:
    header = (
        f"==> {fmt_time(invocation.get('created_at'))}  {invocation['id']}  "
        f"{invocation.get('state')}  v{fmt(invocation.get('version'))}  "
        f"{fmt(invocation.get('duration_ms'))} ms"
    )
    if show_function:
        header += f"  function {fmt(invocation.get('function_id'))}"
    say(header, bold=True)
    error = invocation.get("error")
    if isinstance(error, dict) and error.get("message"):
        kind = error.get("exception_type") or error.get("kind") or "error"
        typer.secho(f"{kind}: {error['message']}", fg="red")
    excerpt = invocation.get("log_excerpt")
    if invocation.get("logs_truncated") or excerpt is None:
        excerpt = client.get_invocation_logs(invocation["id"])
    _echo_raw(excerpt)


def _echo_raw(text: str) -> None:
    # Log text is printed byte for byte: Rich would wrap long lines and read brackets.
    if text:
        typer.echo(text, nl=not text.endswith("\n"))
