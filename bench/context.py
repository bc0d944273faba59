"""What every measurement shares: sample counts, work folders, and the servers it started.

Servers start lazily and once per configuration, so `--only` runs start only what they need.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from rich.console import Console

from bench import sandlot_api
from bench.procs import Server, start_echo_server
from bench.sandlot_server import Sandlot, start_sandlot
from bench.workload import WORKLOADS, Workload, deps_dir


@dataclass(frozen=True)
class Counts:
    warm_requests: int
    warm_seconds: float
    connections: int  # for throughput
    cold_samples: int
    fresh_samples: int
    runc_samples: int
    first_samples: int
    import_samples: int
    memory_instances: int
    rate_connections: int
    rate_seconds: float
    slow_connections: int  # slowloris connections held open for the slow-clients row


FULL = Counts(
    warm_requests=5000, warm_seconds=8.0, connections=8, cold_samples=200, fresh_samples=30,
    runc_samples=20, first_samples=15, import_samples=20, memory_instances=16,
    rate_connections=8, rate_seconds=8.0, slow_connections=300,
)  # fmt: skip
SMOKE = Counts(
    warm_requests=200, warm_seconds=1.0, connections=4, cold_samples=6, fresh_samples=3,
    runc_samples=2, first_samples=2, import_samples=3, memory_instances=3,
    rate_connections=4, rate_seconds=1.0, slow_connections=20,
)  # fmt: skip


@dataclass
class Bench:
    smoke: bool
    workloads: list[Workload]
    console: Console
    sandbox_mode: str = "strict"
    work_dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="sandlot-bench-")))
    servers: dict[str, Sandlot] = field(default_factory=dict)
    echo: Server | None = None
    # Workloads that cannot run on this server, and why (found by deploying them).
    unsupported: dict[str, str] = field(default_factory=dict)
    run_notes: list[str] = field(default_factory=list)

    @property
    def counts(self) -> Counts:
        return SMOKE if self.smoke else FULL

    @property
    def log_dir(self) -> Path:
        return self.work_dir / "logs"

    def say(self, text: str) -> None:
        self.console.print(f"[dim]bench:[/] {text}")

    def sandlot(self, role: str, extra_env: dict[str, str] | None = None) -> Sandlot:
        """The server for one role ("warm", "cold", "rate"), started on first use."""
        if role not in self.servers:
            self.say(f"starting sandlot serve for '{role}' ({extra_env or 'defaults'})")
            server = start_sandlot(self.log_dir, extra_env, self.sandbox_mode)
            self.servers[role] = server
            for note in server.notes:
                self.console.print(f"[bold red]{note}[/]")
                if note not in self.run_notes:
                    self.run_notes.append(note)
        return self.servers[role]

    def warm(self) -> Sandlot:
        """The default server (warm calls, first starts, memory, deploys); its per-function
        concurrency is raised only so that the memory row can keep K instances busy at once."""
        limit = max(self.counts.memory_instances, 10)
        return self.sandlot("warm", {"SANDLOT_DEFAULT_MAX_CONCURRENCY": str(limit)})

    def warm_without_journal(self) -> Sandlot:
        """The default server with `SANDLOT_JOURNAL=false`: the baseline of what the journal
        (one write before a call runs, one before its answer) costs the warm path."""
        limit = max(self.counts.memory_instances, 10)
        env = {"SANDLOT_DEFAULT_MAX_CONCURRENCY": str(limit), "SANDLOT_JOURNAL": "false"}
        return self.sandlot("warm-no-journal", env)

    def echo_server(self) -> Server:
        if self.echo is None:
            self.say("starting the bare FastAPI echo server")
            self.echo = start_echo_server(self.log_dir)
        return self.echo

    def deps(self, workload: Workload) -> Path | None:
        return deps_dir(workload)

    def runnable(
        self,
        server: Sandlot,
        workload: Workload,
        name: str | None = None,
        timeout_s: int | None = None,
    ) -> str | None:
        """Deploy `workload` (as `name`) and invoke it once; None if it works, else why not."""
        if workload.name in self.unsupported:
            return self.unsupported[workload.name]
        with sandlot_api.client(server.url) as http:
            try:
                deployed = sandlot_api.deploy(http, workload, name, timeout_s)
            except (sandlot_api.DeployFailed, httpx.HTTPError) as exc:
                why: str | None = f"deploy failed: {exc}"
            else:
                why = sandlot_api.check_works(http, deployed, workload)
        if why is not None:
            self.unsupported[workload.name] = why
            self.say(f"[yellow]skipping {workload.name} on Sandlot[/]: {why}")
        return why

    def close(self) -> None:
        for server in self.servers.values():
            server.stop()
            shutil.rmtree(server.data_dir, ignore_errors=True)
        if self.echo is not None:
            self.echo.stop()
        self.servers.clear()
        self.echo = None


def select_workloads(names: list[str] | None) -> list[Workload]:
    if not names:
        return list(WORKLOADS.values())
    unknown = [name for name in names if name not in WORKLOADS]
    if unknown:
        sys.exit(f"unknown workload(s) {unknown}; known: {sorted(WORKLOADS)}")
    return [WORKLOADS[name] for name in names]
