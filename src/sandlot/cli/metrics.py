"""`sandlot metrics NAME [--window 1h|24h|7d]`: a function's calls, errors and durations over
time, one row per bucket that had calls."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer

from sandlot.cli.config import api_session
from sandlot.cli.functions import NameArg
from sandlot.cli.output import JsonOption, fmt, fmt_time, note, print_json, print_table

if TYPE_CHECKING:
    from sandlot.client import JSON


class Window(StrEnum):  # the server's windows, spelled here so --help imports no server code
    HOUR = "1h"
    DAY = "24h"
    WEEK = "7d"


def _kinds(bucket: JSON) -> str:
    parts = [f"{e['kind'] or e['state']} {e['count']}" for e in bucket["errors_by_kind"]]
    return ", ".join(parts)


def _row(bucket: JSON) -> list[str]:
    share = f"{bucket['cold_starts']} ({bucket['cold_start_share']:.0%})"
    return [
        fmt_time(bucket["start"]),
        str(bucket["invocations"]),
        str(bucket["errors"]),
        fmt(_kinds(bucket)),
        share,
        fmt(bucket["p50_ms"]),
        fmt(bucket["p95_ms"]),
        fmt(bucket["p99_ms"]),
        str(bucket["peak_concurrency"]),
    ]


def metrics(
    ctx: typer.Context,
    name: NameArg,
    window: Annotated[Window, typer.Option("--window", "-w", help="How far back.")] = Window.HOUR,
    json_output: JsonOption = False,
) -> None:
    """Show a function's invocations, errors, p50/p95/p99 and cold starts per time bucket."""
    with api_session(ctx) as client:
        found = client.function_metrics(name, window=window.value)
    if json_output:
        print_json(found)
        return
    busy = [
        bucket for bucket in found["buckets"] if bucket["invocations"] or bucket["peak_concurrency"]
    ]
    columns = ["START", "CALLS", "ERRORS", "KINDS", "COLD", "P50 MS", "P95 MS", "P99 MS", "PEAK"]
    print_table(columns, [_row(bucket) for bucket in busy])
    minutes = found["bucket_seconds"] // 60
    note(
        f"{len(busy)} of {len(found['buckets'])} buckets of {minutes} min had calls "
        f"({fmt_time(found['start'])} to {fmt_time(found['end'])}); --json lists every one"
    )
