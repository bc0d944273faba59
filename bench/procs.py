"""Processes the bench starts: servers, the load generator, and how to stop them again."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench.loadgen import Spec

REPO = Path(__file__).resolve().parent.parent
BASE_PYTHON = os.path.realpath(getattr(sys, "_base_executable", sys.executable))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Server:
    """A server subprocess with its log file; stopped by its own pid, never by name."""

    def __init__(self, argv: list[str], port: int, log_path: Path, env: dict[str, str]) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = log_path
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with log_path.open("wb") as log:
            self.process = subprocess.Popen(
                argv, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=REPO
            )

    @property
    def pid(self) -> int:
        return self.process.pid

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def wait_http(self, path: str, timeout_s: float = 60.0) -> tuple[int, str] | None:
        """The first HTTP answer to GET `path`, or None if the process died or time ran out."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return None
            try:
                # Always http://127.0.0.1:<port>, built here: no user-given scheme.
                with urllib.request.urlopen(self.url + path, timeout=2) as answer:  # noqa: S310
                    return answer.status, answer.read().decode(errors="replace")
            except urllib.error.HTTPError as exc:
                return exc.code, exc.read().decode(errors="replace")
            except OSError:
                time.sleep(0.05)  # the server is still starting; nothing to wait on instead
        return None

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def start_echo_server(log_dir: Path) -> Server:
    port = free_port()
    argv = [sys.executable, "-m", "bench.echo_app", str(port)]
    server = Server(argv, port, log_dir / "echo-server.log", dict(os.environ))
    if server.wait_http("/docs") is None:
        raise RuntimeError(f"the FastAPI echo server did not start:\n{server.log_tail()}")
    return server


def run_load(spec: Spec, timeout_s: float | None = None) -> dict[str, Any]:
    """Run the load generator in its own process and return its samples."""
    limit = timeout_s if timeout_s is not None else spec.seconds * max(spec.rounds, 1) + 60
    done = subprocess.run(
        [sys.executable, "-m", "bench.loadgen", json.dumps(asdict(spec))],
        capture_output=True,
        text=True,
        timeout=limit,
        cwd=REPO,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"the load generator failed ({done.returncode}):\n{done.stderr}")
    samples: dict[str, Any] = json.loads(done.stdout)
    return samples
