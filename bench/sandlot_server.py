"""The server under test: the real `sandlot serve`, in its own process, over loopback.

Strict sandboxing by default. If strict refuses to start (or /readyz says functions cannot
run), the bench falls back to insecure-dev and says so loudly in the output and the JSON,
because numbers without the sandbox are not the numbers the issue asks about.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from bench.procs import Server, free_port

API_KEY = "sl_benchadmin_" + "b" * 40


@dataclass
class Sandlot:
    server: Server
    data_dir: Path
    sandbox: str
    readyz: dict[str, object]
    notes: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def pid(self) -> int:
        return self.server.pid

    def stop(self) -> None:
        self.server.stop()


def _start(mode: str, data_dir: Path, log_dir: Path, extra_env: dict[str, str]) -> Server:
    port = free_port()
    env = {
        **os.environ,
        "SANDLOT_BOOTSTRAP_API_KEY": API_KEY,
        "SANDLOT_SANDBOX": mode,
        # Where the server says it runs, for the CLI: the bench's own, never the user's.
        "XDG_CONFIG_HOME": str(data_dir / "user-config"),
        **extra_env,
    }
    argv = [sys.executable, "-m", "sandlot.cli.main", "serve", "--port", str(port),
            "--data-dir", str(data_dir)]  # fmt: skip
    return Server(argv, port, log_dir / f"sandlot-{mode}-{port}.log", env)


def start_sandlot(
    log_dir: Path, extra_env: dict[str, str] | None = None, mode: str = "strict"
) -> Sandlot:
    """Start a server on a fresh data dir; strict first, then insecure-dev with a note."""
    notes: list[str] = []
    for attempt in [mode, "insecure-dev"] if mode == "strict" else [mode]:
        data_dir = Path(tempfile.mkdtemp(prefix=f"sandlot-bench-{attempt}-"))
        server = _start(attempt, data_dir, log_dir, extra_env or {})
        answer = server.wait_http("/readyz", timeout_s=90)
        if answer is not None and answer[0] == 200:
            readyz = json.loads(answer[1])
            if attempt != mode:
                notes.append(f"SANDBOX FELL BACK TO {attempt.upper()}: {mode} did not start")
            return Sandlot(server, data_dir, attempt, readyz, notes)
        why = answer[1][:500] if answer else f"exited or hung:\n{server.log_tail(15)}"
        server.stop()
        notes.append(f"SANDLOT_SANDBOX={attempt} refused to start: {why}")
        print(f"bench: WARNING: SANDLOT_SANDBOX={attempt} refused to start: {why}", file=sys.stderr)
    raise RuntimeError("sandlot serve did not start in any sandbox mode: " + " | ".join(notes))
