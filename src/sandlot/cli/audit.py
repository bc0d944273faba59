"""`sandlot audit`: who changed what, when, from where."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated

import typer

from sandlot.cli.config import api_session
from sandlot.cli.output import JsonOption, fmt, fmt_time, note, print_json, print_table

if TYPE_CHECKING:
    from sandlot.client import JSON

_AGO = re.compile(r"^(\d{1,6})([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def moment(text: str) -> str:
    """A time for the server, as ISO with a zone: `90m`, `2h`, `7d` ago, or an ISO date or
    time (without a zone it is this machine's local time)."""
    ago = _AGO.match(text.strip())
    if ago:
        amount, unit = int(ago.group(1)), _UNITS[ago.group(2)]
        return (datetime.now(UTC) - timedelta(**{unit: amount})).isoformat()
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        raise typer.BadParameter(
            f"{text!r} is neither a duration (30m, 2h, 7d) nor an ISO time (2026-12-01T09:00)"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.astimezone()  # the local time zone, as people mean it
    return parsed.isoformat()


def _moment_option(value: str | None) -> str | None:
    return None if value is None else moment(value)


SinceOption = Annotated[
    str | None,
    typer.Option(
        help="Only events since then: a duration ago (30m, 2h, 7d) or an ISO time.",
        callback=_moment_option,
    ),
]
UntilOption = Annotated[
    str | None,
    typer.Option(
        help="Only events before then: a duration ago or an ISO time.",
        callback=_moment_option,
    ),
]


def audit(
    ctx: typer.Context,
    action: Annotated[
        str | None,
        typer.Option(help="An action or its prefix, e.g. 'function.' or 'key.revoke'."),
    ] = None,
    actor: Annotated[
        str | None, typer.Option(help="Exactly this actor, e.g. 'user:alice' or 'key:<id>'.")
    ] = None,
    target: Annotated[
        str | None, typer.Option(help="Exactly this target, e.g. 'function:hello'.")
    ] = None,
    since: SinceOption = None,
    until: UntilOption = None,
    of_namespace: Annotated[
        str | None,
        typer.Option("--of", help="Platform admin: only this namespace's events."),
    ] = None,
    platform: Annotated[
        bool, typer.Option("--platform", help="Platform admin: only platform-wide events.")
    ] = False,
    limit: Annotated[int | None, typer.Option(help="At most this many.", min=1)] = None,
    cursor: Annotated[str | None, typer.Option(help="Continue after a previous page.")] = None,
    json_output: JsonOption = False,
) -> None:
    """Show the audit log, newest first: who changed what, when, from where."""
    with api_session(ctx) as client:
        page = client.list_audit(
            action=action,
            actor=actor,
            target=target,
            since=since,
            until=until,
            namespace=of_namespace,
            platform=platform,
            limit=limit,
            cursor=cursor,
        )
    if json_output:
        print_json(page)
        return
    columns = ("WHEN", "ACTOR", "ACTION", "TARGET", "NAMESPACE", "ADDRESS", "DETAIL")
    print_table(columns, [_row(event) for event in page["items"]])
    if page.get("next_cursor"):
        note(f"more: --cursor {page['next_cursor']}")


def _row(event: JSON) -> list[str]:
    return [
        fmt_time(event.get("at")),
        fmt(event.get("actor")),
        fmt(event.get("action")),
        fmt(event.get("target")),
        fmt(event.get("namespace")),
        fmt(event.get("address")),
        fmt(event.get("detail")),
    ]
