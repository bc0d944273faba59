"""`sandlot quota show|set`: a namespace's quotas, their limits and the use now."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from sandlot.cli.config import api_session
from sandlot.cli.output import JsonOption, command_group, fmt, note, print_json, print_table

quota_app = command_group("Show and set a namespace's quotas (setting: the platform admin).")

# The options of `quota set`, in the order shown, with the API's field for each.
_FIELDS = ("functions", "memory_mb", "concurrency", "rate_per_minute", "code_mb", "env_kb")


def _limit(value: str | None) -> int | None:
    """A limit as typed: a number, or "default" (the server's)."""
    if value is None or value == "default":
        return None
    if not value.isascii() or not value.isdigit():
        raise typer.BadParameter(f"{value!r}: give a whole number, or 'default'")
    return int(value)


def _option(what: str) -> Any:
    return typer.Option(metavar="N|default", help=f"{what}; 'default': the server's.")


Functions = Annotated[str | None, _option("Live functions")]
MemoryMb = Annotated[str | None, _option("MB of live instances")]
Concurrency = Annotated[str | None, _option("Calls at once, running or queued")]
RatePerMinute = Annotated[str | None, _option("Calls per minute (a token bucket)")]
CodeMb = Annotated[str | None, _option("MB of zipped code, all functions together")]
EnvKb = Annotated[str | None, _option("KB of environment variables, all functions together")]


@quota_app.command("show")
def show_quota(
    namespace: Annotated[
        str | None, typer.Argument(help="The namespace (default: the key's own).")
    ] = None,
    *,
    ctx: typer.Context,
    json_output: JsonOption = False,
) -> None:
    """Each quota's limit (and whether it is the server's default) and the use now."""
    with api_session(ctx) as client:
        report = client.get_quota(namespace)
    _print_report(report, json_output)


@quota_app.command("set")
def set_quota(
    namespace: Annotated[str, typer.Argument(help="The namespace.")],
    *,
    ctx: typer.Context,
    functions: Functions = None,
    memory_mb: MemoryMb = None,
    concurrency: Concurrency = None,
    rate_per_minute: RatePerMinute = None,
    code_mb: CodeMb = None,
    env_kb: EnvKb = None,
    json_output: JsonOption = False,
) -> None:
    """Set some limits; the others stay. 'default' goes back to the server's default."""
    given = (functions, memory_mb, concurrency, rate_per_minute, code_mb, env_kb)
    limits = {field: _limit(value) for field, value in zip(_FIELDS, given, strict=True) if value}
    if not limits:
        raise typer.BadParameter("name at least one quota, e.g. --functions 20")
    with api_session(ctx) as client:
        report = client.set_quota(namespace, limits)
    _print_report(report, json_output)


def _print_report(report: dict[str, Any], json_output: bool) -> None:
    if json_output:
        print_json(report)
        return
    rows = (
        [
            name,
            "none" if quota["limit"] is None else fmt(quota["limit"]),
            fmt(quota["used"]),
            fmt(quota["unit"]),
            "default" if quota["default"] else "namespace",
        ]
        for name, quota in report["quotas"].items()
    )
    print_table(("QUOTA", "LIMIT", "USED", "UNIT", "SET BY"), rows)
    for warning in report.get("warnings", []):
        note(f"warning: {warning}", color="yellow")
