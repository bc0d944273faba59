"""A cluster of real processes on one machine: a private PostgreSQL, API servers
(`sandlot serve --role api`) and workers (`sandlot worker`, on 127.0.0.11-13), each with its
own data dir and the workers each with a sandbox uid slot of their own.

Every process is started with the CLI as the suite starts a real server (tests.conftest
start_server), and `Cluster.close` kills every one of them and what they left behind,
whatever the test did to them (stopped, killed, drained).

The functions run insecure-dev (plain processes): each run of the test handler leaves a file
in a directory the event names, so a test counts the runs of each call, knows which run's
result was kept, and which worker ran it (the file holds the instance's pid)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from tests.cluster.postgres import PrivatePostgres
from tests.conftest import ADMIN_KEY, claim_uid_slot, free_port, zip_bytes
from tests.e2e.test_server import _descendants

SECRET = "cluster-test-secret-" + "s" * 32
# The key that seals secrets at rest: every node of a cluster needs the same one (an API
# server seals what a worker opens), unlike a single server's generated key file.
SECRET_KEY = base64.b64encode(bytes(range(32))).decode()
WORKER_HOSTS = ("127.0.0.11", "127.0.0.12", "127.0.0.13")
HEADERS = {"Authorization": f"Bearer {ADMIN_KEY}"}
FINAL = {"succeeded", "failed", "timed_out", "out_of_memory", "cancelled", "dead"}

# Short beats and leases: a silent worker is stale after 2 s, a lost lease is found fast.
FAST = {
    "SANDLOT_HEARTBEAT_INTERVAL_S": "0.5",
    "SANDLOT_WORKER_STALE_S": "2",
    "SANDLOT_ASYNC_LEASE_GRACE_S": "1",
    "SANDLOT_ASYNC_POLL_INTERVAL_S": "0.2",
    "SANDLOT_ASYNC_BACKOFF_BASE_S": "0.2",
    "SANDLOT_QUEUE_TIMEOUT_S": "2",
    "SANDLOT_SHUTDOWN_GRACE_S": "15",
    "SANDLOT_RECORD_FLUSH_INTERVAL_S": "0.05",
    "SANDLOT_SANDBOX": "insecure-dev",
}

# One file per run: `<invocation id>.<token>` holding {"pid", "start", "echo"}; the token
# is returned.
RUNS_HANDLER = {
    "main.py": "import json, os, time, uuid\n"
    "def handler(event, context):\n"
    "    event = event or {}\n"
    "    token = uuid.uuid4().hex\n"
    "    if event.get('dir'):\n"
    "        path = os.path.join(event['dir'], context.invocation_id + '.' + token)\n"
    "        with open(path, 'w') as f:\n"
    "            run = {'pid': os.getpid(), 'start': time.time(), 'echo': event.get('echo')}\n"
    "            f.write(json.dumps(run))\n"
    "    time.sleep(event.get('sleep', 0))\n"
    "    return {'token': token, 'echo': event.get('echo')}\n"
}


def until(condition: Callable[[], object], what: str, timeout_s: float = 60) -> None:
    """Poll another process's state until `condition` holds (nothing to wait on instead)."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out after {timeout_s}s waiting for {what}"
        time.sleep(0.1)


@dataclass(eq=False)  # compared and hashed as the one process it is
class Proc:
    """One process of the cluster."""

    name: str
    argv: list[str]
    env: dict[str, str]
    data_dir: Path
    log_path: Path
    url: str
    process: subprocess.Popen[bytes] | None = None
    stopped: bool = False  # SIGSTOPped

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.argv, stdout=log, stderr=subprocess.STDOUT, env=self.env
            )

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log().splitlines()[-lines:])

    def kill_9(self) -> None:
        """SIGKILL it, then the function processes it leaves behind."""
        if not self.alive():
            return
        leftovers = _descendants(self.pid)
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)
        for pid in leftovers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.stopped = False

    def sigstop(self) -> None:
        os.kill(self.pid, signal.SIGSTOP)
        self.stopped = True

    def sigcont(self) -> None:
        os.kill(self.pid, signal.SIGCONT)
        self.stopped = False

    def descendants(self) -> set[int]:
        return _descendants(self.pid) if self.alive() else set()


@dataclass
class Cluster:
    postgres: PrivatePostgres
    root: Path
    apis: list[Proc] = field(default_factory=list)
    workers: list[Proc] = field(default_factory=list)
    runs: Path = field(default_factory=Path)
    extra_env: dict[str, str] = field(default_factory=dict)  # over FAST, for every process
    uid_bases: dict[str, int] = field(default_factory=dict)  # worker name -> its uid base
    _uid_fds: list[int] = field(default_factory=list)
    client: httpx.Client = field(
        default_factory=lambda: httpx.Client(
            headers=HEADERS, timeout=60, limits=httpx.Limits(max_keepalive_connections=0)
        )
    )

    # Processes.

    def _env(self, data_dir: Path, **extra: str) -> dict[str, str]:
        return {
            **os.environ,
            **FAST,
            **self.extra_env,
            "SANDLOT_DATABASE_URL": self.postgres.url,
            "SANDLOT_CLUSTER_SECRET": SECRET,
            "SANDLOT_SECRET_KEY": SECRET_KEY,
            "SANDLOT_BOOTSTRAP_API_KEY": ADMIN_KEY,
            "SANDLOT_DATA_DIR": str(data_dir),
            **extra,
        }

    def add_api(self) -> Proc:
        index = len(self.apis)
        port = free_port()
        data_dir = self.root / f"api{index}"
        data_dir.mkdir(parents=True, exist_ok=True)
        argv = [sys.executable, "-m", "sandlot.cli.main", "serve", "--role", "api"]
        argv += ["--port", str(port), "--data-dir", str(data_dir)]
        env = self._env(data_dir, SANDLOT_ROLE="api", SANDLOT_PORT=str(port))
        proc = Proc(
            f"api{index}", argv, env, data_dir, self.root / f"api{index}.log",
            f"http://127.0.0.1:{port}",
        )  # fmt: skip
        self.apis.append(proc)
        proc.start()
        return proc

    def add_worker(
        self, host: str | None = None, prefix: tuple[str, ...] = (), **extra: str
    ) -> Proc:
        """A worker on `host` (else the next of WORKER_HOSTS), its command after `prefix`
        (`ip netns exec NS`: in a network namespace), `extra` over its settings."""
        index = len(self.workers)
        host = host or WORKER_HOSTS[index % len(WORKER_HOSTS)]
        port = free_port()
        data_dir = self.root / f"worker{index}"
        data_dir.mkdir(parents=True, exist_ok=True)
        uid_base, fd = claim_uid_slot()
        if fd is not None:
            self._uid_fds.append(fd)
        self.uid_bases[f"worker{index}"] = uid_base
        env = self._env(
            data_dir,
            SANDLOT_WORKER_HOST=host,
            SANDLOT_WORKER_PORT=str(port),
            SANDLOT_SANDBOX_UID_BASE=str(uid_base),
            **extra,
        )
        argv = [*prefix, sys.executable, "-m", "sandlot.cli.main", "worker"]
        proc = Proc(
            f"worker{index}", argv, env, data_dir, self.root / f"worker{index}.log",
            f"http://{host}:{port}",
        )  # fmt: skip
        self.workers.append(proc)
        proc.start()
        return proc

    def restart(self, proc: Proc) -> None:
        """Start a stopped or killed process again, with the same settings and data dir."""
        assert not proc.alive()
        proc.start()

    def wait_api_ready(self, proc: Proc, timeout_s: float = 90) -> None:
        def up() -> bool:
            assert proc.alive(), f"{proc.name} exited early:\n{proc.tail()}"
            try:
                return httpx.get(f"{proc.url}/healthz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        until(up, f"{proc.name} to serve", timeout_s)

    def wait_worker_ready(self, proc: Proc, timeout_s: float = 90) -> None:
        from sandlot.services.cluster_wire import HEALTH_PATH

        def up() -> bool:
            assert proc.alive(), f"{proc.name} exited early:\n{proc.tail()}"
            try:
                return httpx.get(f"{proc.url}{HEALTH_PATH}", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        until(up, f"{proc.name} to serve", timeout_s)

    def close(self) -> None:
        """Kill every process started (wake the stopped ones first: a stopped process does
        not die of SIGKILL until it is continued on some kernels' accounting of its exit)."""
        for proc in [*self.workers, *self.apis]:
            if proc.alive():
                if proc.stopped:
                    with contextlib.suppress(ProcessLookupError):
                        proc.sigcont()
                proc.kill_9()
        for fd in self._uid_fds:
            os.close(fd)
        self._uid_fds.clear()
        self.client.close()

    # The registry.

    def registry(self) -> list[dict[str, Any]]:
        """The rows of the `workers` table, as the API servers read them."""
        return asyncio.run(self._registry())

    async def _registry(self) -> list[dict[str, Any]]:
        import asyncpg

        conn = await asyncio.wait_for(asyncpg.connect(self.postgres.dsn), 10)
        try:
            rows = await conn.fetch("SELECT * FROM workers")
        finally:
            await conn.close()
        found = []
        for row in rows:
            item = dict(row)
            for key in ("warm", "ready"):
                if isinstance(item.get(key), str):
                    item[key] = json.loads(item[key])
            found.append(item)
        return found

    def live_workers(self) -> list[dict[str, Any]]:
        """Registered, not draining, and beating (heartbeat within 2 s)."""
        now = datetime.now(UTC)
        live = []
        for row in self.registry():
            beat: datetime = row["heartbeat_at"]
            if beat.tzinfo is None:
                beat = beat.replace(tzinfo=UTC)
            if not row["draining"] and (now - beat).total_seconds() < 2:
                live.append(row)
        return live

    def wait_workers(self, count: int, timeout_s: float = 90) -> list[dict[str, Any]]:
        """Until exactly `count` workers are live in the registry."""
        found: list[dict[str, Any]] = []

        def enough() -> bool:
            nonlocal found
            found = self.live_workers()
            return len(found) == count

        until(enough, f"{count} live workers (now {len(found)})", timeout_s)
        return found

    def worker_id(self, proc: Proc) -> str | None:
        """The id `proc` runs under now: a restarted worker is a new id at the same url, and
        the row of its killed run stays until pruned, so the newest start is its own."""
        rows = [row for row in self.registry() if row["url"] == proc.url]
        if not rows:
            return None
        newest: str = max(rows, key=lambda row: row["started_at"])["id"]
        return newest

    def has_row(self, worker_id: str) -> bool:
        return any(row["id"] == worker_id for row in self.registry())

    def worker_of_pid(self, pid: int) -> Proc | None:
        """The worker whose function process `pid` is (insecure-dev: its descendant)."""
        for proc in self.workers:
            if pid in proc.descendants():
                return proc
        return None

    # The public API.

    def api(self, index: int = 0) -> Proc:
        return self.apis[index]

    def deploy(
        self, name: str, fields: dict[str, str] | None = None, files: dict[str, str] | None = None
    ) -> None:
        answer = self.client.post(
            f"{self.apis[0].url}/api/v1/functions",
            data={"name": name, **(fields or {})},
            files={"code": ("c.zip", zip_bytes(files or RUNS_HANDLER), "application/zip")},
        )
        assert answer.status_code == 201, answer.text

    def invoke(self, name: str, event: object = None, api: int = 0) -> httpx.Response:
        return self.client.post(
            f"{self.apis[api].url}/api/v1/functions/{name}/invoke",
            content=json.dumps(event).encode(),
            headers={"Content-Type": "application/json"},
        )

    def accept(self, name: str, event: object = None, api: int = 0) -> str:
        """An asynchronous call, accepted (202): its invocation id."""
        answer = self.client.post(
            f"{self.apis[api].url}/api/v1/functions/{name}/invoke",
            content=json.dumps(event).encode(),
            headers={"Content-Type": "application/json", "Prefer": "respond-async"},
        )
        assert answer.status_code == 202, answer.text
        invocation_id: str = answer.json()["id"]
        return invocation_id

    def invocation(self, invocation_id: str, api: int | None = None) -> dict[str, Any]:
        answer = self.client.get(f"{self._any_api(api).url}/api/v1/invocations/{invocation_id}")
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        return body

    def invocations(self, name: str, api: int | None = None) -> dict[str, dict[str, Any]]:
        """Every call of `name`, by id (all pages)."""
        found: dict[str, dict[str, Any]] = {}
        params: dict[str, str] = {"function": name, "limit": "200"}
        while True:
            answer = self.client.get(f"{self._any_api(api).url}/api/v1/invocations", params=params)
            assert answer.status_code == 200, answer.text
            page = answer.json()
            found.update({item["id"]: item for item in page["items"]})
            cursor = page.get("next_cursor")
            if not cursor:
                return found
            params["cursor"] = cursor

    def _any_api(self, index: int | None) -> Proc:
        if index is not None:
            return self.apis[index]
        for proc in self.apis:
            if proc.alive() and not proc.stopped:
                return proc
        raise AssertionError("no API server left")

    def wait_final(
        self, ids: list[str], name: str, timeout_s: float = 90
    ) -> dict[str, dict[str, Any]]:
        """Until every call of `ids` is in a terminal state; their records."""
        records: dict[str, dict[str, Any]] = {}

        def ended() -> bool:
            nonlocal records
            records = self.invocations(name)
            return all(records.get(i, {}).get("state") in FINAL for i in ids)

        try:
            until(ended, f"{len(ids)} calls to end", timeout_s)
        except AssertionError:
            left = {i: records.get(i, {}).get("state") for i in ids}
            left = {i: s for i, s in left.items() if s not in FINAL}
            raise AssertionError(f"calls not ended: {left}") from None
        return {i: records[i] for i in ids}

    def drain(self, proc: Proc) -> subprocess.CompletedProcess[str]:
        """`sandlot worker drain --url`, as an operator runs it."""
        argv = [sys.executable, "-m", "sandlot.cli.main", "worker", "drain", "--url", proc.url]
        return subprocess.run(argv, env=proc.env, capture_output=True, text=True, timeout=60)

    # The runs the handler leaves (RUNS_HANDLER).

    def runs_of(self, invocation_id: str) -> dict[str, dict[str, Any]]:
        """token -> {"pid", "start"} of each run of the call."""
        found = {}
        for path in self.runs.glob(f"{invocation_id}.*"):
            text = path.read_text()
            found[path.name.split(".", 1)[1]] = json.loads(text) if text else {}
        return found

    def event(self, sleep: float = 0, echo: object = None) -> dict[str, Any]:
        return {"dir": str(self.runs), "sleep": sleep, "echo": echo}


def start_cluster(
    postgres: PrivatePostgres,
    apis: int = 2,
    workers: int = 3,
    extra_env: dict[str, str] | None = None,
) -> Cluster:
    """PostgreSQL is up; start the API servers and workers and wait for all of them.

    The first API server starts alone (it migrates the database); the rest then together."""
    root = Path(tempfile.mkdtemp(prefix="sandlot-cluster-"))
    cluster = Cluster(postgres=postgres, root=root, runs=root / "runs", extra_env=extra_env or {})
    cluster.runs.mkdir()
    try:
        first = cluster.add_api()
        cluster.wait_api_ready(first)
        rest = [cluster.add_api() for _ in range(apis - 1)]
        started = [cluster.add_worker() for _ in range(workers)]
        for proc in rest:
            cluster.wait_api_ready(proc)
        for proc in started:
            cluster.wait_worker_ready(proc)
        cluster.wait_workers(workers)
    except BaseException as error:
        logs = "\n".join(f"--- {p.name}\n{p.tail()}" for p in [*cluster.apis, *cluster.workers])
        remove(cluster)
        raise RuntimeError(f"the cluster did not start: {error}\n{logs}") from error
    return cluster


def remove(cluster: Cluster) -> None:
    cluster.close()
    shutil.rmtree(cluster.root, ignore_errors=True)


@dataclass
class Answer:
    """What one sync call of the load got: a status and error name, or no answer at all."""

    api: int
    status: int | None  # None: the connection failed (an API server that was killed)
    error: str | None
    at: float


class Load:
    """A mixed load: `sync` threads calling and `async_` threads queueing calls, through the
    API servers in turn, until `stop`; it keeps every answer and every accepted call."""

    def __init__(
        self, cluster: Cluster, name: str, sync: int = 2, async_: int = 2, sleep: float = 0.2
    ) -> None:
        import threading

        self.cluster, self.name, self.sleep = cluster, name, sleep
        self.answers: list[Answer] = []
        self.accepted: list[str] = []
        self.refused: list[Answer] = []  # async calls that got no 202
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._sync, args=(i,)) for i in range(sync)]
        self._threads += [threading.Thread(target=self._async, args=(i,)) for i in range(async_)]

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=90)

    def _targets(self, start: int) -> list[int]:
        count = len(self.cluster.apis)
        return [(start + step) % count for step in range(count)]

    def _post(self, client: httpx.Client, api: int, headers: dict[str, str]) -> Answer:
        proc = self.cluster.apis[api]
        body = json.dumps(self.cluster.event(self.sleep)).encode()
        try:
            answer = client.post(
                f"{proc.url}/api/v1/functions/{self.name}/invoke",
                content=body,
                headers={"Content-Type": "application/json", **headers},
            )
        except httpx.HTTPError:
            return Answer(api, None, None, time.monotonic())
        error = None
        if answer.status_code >= 400:
            try:
                error = answer.json().get("error")
            except ValueError:
                error = answer.text[:200]
        elif headers and answer.status_code == 202:
            error = answer.json()["id"]  # the accepted call's id (read by _async)
        return Answer(api, answer.status_code, error, time.monotonic())

    def _client(self) -> httpx.Client:
        return httpx.Client(
            headers=HEADERS, timeout=60, limits=httpx.Limits(max_keepalive_connections=0)
        )

    def _sync(self, index: int) -> None:
        with self._client() as client:
            step = index
            while not self._stop.is_set():
                api = self._targets(step)[0]
                step += 1
                answer = self._post(client, api, {})
                with self._lock:
                    self.answers.append(answer)
                if answer.status is None or answer.status >= 500:
                    self._stop.wait(0.2)  # not a hot loop against a server that is down

    def _async(self, index: int) -> None:
        with self._client() as client:
            step = index
            while not self._stop.is_set():
                api = self._targets(step)[0]
                step += 1
                answer = self._post(client, api, {"Prefer": "respond-async"})
                with self._lock:
                    if answer.status == 202 and answer.error is not None:
                        self.accepted.append(answer.error)
                    else:
                        self.refused.append(answer)
                self._stop.wait(0.1)  # a steady trickle, not a flood of the queue

    def sync_ok_after(self, moment: float, api: int | None = None) -> int:
        with self._lock:
            return sum(
                1
                for a in self.answers
                if a.status == 200 and a.at > moment and (api is None or a.api == api)
            )

    def outcomes(self) -> dict[tuple[int | None, str | None], int]:
        """(status, error name) -> how many sync calls got it."""
        found: dict[tuple[int | None, str | None], int] = {}
        with self._lock:
            for answer in self.answers:
                key = (answer.status, answer.error)
                found[key] = found.get(key, 0) + 1
        return found


def check_accepted(
    cluster: Cluster, ids: list[str], name: str, kinds: frozenset[str] = frozenset()
) -> dict[str, dict[str, Any]]:
    """The invariant: every accepted call ends, once, succeeded, with the result of its last
    run (a superseded attempt ran earlier and wrote nothing); earlier attempts' errors are
    of `kinds` only. Returns the records."""
    records = cluster.wait_final(ids, name)
    for invocation_id, body in records.items():
        runs = cluster.runs_of(invocation_id)
        where = (invocation_id, body["state"], body["error"], body["attempts"], len(runs))
        assert body["state"] == "succeeded", where
        assert runs, where
        token = body["result"]["token"]
        latest = max(runs, key=lambda t: float(runs[t].get("start", 0)))
        assert token == latest, where
        assert 1 <= len(runs) <= body["attempt"] <= (body["max_attempts"] or 1), where
        assert len(body["attempts"]) == body["attempt"] - 1, where
        assert {a["error"]["kind"] for a in body["attempts"]} <= kinds, where
    return records


def check_settled(cluster: Cluster, records: dict[str, dict[str, Any]]) -> None:
    """The records read again, later, are the same: no late attempt rewrote an end."""
    again: dict[str, dict[str, Any]] = {}
    for name in {body["function"] for body in records.values()}:
        again.update(cluster.invocations(name))
    keys = ("state", "attempt", "result", "finished_at", "error")
    for invocation_id, body in records.items():
        later = again[invocation_id]
        assert {k: later[k] for k in keys} == {k: body[k] for k in keys}, invocation_id
