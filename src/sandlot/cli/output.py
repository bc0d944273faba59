"""How the CLI prints: tables for people, raw JSON for scripts, errors on stderr.

Rich is imported only by the commands that print tables or a spinner: it costs about 0.1 s
to import, and `invoke` and `--help` must start in well under 0.3 s. Plain lines go through
click (`typer.echo`), which drops colour when the stream is not a terminal.

Rich consoles have markup off, because what they print (names, log lines, error messages)
comes from users and would otherwise be read as Rich markup.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from rich.console import Console

    from sandlot.client import ApiError


def command_group(help_text: str) -> typer.Typer:
    """A group of subcommands, with click's plain help like the main app's (`cli.main`)."""
    return typer.Typer(help=help_text, no_args_is_help=True, rich_markup_mode=None)


JsonOption = Annotated[
    bool, typer.Option("--json", help="Print the server's JSON answer instead of a table.")
]


def print_json(data: Any) -> None:
    # click.echo rather than Rich: JSON for scripts must never be wrapped or styled.
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False))


def say(text: str, *, bold: bool = False) -> None:
    """A line on stdout, as given."""
    typer.secho(text, bold=True if bold else None)


def note(text: str, *, color: str | None = None) -> None:
    """A line on stderr that is not the command's result: progress, hints, details (dim
    unless given a colour)."""
    typer.secho(text, err=True, fg=color, dim=True if color is None else None)


def print_error(message: str) -> None:
    typer.secho(f"Error: {message}", err=True, fg="red")


def fmt(value: Any) -> str:
    """A cell: `-` for nothing, yes/no for booleans, local time for timestamps."""
    if value is None or value == "":
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.1f}"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def fmt_time(value: Any) -> str:
    if not isinstance(value, str):
        return fmt(value)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    if moment.tzinfo is not None:
        moment = moment.astimezone()  # people read their own time zone
    return moment.strftime("%Y-%m-%d %H:%M:%S")


# Columns whose values people copy into the next command, or that read badly when folded.
_UNBROKEN = frozenset({"ID", "NAME", "CREATED", "UPDATED"})
# Piped output has no screen to fit: a generous width keeps every row on one line for grep.
_PIPE_WIDTH = 400


def _table_console() -> Console:
    from rich.console import Console

    console = Console(markup=False, highlight=False)
    if not console.is_terminal:
        console.width = _PIPE_WIDTH
    return console


def stderr_console() -> Console:
    from rich.console import Console

    return Console(stderr=True, markup=False, highlight=False, soft_wrap=True)


def print_table(columns: Sequence[str], rows: Iterable[Sequence[str]]) -> None:
    from rich.table import Table

    table = Table(header_style="bold", box=None, pad_edge=False)
    for column in columns:
        table.add_column(column, no_wrap=column in _UNBROKEN)
    for row in rows:
        table.add_row(*row)
    _table_console().print(table)


def print_record(record: Mapping[str, Any]) -> None:
    """A key/value listing of one object, nested objects indented one level."""
    from rich.table import Table

    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    for key, value in record.items():
        if isinstance(value, dict) and value:
            table.add_row(key, "")
            for sub_key, sub_value in value.items():
                table.add_row(f"  {sub_key}", fmt(sub_value))
        else:
            text = fmt_time(value) if key.endswith("_at") else fmt(value)
            table.add_row(key, text.rstrip("\n"))
    _table_console().print(table)


def print_api_error(error: ApiError) -> None:
    """Name and message; for a function failure also its exception and traceback."""
    # Some answers nest the function's error object; read its fields from either place.
    nested = error.detail.get("error")
    detail = {**error.detail, **(nested if isinstance(nested, dict) else {})}
    print_error(f"{error.name}: {error.message}" if error.message else error.name)
    exception_type = detail.get("exception_type")
    if exception_type:
        typer.echo(f"exception: {exception_type}", err=True)
    traceback = detail.get("traceback")
    if traceback:
        typer.echo(str(traceback).rstrip("\n"), err=True)
    if error.invocation_id:
        note(f"invocation: {error.invocation_id}")
    extra = {k: v for k, v in error.detail.items() if k not in _SHOWN_DETAIL}
    if extra:
        note(json.dumps(extra, ensure_ascii=False))


_SHOWN_DETAIL = frozenset({"message", "exception_type", "traceback", "invocation_id", "error"})
