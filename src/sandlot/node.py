"""Assembling and running one worker (`sandlot worker`), as `app.py` assembles the server.

A worker runs functions for the API servers of a cluster (README "More machines"): its
`RuntimePool` behind the internal API (`api.internal`, under Uvicorn on `worker_host:
worker_port`), the heartbeat that registers it, and an `AsyncRunner` that claims queued
calls with this worker's id as its lease owner. PostgreSQL is the one thing the machines
share, and the cluster secret is what lets a worker trust a call; without either it refuses
to start. SIGTERM (or `sandlot worker drain`, or an operator's drain) drains it: it admits
nothing new, says so in its next beat, claims nothing more, lets calls finish within
`shutdown_grace_s`, hands back what it had not started, leaves the registry and exits 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import logging.config
import math
import signal
import socket
from collections.abc import Callable, Iterator
from typing import Any, cast

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from sandlot.api.internal import InternalApp
from sandlot.api.serving import log_config
from sandlot.config import SandboxMode, Settings
from sandlot.domain import cluster_auth
from sandlot.domain.errors import ClusterSetupInvalid
from sandlot.envs import BuildOptions, EnvironmentStore
from sandlot.sandbox.egress_probe import egress_support
from sandlot.sandbox.factory import make_starter
from sandlot.sandbox.spec import Starter
from sandlot.services import auth, parts
from sandlot.services import cluster_wire as wire
from sandlot.services.async_runner import AsyncRunner
from sandlot.services.authenticator import Authenticator
from sandlot.services.builds import Builder
from sandlot.services.cluster_setup import require_cluster_settings
from sandlot.services.destinations import Destinations
from sandlot.services.heartbeat import Heartbeat
from sandlot.services.invocations import Invoker
from sandlot.services.metrics import Metrics
from sandlot.services.monitor_access import MonitorAccess
from sandlot.services.queue_wake import QueueWaker
from sandlot.services.recorder import InvocationRecorder
from sandlot.services.secret_keys import load_keyring
from sandlot.services.worker_catalog import WorkerCatalog
from sandlot.services.worker_node import Materializer, WorkerNode
from sandlot.storage.datadir import DataDirLock
from sandlot.storage.db import Database
from sandlot.storage.node_id import new_owner, node_id
from sandlot.storage.queue_notify import QueueChannel
from sandlot.worker.pool import RuntimePool

log = logging.getLogger("sandlot")

# A migration racing another process's (an API server starting at the same time) fails on
# the loser's side; it looks again this many times, a second apart, and then sees head.
_MIGRATE_TRIES = 5
_SIGNALS = (signal.SIGTERM, signal.SIGINT)  # both drain


def _listening_socket(host: str, port: int) -> socket.socket:
    """Bound before anything registers, so that the advertised URL has the real port."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted sockets inherit this on Linux. Uvicorn sets it only on sockets it binds itself
    # (not on one handed to it under uvloop): without it each internal call waits ~44 ms on
    # delayed ACK (measured).
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.setblocking(False)
    return sock


def advertised_url(settings: Settings, bound_port: int) -> str:
    if settings.worker_url:
        return settings.worker_url.rstrip("/")
    host = settings.worker_host
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{bound_port}"


class _OneWrite:
    """A connection's transport whose writes within one step of the loop leave as one send.
    Uvicorn writes a response's head and its body separately; on this TCP_NODELAY socket
    that was two segments, two wake-ups of the API server and two parses on its side for
    every call (measured: 0.07 ms of the hop's p50, 0.88 -> 0.80 ms in a paired run)."""

    def __init__(self, transport: asyncio.Transport) -> None:
        self._transport = transport
        self._held: list[bytes] = []

    def write(self, data: bytes) -> None:
        if not self._held:
            asyncio.get_running_loop().call_soon(self._flush)
        self._held.append(data)

    def _flush(self) -> None:
        held, self._held = self._held, []
        if held and not self._transport.is_closing():
            self._transport.write(b"".join(held))

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class _OneWriteProtocol(HttpToolsProtocol):
    """Uvicorn's httptools protocol (what "auto" picks) over `_OneWrite`."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(cast(asyncio.Transport, _OneWrite(transport)))


class _Server(uvicorn.Server):
    """Uvicorn, minus its signal handling: SIGTERM is a drain, which the node runs."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class Worker:
    """The parts of one running worker; `run()` serves until drained."""

    def __init__(
        self,
        *,
        settings: Settings,
        database: Database,
        pool: RuntimePool,
        node: WorkerNode,
        runner: AsyncRunner,
        metrics: Metrics,
        authenticator: Authenticator,
        sock: socket.socket,
    ) -> None:
        assert settings.cluster_key is not None, "require_cluster_settings checked it"
        self.settings = settings
        self.database = database
        self.pool = pool
        self.node = node
        self.runner = runner
        self.metrics = metrics
        self.authenticator = authenticator
        self.sock = sock
        self.app = InternalApp(
            node,
            secret=settings.cluster_key,
            max_event_bytes=settings.max_event_bytes,
            metrics=metrics,
            monitor=MonitorAccess(
                token=settings.monitor_token,
                allow=settings.monitor_allow,
                authenticator=authenticator,
            ),
            on_drain=self.request_drain,
        )
        self.heartbeat = Heartbeat(
            database=database,
            node=node,
            reaper=runner.reaper,
            interval_s=settings.heartbeat_interval_s,
            stale_s=settings.worker_stale_s,
            on_drain=self.request_drain,
        )
        self._drain = asyncio.Event()

    def request_drain(self) -> None:
        """SIGTERM, `sandlot worker drain`, an operator: from now on, nothing new."""
        if self.node.drain():
            log.info("draining: admitting no new call, claiming no more asynchronous work")
        self.runner.stop()
        self.heartbeat.wake()
        self._drain.set()

    async def run(self, on_listening: Callable[[str], None] | None = None) -> None:
        settings = self.settings
        await self.pool.start()
        self.authenticator.start()
        server = _Server(
            uvicorn.Config(
                self.app,
                http=_OneWriteProtocol,
                lifespan="off",
                log_config=log_config(),
                access_log=settings.access_log,
                timeout_graceful_shutdown=math.ceil(settings.shutdown_grace_s) + 3,
            )
        )
        serving = asyncio.create_task(server.serve(sockets=[self.sock]), name="internal-api")
        loop = asyncio.get_running_loop()
        try:
            await self.heartbeat.beat()  # registered before it says it is listening
            self.heartbeat.start()
            if self.runner.channel is not None:
                await self.runner.channel.start()
            await self.runner.start()
            for sig in _SIGNALS:
                loop.add_signal_handler(sig, self.request_drain)
            log.info("worker %s listening at %s", self.node.worker_id, self.node.url)
            if self.node.egress_problem is not None:
                log.warning(
                    "egress cannot be enforced on this worker (%s): versions with a network "
                    "policy other than 'none' are refused here",
                    self.node.egress_problem,
                )
            if on_listening is not None:
                on_listening(self.node.url)
            await self._drain.wait()
            await self._drained()
        finally:
            for sig in _SIGNALS:
                loop.remove_signal_handler(sig)
            server.should_exit = True
            with contextlib.suppress(Exception):
                await serving
            await self._close()

    async def _drained(self) -> None:
        """Calls under way finish within the grace; the pool refuses what it had not
        started (async ones go back to the queue unattempted: AsyncRunner._put_back), and
        past the grace stops the rest (they end cancelled)."""
        try:
            await self.heartbeat.beat()  # draining, said now: routing stops within this beat
        except Exception:  # the database away: the calls still get their grace
            log.exception("the draining heartbeat failed")
        await self.pool.close(self.settings.shutdown_grace_s)
        log.info("drained: every call has ended")

    async def _close(self) -> None:
        await self.pool.close(0.0)  # a no-op after a drain; else stops everything now
        await self.runner.close()
        if self.runner.channel is not None:
            await self.runner.channel.close()
        try:
            await self.heartbeat.close(remove=True)
        except Exception:
            log.exception("removing this worker's registry row failed (it is pruned later)")
        try:
            await self.authenticator.close()  # its last usage flush
        except Exception:
            log.exception("flushing key usage failed")
        await self.database.dispose()


async def _migrate(database: Database) -> None:
    for attempt in range(_MIGRATE_TRIES):
        try:
            await database.upgrade()
            return
        except Exception:
            if attempt == _MIGRATE_TRIES - 1:
                raise
            log.info("migrating the database failed (another process migrating?); again")
            await asyncio.sleep(1.0)


def assemble(settings: Settings, starter: Starter, envs: EnvironmentStore) -> Worker:
    """Every part of the worker, nothing started."""
    database = Database(settings.resolved_database_url)
    code = parts.code_store(settings)
    pool = RuntimePool(starter, settings)
    keyring = load_keyring(settings)
    defaults = parts.spec_defaults(settings)
    materializer = Materializer(database, code, envs)
    catalog = WorkerCatalog(
        materializer=materializer,
        database=database,
        code=code,
        builder=Builder(
            database=database,
            code=code,
            envs_root=settings.envs_dir,
            options=BuildOptions.from_settings(settings),
            pool=pool,
            defaults=defaults,
            on_ready=lambda _function: None,
            keyring=keyring,
        ),
        defaults=defaults,
        keyring=keyring,
        quota_defaults=parts.quota_defaults(settings),
    )
    sock = _listening_socket(settings.worker_host, settings.worker_port)
    worker_id = new_owner(node_id(settings.data_dir))
    node = WorkerNode(
        worker_id=worker_id,
        url=advertised_url(settings, sock.getsockname()[1]),
        pool=pool,
        materializer=materializer,
        egress_problem=egress_problem(settings, starter),
    )
    metrics = Metrics(pool.stats, pool.egress_denied)
    waker = QueueWaker()
    channel = QueueChannel(settings.resolved_database_url, waker.wake)
    waker.remote = channel.notify
    invoker = Invoker(
        catalog=catalog,
        pool=pool,
        recorder=InvocationRecorder(
            database.sessions,
            journal=None,
            interval_s=settings.record_flush_interval_s,
            batch_size=settings.record_batch_size,
        ),
        metrics=metrics,
        max_event_bytes=settings.max_event_bytes,
        log_excerpt_bytes=settings.log_excerpt_bytes,
        event_bytes=settings.invocation_event_bytes,
    )
    runner = AsyncRunner(
        database=database,
        catalog=catalog,
        pool=pool,
        # Function destinations queue their call here; webhook deliveries are the API
        # servers' sender's (it polls its table).
        destinations=Destinations(
            invoker=invoker,
            max_attempts=settings.webhook_max_attempts,
            on_queued=waker.notify,
        ),
        waker=waker,
        owner=worker_id,
        options=parts.runner_options(settings),
        channel=channel,
    )
    node.on_kill = runner.stop_if_lost  # a cancel on an API server reaches it at once
    return Worker(
        settings=settings,
        database=database,
        pool=pool,
        node=node,
        runner=runner,
        metrics=metrics,
        # For /metrics: a platform admin's key opens it, as on the API servers.
        authenticator=parts.authenticator(settings, database, auth.KeyCache(ttl_s=5.0), metrics),
        sock=sock,
    )


def egress_problem(settings: Settings, starter: Starter) -> str | None:
    """Why this worker cannot enforce network policies (None: it can). The API servers
    accept policies trusting the workers (`sandlot.app.egress_host_of`); this is where one
    is refused. Insecure-dev stores them unenforced, as one machine does (and says so)."""
    if settings.sandbox is SandboxMode.INSECURE_DEV:
        return None
    if getattr(starter, "egress", None) is not None:  # the sandbox's network, started
        return None
    support = egress_support(settings.egress_route_table)
    return support.reason or "this worker's sandbox has no egress network"


async def run_worker(
    settings: Settings,
    *,
    starter: Starter | None = None,
    on_listening: Callable[[str], None] | None = None,
) -> None:
    """Run a worker until it is drained. Raises `ClusterSetupInvalid` (settings),
    `DataDirInUse`."""
    require_cluster_settings(settings, "sandlot worker")
    if settings.secret_key is None:
        # Sync calls bring their secrets' values in the signed spec; the async calls this
        # worker claims are resolved here, with the cluster's key or not at all.
        log.warning(
            "SANDLOT_SECRET_KEY is not set: asynchronous calls of functions that name "
            "secrets cannot decrypt them on this worker (set the API servers' key)"
        )
    lock = DataDirLock.acquire(settings.data_dir)
    try:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        envs = await EnvironmentStore.open(settings.envs_dir, BuildOptions.from_settings(settings))
        worker = assemble(settings, starter or make_starter(settings), envs)
        await _migrate(worker.database)
        await worker.run(on_listening)
    finally:
        lock.release()


def serve_worker(settings: Settings) -> None:
    """`sandlot worker`: runs until drained (exit 0)."""
    logging.config.dictConfig(log_config())
    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        runner.run(run_worker(settings))


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop where it is installed, as `sandlot serve` runs under uvicorn's "auto" loop: on
    the stock loop each hop to this worker cost about 0.3 ms more (measured)."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def default_url(settings: Settings) -> str:
    """This machine's worker, as its settings say (`sandlot worker drain` with no --url)."""
    return advertised_url(settings, settings.worker_port)


def drain_worker(settings: Settings, url: str) -> tuple[int, dict[str, Any]]:
    """`sandlot worker drain`: a signed POST to the worker's drain path; (status, answer).
    Raises `ClusterSetupInvalid` without a cluster secret, `OSError`-like `httpx` errors when the
    worker cannot be reached."""
    import httpx

    key = settings.cluster_key
    if key is None:
        raise ClusterSetupInvalid(
            "draining a worker needs SANDLOT_CLUSTER_SECRET (it signs the call)"
        )
    headers = cluster_auth.sign(key, "POST", wire.DRAIN_PATH, b"")
    answer = httpx.post(url.rstrip("/") + wire.DRAIN_PATH, headers=headers, timeout=10)
    try:
        body = answer.json()
    except ValueError:
        body = {"message": answer.text}
    return answer.status_code, body if isinstance(body, dict) else {"answer": body}
