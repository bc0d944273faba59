"""A private PostgreSQL for the cluster tests: its own data dir and port, so that a test may
stop, kill and restart it (the shared server on 5432 must never be restarted).

initdb and pg_ctl refuse to run as root, so they run as the `postgres` user, in a directory
that user owns; it listens on 127.0.0.1 only, with trust authentication."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.conftest import free_port

BIN = Path("/usr/lib/postgresql/15/bin")
USER = "postgres"


def missing() -> str | None:
    """None if a private PostgreSQL can run here, else why not."""
    if os.geteuid() != 0:
        return "a private PostgreSQL needs root (to run initdb as the postgres user)"
    if not (BIN / "initdb").exists() or not (BIN / "pg_ctl").exists():
        return f"no initdb/pg_ctl in {BIN}"
    if shutil.which("runuser") is None:
        return "no runuser"
    try:
        import pwd

        pwd.getpwnam(USER)
    except KeyError:
        return f"no {USER} user"
    return None


@dataclass
class PrivatePostgres:
    root: Path
    port: int = field(default_factory=free_port)
    # More addresses to listen on (and trust) than 127.0.0.1: a test network's host end.
    also_listen: list[str] = field(default_factory=list)

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def log_path(self) -> Path:
        return self.root / "postgres.log"

    @property
    def url(self) -> str:
        """The URL Sandlot takes (SQLAlchemy, asyncpg driver)."""
        return f"postgresql+asyncpg://{USER}@127.0.0.1:{self.port}/postgres"

    @property
    def dsn(self) -> str:
        """The URL asyncpg itself takes."""
        return f"postgresql://{USER}@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str, timeout_s: float = 60) -> None:
        command = ["runuser", "-u", USER, "--", *args]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")

    def init(self) -> None:
        self._run(
            str(BIN / "initdb"),
            "-D",
            str(self.data_dir),
            "--auth=trust",
            "--username",
            USER,
            "--no-sync",  # a test database: no crash safety of the OS's cache needed
            "-E",
            "UTF8",
        )

    def start(self) -> None:
        # fsync off: it is thrown away, and two cores are shared by five helpers' runs.
        options = (
            f"-c listen_addresses={','.join(['127.0.0.1', *self.also_listen])} "
            f"-c port={self.port} -c fsync=off "
            f"-c unix_socket_directories={self.root} -c max_connections=200"
        )
        self._run(
            str(BIN / "pg_ctl"),
            "-D",
            str(self.data_dir),
            "-l",
            str(self.log_path),
            "-o",
            options,
            "-w",
            "-t",
            "60",
            "start",
        )
        self.wait_ready()

    def listen_also(self, address: str, network: str) -> None:
        """Listen on `address` too, trusting clients from `network` (restarts it)."""
        with (self.data_dir / "pg_hba.conf").open("a") as hba:
            hba.write(f"host all all {network} trust\n")
        self.also_listen.append(address)
        self.restart("fast")

    def stop(self, mode: str = "fast") -> None:
        """`fast`: roll back and disconnect every session; `immediate`: like a crash."""
        self._run(str(BIN / "pg_ctl"), "-D", str(self.data_dir), "-m", mode, "-w", "stop")

    def restart(self, mode: str = "fast") -> None:
        self.stop(mode)
        self.start()

    def running(self) -> bool:
        command = ["runuser", "-u", USER, "--", str(BIN / "pg_ctl"), "-D", str(self.data_dir)]
        return subprocess.run([*command, "status"], capture_output=True).returncode == 0

    def wait_ready(self, timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                asyncio.run(self._probe())
                return
            except Exception as error:  # refused, reset, "starting up": asyncpg's own kinds
                if time.monotonic() > deadline:
                    raise RuntimeError(f"private PostgreSQL not ready: {error}") from error
            time.sleep(0.1)  # polling a starting server; nothing to wait on instead

    async def _probe(self) -> None:
        import asyncpg

        conn = await asyncio.wait_for(asyncpg.connect(self.dsn), 5)
        await conn.close()


def make() -> PrivatePostgres:
    """A new initialised, started server in a directory of its own, owned by `postgres`."""
    import pwd

    # Under /tmp, not pytest's tmp_path: `postgres` must be able to reach it (0700 parents).
    root = Path(tempfile.mkdtemp(prefix="sandlot-pg-"))
    entry = pwd.getpwnam(USER)
    os.chown(root, entry.pw_uid, entry.pw_gid)
    root.chmod(0o700)
    server = PrivatePostgres(root)
    server.init()
    server.start()
    return server


def destroy(server: PrivatePostgres) -> None:
    """Stop it (immediately: nothing to keep) and remove its files."""
    if server.running():
        server.stop("immediate")
    shutil.rmtree(server.root, ignore_errors=True)
