"""One result row per target, printed as a Rich table and written as JSON."""

from __future__ import annotations

import json
import operator
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

RESULTS_DIR = Path(__file__).resolve().parent / "results"
LATEST = RESULTS_DIR / "latest.json"

_OPS: dict[str, Callable[[float, float], bool]] = {"<=": operator.le, ">=": operator.ge}


@dataclass(frozen=True)
class Target:
    """`value` compared with `op` against the ratio (or, with `on="measured"`, the raw value)."""

    op: str
    value: float
    on: str = "ratio"  # "ratio" or "measured"

    def text(self, unit: str) -> str:
        return f"{self.op} {self.value:g}{'x' if self.on == 'ratio' else ' ' + unit}"


@dataclass
class Row:
    name: str
    unit: str
    target: Target | None
    measured: float | None = None
    baseline: float | None = None
    baseline_name: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def ratio(self) -> float | None:
        if self.measured is None or self.baseline is None or self.baseline == 0:
            return None
        return self.measured / self.baseline

    @property
    def holds(self) -> bool | None:
        """None when the row could not be measured: never a silent pass."""
        if self.target is None:
            return None
        value = self.ratio if self.target.on == "ratio" else self.measured
        if value is None:
            return None
        return _OPS[self.target.op](value, self.target.value)

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "unit": self.unit,
            "measured": self.measured,
            "baseline": self.baseline,
            "baseline_name": self.baseline_name,
            "ratio": self.ratio,
            "target": None if self.target is None else self.target.text(self.unit),
            "target_spec": None if self.target is None else asdict(self.target),
            "holds": self.holds,
            "notes": "; ".join(self.notes),
        }


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}" if abs(value) < 1 else f"{value:.2f}"


def render(rows: Sequence[Row], console: Console) -> None:
    table = Table(title="Sandlot benchmarks (ratio = measured / baseline)", show_lines=True)
    for column in ("row", "measured", "baseline", "ratio", "target", "holds", "notes"):
        table.add_column(column, overflow="fold")
    for row in rows:
        holds = {True: "[green]yes[/]", False: "[red]NO[/]", None: "[yellow]n/a[/]"}[row.holds]
        baseline = _fmt(row.baseline)
        if row.baseline_name and row.baseline is not None:
            baseline = f"{baseline} ({row.baseline_name})"
        table.add_row(
            row.name,
            f"{_fmt(row.measured)} {row.unit}" if row.measured is not None else "-",
            baseline,
            _fmt(row.ratio) + ("x" if row.ratio is not None else ""),
            "-" if row.target is None else row.target.text(row.unit),
            holds,
            "; ".join(row.notes),
        )
    console.print(table)


def write(rows: Sequence[Row], meta: dict[str, Any], path: Path = LATEST) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "host": {"python": platform.python_version(), "machine": platform.machine()},
        **meta,
        "rows": [row.as_json() for row in rows],
    }
    path.write_text(json.dumps(document, indent=2) + "\n")
    return path
