"""`sandlot release NAME --version N --alias prod ...` starts a progressive release;
`sandlot releases list|get|pause|resume|promote|abort` follow and steer it."""

from __future__ import annotations

import re
from typing import Annotated, Any

import typer

from sandlot.cli.config import api_session
from sandlot.cli.output import (
    JsonOption,
    command_group,
    fmt,
    fmt_time,
    print_json,
    print_table,
    say,
)

releases_app = command_group("List, inspect, pause, resume, promote and abort releases.")

FunctionArg = Annotated[str, typer.Argument(help="The function's name.")]
IdArg = Annotated[str, typer.Argument(help="The release's id (rel_…), from `releases list`.")]

_DURATION = re.compile(r"^(\d{1,7})([smhd]?)$")
_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_interval(text: str) -> int:
    """`90`, `90s`, `5m`, `1h`, `1d` -> seconds."""
    found = _DURATION.match(text.strip())
    if not found:
        raise typer.BadParameter(f"{text!r} is not a duration (30s, 5m, 1h)")
    return int(found.group(1)) * _SECONDS[found.group(2)]


def parse_steps(text: str) -> list[int]:
    try:
        return [int(part.strip().rstrip("%")) for part in text.split(",")]
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a list of percents (10,50,100)") from None


def parse_percent(text: str) -> float:
    try:
        return float(text.strip().rstrip("%"))
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a percent (2%, 0.5)") from None


def release(
    ctx: typer.Context,
    function: FunctionArg,
    version: Annotated[int, typer.Option("--version", help="The version to release.")],
    alias: Annotated[str, typer.Option("--alias", help="The alias to move.")] = "prod",
    steps: Annotated[
        str, typer.Option("--steps", help="Percent on the new version at each step.")
    ] = "10,50,100",
    interval: Annotated[
        str, typer.Option("--interval", help="How long each step runs: 30s, 5m, 1h.")
    ] = "5m",
    max_error_rate: Annotated[
        str,
        typer.Option("--max-error-rate", help="Points the new error rate may exceed the old."),
    ] = "2%",
    max_p99_ratio: Annotated[
        float | None, typer.Option("--max-p99-ratio", help="New p99 / old p99 allowed.")
    ] = None,
    min_calls: Annotated[
        int | None,
        typer.Option("--min-calls", help="Calls on the new version before a step is judged."),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Move an alias to a version in steps; each step is judged against the old version
    and a worse one is rolled back by itself."""
    with api_session(ctx) as client:
        made = client.start_release(
            function,
            alias=alias,
            version=version,
            steps=parse_steps(steps),
            interval_s=parse_interval(interval),
            max_error_rate=parse_percent(max_error_rate),
            max_p99_ratio=max_p99_ratio,
            min_calls=min_calls,
        )
    if json_output:
        print_json(made)
        return
    say(
        f"started release {made['id']}: {function}:{made['alias']} v{made['from_version']} -> "
        f"v{made['to_version']}, {made['weight']}% now, steps {_steps(made)}"
    )
    say(f"next check: {fmt_time(made.get('next_check_at'))}")


def _steps(item: dict[str, Any]) -> str:
    return ",".join(str(step) for step in item.get("steps", ()))


def _row(item: dict[str, Any]) -> list[str]:
    return [
        fmt(item.get("id")),
        fmt(item.get("alias")),
        f"v{item.get('from_version')} -> v{item.get('to_version')}",
        fmt(item.get("state")),
        f"{item.get('weight')}%",
        _steps(item),
        fmt_time(item.get("next_check_at")),
        fmt(item.get("reason")),
    ]


@releases_app.command("list")
def list_releases(
    ctx: typer.Context,
    function: FunctionArg,
    state: Annotated[str | None, typer.Option("--state", help="Only those in this state.")] = None,
    json_output: JsonOption = False,
) -> None:
    """A function's releases, newest first."""
    with api_session(ctx) as client:
        items = client.list_releases(function, state)
    if json_output:
        print_json({"items": items})
        return
    print_table(
        ("ID", "ALIAS", "VERSIONS", "STATE", "NEW", "STEPS", "NEXT CHECK", "REASON"),
        (_row(item) for item in items),
    )


@releases_app.command("get")
def get(
    ctx: typer.Context, function: FunctionArg, release_id: IdArg, json_output: JsonOption = False
) -> None:
    """One release with the verdict of each look at its steps."""
    with api_session(ctx) as client:
        found = client.get_release(function, release_id)
    if json_output:
        print_json(found)
        return
    _say_release(found)
    print_table(
        ("AT", "STEP", "VERDICT", "NEW CALLS", "NEW ERR %", "OLD CALLS", "OLD ERR %"),
        (
            [
                fmt_time(look["at"]),
                f"{look['weight']}%",
                look["verdict"],
                fmt(look["new"]["calls"]),
                f"{look['new']['error_rate']:.1f}",
                fmt(look["old"]["calls"]),
                f"{look['old']['error_rate']:.1f}",
            ]
            for look in found.get("judged", ())
        ),
    )


def _say_release(item: dict[str, Any]) -> None:
    say(
        f"release {item['id']} of {item['function']}:{item['alias']}: "
        f"v{item['from_version']} -> v{item['to_version']}, {item['state']}, "
        f"{item['weight']}% on v{item['to_version']}"
    )
    if item.get("reason"):
        say(f"reason: {item['reason']}")


def _control(
    ctx: typer.Context, function: str, release_id: str, command: str, as_json: bool
) -> None:
    with api_session(ctx) as client:
        changed = client.control_release(function, release_id, command)
    if as_json:
        print_json(changed)
        return
    _say_release(changed)


@releases_app.command("pause")
def pause(
    ctx: typer.Context, function: FunctionArg, release_id: IdArg, json_output: JsonOption = False
) -> None:
    """Hold it at its step (nothing is judged until it is resumed)."""
    _control(ctx, function, release_id, "pause", json_output)


@releases_app.command("resume")
def resume(
    ctx: typer.Context, function: FunctionArg, release_id: IdArg, json_output: JsonOption = False
) -> None:
    """Go on; the step starts a fresh interval."""
    _control(ctx, function, release_id, "resume", json_output)


@releases_app.command("promote")
def promote(
    ctx: typer.Context, function: FunctionArg, release_id: IdArg, json_output: JsonOption = False
) -> None:
    """Move the alias wholly to the new version now."""
    _control(ctx, function, release_id, "promote", json_output)


@releases_app.command("abort")
def abort(
    ctx: typer.Context, function: FunctionArg, release_id: IdArg, json_output: JsonOption = False
) -> None:
    """Move the alias wholly back to the old version now."""
    _control(ctx, function, release_id, "abort", json_output)
