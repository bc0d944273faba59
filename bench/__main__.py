"""`python -m bench [--smoke] [--only GROUP ...] [--workloads NAME ...]`.

Prints a table of every target (measured, baseline, ratio, target, holds) and writes it as
JSON to bench/results/latest.json. A row that cannot be measured says why and holds null;
only a broken harness (an exception) makes the exit status non-zero. `--smoke` uses tiny
counts and never judges targets: it only shows that every measurement still runs.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

from rich.console import Console

from bench import (
    results,
    rows_async,
    rows_cli,
    rows_cluster,
    rows_cold,
    rows_egress,
    rows_envs,
    rows_first,
    rows_memory,
    rows_quotas,
    rows_rate,
    rows_sandbox,
    rows_slow,
    rows_urls,
    rows_warm,
)
from bench.context import Bench, select_workloads
from bench.results import Row

GROUPS: dict[str, Callable[[Bench], list[Row]]] = {
    "warm": rows_warm.measure,
    "quotas": rows_quotas.measure,
    "slow": rows_slow.measure,
    "memory": rows_memory.measure,
    "first": rows_first.measure,
    "envs": rows_envs.measure,
    "deploy": rows_envs.measure_zero_config,
    "cold": rows_cold.measure,
    "rate": rows_rate.measure,
    "sandbox": rows_sandbox.measure,
    "cli": rows_cli.measure,
    "async": rows_async.measure,
    "urls": rows_urls.measure,
    "egress": rows_egress.measure,
    "cluster": rows_cluster.measure,
}


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true", help="tiny counts; targets not judged")
    parser.add_argument("--only", nargs="+", choices=list(GROUPS), help="measure only these")
    parser.add_argument("--workloads", nargs="+", help="only these workloads (default: all)")
    parser.add_argument(
        "--sandbox", choices=["strict", "insecure-dev"], default="strict",
        help="SANDLOT_SANDBOX for the server under test (strict falls back, loudly)",
    )  # fmt: skip
    parser.add_argument("--json", type=Path, default=results.LATEST, help="where to write JSON")
    parser.add_argument("--keep-logs", action="store_true", help="keep server logs (printed)")
    return parser.parse_args(argv)


def _meta(bench: Bench, args: argparse.Namespace, seconds: float) -> dict[str, object]:
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    runc = shutil.which("runc")
    return {
        "smoke": bench.smoke,
        "targets_judged": not bench.smoke,
        "groups": args.only or list(GROUPS),
        "workloads": [w.name for w in bench.workloads],
        "sandbox": sorted({s.sandbox for s in bench.servers.values()}),
        "cpus": os.cpu_count(),
        "commit": commit or None,
        "runc": runc,
        "counts": asdict(bench.counts),
        # The machine is shared: a high load average says to read the ratios, not the values.
        "load_average_end": [round(x, 2) for x in os.getloadavg()],
        "notes": bench.run_notes,
        "seconds": round(seconds, 1),
    }


def main(argv: list[str]) -> int:
    args = parse(argv)
    # A pipe (make, CI) gets a wide table rather than Rich's 80 columns.
    console = Console(width=None if sys.stdout.isatty() else 180)
    bench = Bench(
        smoke=args.smoke,
        workloads=select_workloads(args.workloads),
        console=console,
        sandbox_mode=args.sandbox,
    )
    rows: list[Row] = []
    broken: list[str] = []
    load_start = [round(x, 2) for x in os.getloadavg()]
    began = time.monotonic()
    try:
        for group in args.only or list(GROUPS):
            bench.say(f"[bold]{group}[/]")
            try:
                rows += GROUPS[group](bench)
            except Exception as exc:
                # One group's failure must not hide the others' numbers; it still fails the run.
                broken.append(group)
                console.print(f"[bold red]bench: {group} failed[/]\n{traceback.format_exc()}")
                rows.append(Row(f"{group}: harness error", "", None, notes=[repr(exc)[:500]]))
        meta = {"load_average_start": load_start, **_meta(bench, args, time.monotonic() - began)}
    finally:
        servers = list(bench.servers.values())
        bench.close()
        if args.keep_logs or broken:
            console.print(f"[dim]logs: {bench.log_dir}[/]")
            for server in servers:
                console.print(f"[dim]  {server.server.log_path}[/]")
        else:
            shutil.rmtree(bench.work_dir, ignore_errors=True)
    if args.smoke:
        console.print("[yellow]smoke run: tiny counts, targets are NOT judged[/]")
    results.render(rows, console)
    for note in bench.run_notes:
        console.print(f"[bold]note:[/] {note}")
    path = results.write(rows, meta, args.json)
    console.print(f"wrote {path}")
    if broken:
        console.print(f"[bold red]harness errors in: {', '.join(broken)}[/]")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
