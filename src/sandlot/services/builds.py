"""Building versions in the background, with a live build log.

Every deploy makes a `pending` version and hands it to the builder after its commit. The
builder moves it to `building`; if the code declares requirements, it resolves a lock with
uv (or takes the stored one) and installs or reuses the shared environment; it notes the
imports that nothing the version ships or declares provides (`import_hints`: warnings, kept
with the version); then, as the last step of every build, it imports the handler inside the
version's own sandbox (`import_check`). Only then is the version `ready` (where `latest`
moves); otherwise it is `failed` (where it does not). Nothing is ever installed during an
invocation.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from sandlot.domain.errors import SandlotError
from sandlot.domain.limits import split_handler
from sandlot.domain.models import Function, Version
from sandlot.domain.states import VersionState
from sandlot.envs import (
    BuildOptions,
    Environment,
    EnvironmentBuildFailed,
    EnvironmentStore,
    Lock,
    Requirements,
    find_requirements,
)
from sandlot.services import aliases, secrets
from sandlot.services.code import CodeStore
from sandlot.services.import_check import check_import
from sandlot.services.import_hints import import_warnings
from sandlot.services.secret_keys import Keyring
from sandlot.services.specs import SpecDefaults, local_code, version_spec
from sandlot.storage.db import Database
from sandlot.storage.functions import FunctionRepo, VersionRepo
from sandlot.storage.keys import NamespaceRepo
from sandlot.worker.interface import Pool

log = logging.getLogger(__name__)

BuildKey = tuple[str, int]  # function id, version number
MAX_LOG_LINES = 20_000


def requirements_of(code_dir: Path, handler: str) -> Requirements | None:
    """The declared requirements, checked strictly (raises InvalidRequirements)."""
    module, _ = split_handler(handler)
    return find_requirements(code_dir, module)


@dataclass
class BuildLog:
    """The lines of one build, readable while it runs (for server-sent events)."""

    lines: list[str] = field(default_factory=list)
    done: bool = False
    state: VersionState = VersionState.PENDING
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def append(self, text: str) -> None:
        # One entry per line: each is one server-sent event, whose data holds no newline.
        for line in text.rstrip("\n").split("\n"):
            if len(self.lines) < MAX_LOG_LINES:
                self.lines.append(line)
            elif len(self.lines) == MAX_LOG_LINES:
                self.lines.append("[sandlot: build log truncated]")
        self.changed.set()

    def finish(self, state: VersionState) -> None:
        self.state = state
        self.done = True
        self.changed.set()

    @property
    def text(self) -> str:
        return "".join(f"{line}\n" for line in self.lines)


class Builder:
    def __init__(
        self,
        *,
        database: Database,
        code: CodeStore,
        envs_root: Path,
        options: BuildOptions,
        pool: Pool,
        defaults: SpecDefaults,
        on_ready: Callable[[Function], None],
        keyring: Keyring,
        local_envs: bool = True,
    ) -> None:
        """`local_envs=False` (an API server, role api): a build resolves the version's lock
        but installs nothing on this machine; its import check runs on a worker (through
        `pool.prepare`), which installs the lock stored with the version."""
        self.local_envs = local_envs
        self.keyring = keyring
        self.database = database
        self.code = code
        self.envs_root = envs_root
        self.options = options
        self.pool = pool
        self.defaults = defaults
        self.on_ready = on_ready
        self._store: EnvironmentStore | None = None
        self._tasks: dict[BuildKey, asyncio.Task[None]] = {}
        self._logs: dict[BuildKey, BuildLog] = {}
        self._gc: asyncio.Task[None] | None = None

    @property
    def store(self) -> EnvironmentStore:
        assert self._store is not None, "Builder.start() was not called"
        return self._store

    @property
    def python_version(self) -> str:
        """The Python version functions run on here (`3.11.7`)."""
        return self.store.target.version

    async def start(self, gc_interval_s: float | None = None) -> None:
        self._store = await EnvironmentStore.open(self.envs_root, self.options)
        if gc_interval_s:
            self._gc = asyncio.create_task(self._gc_loop(gc_interval_s), name="environment-gc")
        async with self.database.sessions() as session:
            unfinished = await VersionRepo(session).unfinished()
        # Builds cut short by a restart start again: nothing accepted is lost.
        for function, version in unfinished:
            self.submit(function, version)

    async def collect_garbage(self, grace_s: float | None = None) -> list[str]:
        """Remove environments that no live function's version uses and that were unused
        for `grace_s` (default `SANDLOT_ENV_GC_GRACE_S`); the collector's round."""
        async with self.database.sessions() as session:
            in_use = await VersionRepo(session).env_keys_in_use()
        return await self.store.prune(in_use, grace_s)

    async def _gc_loop(self, interval_s: float) -> None:
        while True:
            await asyncio.sleep(interval_s)
            try:
                removed = await self.collect_garbage()
            except Exception:
                log.exception("collecting unused environments failed; will retry")
                continue
            if removed:
                log.info("removed %d unused environment(s)", len(removed))

    def submit(self, function: Function, version: Version) -> None:
        key: BuildKey = (function.id, version.number)
        running = self._tasks.get(key)
        if running is not None and not running.done():
            return
        self._logs[key] = build_log = BuildLog()
        self._tasks[key] = asyncio.create_task(
            self._build(function, version, build_log),
            name=f"build-{function.name}-v{version.number}",
        )

    async def rebuild(self, function: Function, version: Version) -> None:
        """Reinstall a ready version's stored lock (its environment was pruned or is not on
        this machine); the version is `building` until it is back."""
        running = self._tasks.get((function.id, version.number))
        if running is not None and not running.done():
            return  # several callers may notice the missing environment at once
        async with self.database.sessions.begin() as session:
            versions = VersionRepo(session)
            current = await versions.get(function, version.number)
            if current.state is VersionState.READY:
                current = await versions.move(function, version.number, VersionState.BUILDING)
        # What runs of the version has the old environment mounted, now gone: the import
        # check starts it afresh on the new one.
        await self.pool.retire_version(function.id, version.number)
        self.submit(function, current)

    def live_log(self, function_id: str, number: int) -> BuildLog | None:
        return self._logs.get((function_id, number))

    async def wait(self, function_id: str, number: int, timeout_s: float) -> None:
        """Wait at most `timeout_s` for the version's build in this process to end. The
        build goes on if the waiter stops waiting (a timeout, a client gone)."""
        task = self._tasks.get((function_id, number))
        if task is not None:
            await asyncio.wait({task}, timeout=timeout_s)

    async def drain(self) -> None:
        """Wait for every build under way."""
        while pending := [task for task in self._tasks.values() if not task.done()]:
            await asyncio.gather(*pending, return_exceptions=True)

    async def close(self) -> None:
        tasks = [*self._tasks.values(), *([self._gc] if self._gc else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def follow(self, function_id: str, number: int) -> AsyncIterator[str]:
        """Yield build log lines as they come, until the build ends."""
        build_log = self._logs.get((function_id, number))
        if build_log is None:
            return
        sent = 0
        while True:
            build_log.changed.clear()
            while sent < len(build_log.lines):
                yield build_log.lines[sent]
                sent += 1
            if build_log.done:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(build_log.changed.wait(), 1.0)

    async def _build(self, function: Function, version: Version, build_log: BuildLog) -> None:
        try:
            state = await self._run(function, version, build_log)
        except asyncio.CancelledError:
            build_log.append("[sandlot: build interrupted by shutdown; it resumes on restart]")
            build_log.finish(VersionState.BUILDING)
            raise
        except Exception:
            log.exception("build of %s v%s failed unexpectedly", function.name, version.number)
            state = await self._fail(function, version, build_log, "internal error while building")
        build_log.finish(state)

    async def _run(self, function: Function, version: Version, build_log: BuildLog) -> VersionState:
        if version.state is not VersionState.BUILDING:
            async with self.database.sessions.begin() as session:
                await VersionRepo(session).move(function, version.number, VersionState.BUILDING)
        build_log.append(f"building {function.name} version {version.number}")
        async with self.database.sessions() as session:
            namespace = await NamespaceRepo(session).get(function.namespace_id)
            code_dir = await local_code(session, self.code, version)
            # The check imports the module as its calls will, so with the same secrets: a
            # module may read one at import (a client made once, at module level).
            try:
                resolved = await secrets.resolve(
                    session=session,
                    keyring=self.keyring,
                    namespace_id=function.namespace_id,
                    refs=version.config.secrets,
                )
            except SandlotError as exc:
                unresolved: str | None = exc.message
            else:
                unresolved = None
        if unresolved is not None:
            return await self._fail(function, version, build_log, unresolved)
        try:
            if self.local_envs:
                built = await self._environment(version, code_dir, build_log)
                environment, lock = built if built is not None else (None, None)
            else:
                environment, lock = None, None
                version = await self._lock_for_workers(function, version, code_dir, build_log)
        except EnvironmentBuildFailed as failure:
            build_log.append(str(failure.detail().get("output") or ""))
            return await self._fail(function, version, build_log, failure.message)
        # Without the environment here the hints cannot tell what it provides: none then.
        warnings = (
            await self._import_hints(version, code_dir, environment, build_log)
            if self.local_envs
            else []
        )
        spec = version_spec(
            namespace=namespace.name,
            function=function,
            version=version,
            code_dir=code_dir,
            site_packages=(environment.path,) if environment else (),
            defaults=self.defaults,
            secrets=resolved,
        )
        error = await check_import(pool=self.pool, spec=spec, log=build_log.append)
        if error is not None:
            return await self._fail(function, version, build_log, error, warnings)
        async with self.database.sessions.begin() as session:
            await VersionRepo(session).move(
                function,
                version.number,
                VersionState.READY,
                lock_text=lock.text if lock else version.lock_text,
                env_key=environment.key if environment else version.env_key,
                build_log=build_log.text,
                build_warnings=warnings,
            )
            moved, before = await FunctionRepo(session).set_latest(function.id, version.number)
            if moved:
                await aliases.latest_advanced(
                    session,
                    function=function,
                    before=before,
                    after=version.number,
                    actor=version.deployed_by or "sandlot",
                )
            live = await FunctionRepo(session).is_live(function.id)
        if not live:
            # Deleted while its import was checked: stop what the check started.
            await self.pool.stop_function(function.id)
            return VersionState.READY
        self.on_ready(function)
        return VersionState.READY

    async def _environment(
        self, version: Version, code_dir: Path, build_log: BuildLog
    ) -> tuple[Environment, Lock] | None:
        """The version's installed environment and its lock; None if it declares nothing."""
        if version.lock_text:
            build_log.append("installing the stored lock exactly (no resolution)")
            lock = Lock.from_text(version.lock_text)
        else:
            requirements = requirements_of(code_dir, version.config.handler)
            if requirements is None:
                build_log.append("no dependencies declared")
                return None
            build_log.append(
                f"resolving {len(requirements.lines)} requirement(s) from {requirements.source}"
            )
            lock = await self.store.resolve(requirements, build_log.append)
        environment = await self.store.ensure(lock, build_log.append)
        build_log.append("installed" if environment.built else "reused a cached environment")
        build_log.append(f"environment {environment.key[:12]} is ready")
        return environment, lock

    async def _lock_for_workers(
        self, function: Function, version: Version, code_dir: Path, build_log: BuildLog
    ) -> Version:
        """The version with its lock and environment key, stored before its import check:
        the worker that runs the check installs the environment from the stored lock."""
        if version.lock_text:
            lock = Lock.from_text(version.lock_text)
        else:
            requirements = requirements_of(code_dir, version.config.handler)
            if requirements is None:
                build_log.append("no dependencies declared")
                return version
            build_log.append(
                f"resolving {len(requirements.lines)} requirement(s) from {requirements.source}"
            )
            lock = await self.store.resolve(requirements, build_log.append)
        env_key = self.store.key_for(lock)
        async with self.database.sessions.begin() as session:
            await VersionRepo(session).note_environment(
                function, version.number, lock_text=lock.text, env_key=env_key
            )
        build_log.append(f"environment {env_key[:12]}: the workers install it from the lock")
        return replace(version, lock_text=lock.text, env_key=env_key)

    async def _import_hints(
        self,
        version: Version,
        code_dir: Path,
        environment: Environment | None,
        build_log: BuildLog,
    ) -> list[str]:
        """Imports nothing the version ships or declares provides, one build log line each
        (they work on Lambda only because its runtime happens to ship them)."""
        try:
            requirements = requirements_of(code_dir, version.config.handler)
        except SandlotError:
            requirements = None  # a stored lock's version: checked when it was deployed
        warnings = await import_warnings(
            code_dir=code_dir,
            site_packages=environment.path if environment else None,
            declared_in=requirements.source if requirements else None,
        )
        for warning in warnings:
            build_log.append(f"warning: {warning}")
        return warnings

    async def _fail(
        self,
        function: Function,
        version: Version,
        build_log: BuildLog,
        error: str,
        warnings: list[str] | None = None,
    ) -> VersionState:
        async with self.database.sessions.begin() as session:
            await VersionRepo(session).move(
                function,
                version.number,
                VersionState.FAILED,
                error=error,
                build_log=build_log.text,
                build_warnings=warnings,
            )
        return VersionState.FAILED
