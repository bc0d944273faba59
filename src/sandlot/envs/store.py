"""Content-addressed environments: each lock is installed once per target and then shared.

Layout under `root` (the operator's `envs_dir`):

    envs/<key>/site-packages/   the flat directory a function puts on sys.path
    envs/<key>/lock.txt          the lock it was installed from
    envs/<key>/meta.json         size, creation time, packages
    envs/<key>/COMPLETE          written last: without it the directory is never used
    envs/<key>/last-used         its mtime is the last time an ensure() returned it
    locks/<key>.lock             flock: exclusive to build or prune, shared to reuse
    tmp/<key>.<random>/          builds in progress, renamed into envs/ when complete
    trash/                       directories being deleted
    cache/                       uv's cache, shared by every build

An environment appears in `envs/` only by an atomic rename of a finished build, so a
reader sees all of it or nothing. A crashed build leaves only a `tmp/` directory, which
the next build of that key, or `prune()`, removes.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import re
import secrets
import time
from collections.abc import AsyncIterator, Set
from dataclasses import dataclass, replace
from pathlib import Path

from sandlot.envs import fsutil
from sandlot.envs.declare import Requirements
from sandlot.envs.errors import BuildCause, EnvironmentBuildFailed
from sandlot.envs.lock import Lock, resolve
from sandlot.envs.target import BuildOptions, Target, detect_target
from sandlot.envs.uvrun import LogFn, index_args, run_uv, uv_env

SITE = "site-packages"
COMPLETE = "COMPLETE"
LAST_USED = "last-used"
_SIZE_CHECK_S = 0.5
_KEY = re.compile(r"^[0-9a-f]{64}$")


def _checked(key: str) -> str:
    """Keys come from callers (a database row); never let one name a path outside envs/."""
    if not _KEY.match(key):
        raise ValueError(f"not an environment key: {key!r}")
    return key


@dataclass(frozen=True)
class Environment:
    """An installed environment. `built` is true only for the ensure() call that built it."""

    key: str
    path: Path
    size_bytes: int
    created_at: float
    last_used_at: float
    lock_hash: str
    built: bool = False


class EnvironmentStore:
    """Builds, shares and garbage-collects environments under one root directory."""

    def __init__(self, root: Path, options: BuildOptions, target: Target) -> None:
        self.root = root.resolve()
        self.options = options
        self.target = target
        self._waiters: dict[str, int] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        for sub in ("envs", "locks", "tmp", "trash", "cache", "home"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)

    @classmethod
    async def open(
        cls, root: Path, options: BuildOptions, python: Path | None = None
    ) -> EnvironmentStore:
        """A store for `python` (default: the base interpreter functions run on)."""
        target = await detect_target(python)
        return await asyncio.to_thread(cls, root, options, target)

    def key_for(self, lock: Lock) -> str:
        return hashlib.sha256(f"{lock.hash}\n{self.target.tag}".encode()).hexdigest()

    async def resolve(self, requirements: Requirements, log: LogFn | None = None) -> Lock:
        """Resolve `requirements` for this store's target, sharing its uv cache."""
        return await resolve(
            requirements,
            options=self.options,
            target=self.target,
            cache_dir=self.root / "cache",
            work_dir=self.root / "home",
            log=log,
        )

    async def ensure(self, lock: Lock, log: LogFn | None = None) -> Environment:
        """The environment for `lock`, installing exactly that lock if it is not built yet.

        Never resolves again: a lock read back from storage installs the same versions.
        Concurrent calls for one key, in this process or others, build it once.
        """
        key = self.key_for(lock)
        env = await asyncio.to_thread(self._reuse, key)
        if env is None:
            env = await self._build_once(key, lock, log)
        elif log is not None:
            log(f"environment {key[:12]}: already built, reusing it")
        return env

    async def get(self, key: str) -> Environment | None:
        """A complete environment by key, without marking it used."""
        return await asyncio.to_thread(self._load, _checked(key), False)

    async def touch(self, key: str) -> Environment | None:
        """Mark an environment used now, e.g. when an instance starts on it."""
        return await asyncio.to_thread(self._load, _checked(key), True)

    async def list_environments(self) -> list[Environment]:
        return await asyncio.to_thread(self._list)

    async def prune(self, in_use: Set[str], grace_s: float | None = None) -> list[str]:
        """Remove environments not in `in_use` and unused for `grace_s`; their keys.

        Also removes builds left behind by crashed processes. An environment being built
        or reused at this moment is skipped, never removed under its user.
        """
        grace = self.options.env_gc_grace_s if grace_s is None else grace_s
        return await asyncio.to_thread(self._prune, frozenset(in_use), grace)

    # -- building -------------------------------------------------------------------

    async def _build_once(self, key: str, lock: Lock, log: LogFn | None) -> Environment:
        wait_s = self.options.build_timeout_s + 60.0

        def waiting() -> None:
            if log is not None:
                log(f"environment {key[:12]}: another build of it is running, waiting")

        in_process = self._locks.get(key)
        if in_process is not None and in_process.locked():
            waiting()
        async with self._key_lock(key):
            try:
                async with fsutil.file_lock(self._lock_path(key), wait_s, on_wait=waiting):
                    env = await asyncio.to_thread(self._load, key, True)
                    if env is not None:  # someone else built it while we waited
                        if log is not None:
                            log(f"environment {key[:12]}: already built, reusing it")
                        return env
                    await self._build(key, lock, log)
                    # Loaded under the lock, so that a prune cannot slip in between.
                    env = await asyncio.to_thread(self._load, key, True)
            except fsutil.LockWaitTimeout:
                raise EnvironmentBuildFailed(
                    f"timed out after {wait_s:g}s waiting for another build of this environment",
                    cause=BuildCause.TIMEOUT,
                ) from None
        assert env is not None, "a committed environment is complete"
        return replace(env, built=True)

    @contextlib.asynccontextmanager
    async def _key_lock(self, key: str) -> AsyncIterator[None]:
        """One asyncio lock per key, dropped when nobody waits on it."""
        self._waiters[key] = self._waiters.get(key, 0) + 1
        lock = self._locks.setdefault(key, asyncio.Lock())
        try:
            async with lock:
                yield
        finally:
            self._waiters[key] -= 1
            if not self._waiters[key]:
                del self._waiters[key], self._locks[key]

    async def _build(self, key: str, lock: Lock, log: LogFn | None) -> None:
        tmp = self.root / "tmp" / f"{key}.{secrets.token_hex(6)}"
        await asyncio.to_thread(self._prepare, key, tmp, lock)
        try:
            if log is not None:
                count = len(lock.packages)
                log(f"environment {key[:12]}: installing {count} package{'s' * (count != 1)}")
            if lock.packages:
                await self._install(tmp, log)
            size = await asyncio.to_thread(fsutil.tree_size, tmp / SITE)
            self._check_size(size)
            await asyncio.to_thread(self._commit, key, tmp, lock, size)
        except BaseException:
            await asyncio.shield(fsutil.remove_tree(tmp))
            raise
        if log is not None:
            log(f"environment {key[:12]}: ready ({size} bytes)")

    def _prepare(self, key: str, tmp: Path, lock: Lock) -> None:
        # We hold the key's exclusive lock, so any other build directory of it is a
        # leftover of a process that died mid-build.
        for stale in (self.root / "tmp").glob(f"{key}.*"):
            self._discard(stale)
        (tmp / SITE).mkdir(parents=True)
        (tmp / "lock.txt").write_text(lock.text)

    async def _install(self, tmp: Path, log: LogFn | None) -> None:
        args = [
            "pip",
            "install",
            *index_args(self.options, self.target),
            "--require-hashes",
            "--no-deps",  # the lock is already the whole closure; nothing is resolved here
            "--target",
            str(tmp / SITE),
            # Copies, not hard links into the cache: a function that could write to its
            # environment (insecure-dev mode) must not be able to alter the shared cache.
            "--link-mode",
            "copy",
            # Functions run on a read-only root: without .pyc files every cold start
            # would compile every module it imports.
            "--compile-bytecode",
            "-r",
            str(tmp / "lock.txt"),
        ]
        env = uv_env(self.options, cache_dir=self.root / "cache", home=self.root / "home")
        installer = asyncio.create_task(
            run_uv(
                args,
                env=env,
                cwd=tmp,
                timeout_s=self.options.build_timeout_s,
                log=log,
                what="installing the environment",
            )
        )
        watcher = asyncio.create_task(self._watch_size(tmp / SITE))
        try:
            await asyncio.wait({installer, watcher}, return_when=asyncio.FIRST_COMPLETED)
            if watcher.done():
                watcher.result()  # raises: the size cap was passed mid-install
            installer.result()
        finally:
            watcher.cancel()
            installer.cancel()  # kills uv if it is still running
            await asyncio.gather(installer, watcher, return_exceptions=True)

    async def _watch_size(self, site: Path) -> None:
        """Stop an install as soon as it passes the cap, not after filling the disk."""
        while True:
            await asyncio.sleep(_SIZE_CHECK_S)
            self._check_size(await asyncio.to_thread(fsutil.tree_size, site))

    def _check_size(self, size: int) -> None:
        cap = self.options.max_env_bytes
        if size > cap:
            raise EnvironmentBuildFailed(
                f"the environment is too large: over {size} bytes, the limit is {cap} bytes",
                cause=BuildCause.TOO_LARGE,
                size_bytes=size,
                max_env_bytes=cap,
            )

    def _commit(self, key: str, tmp: Path, lock: Lock, size: int) -> None:
        (tmp / SITE / ".lock").unlink(missing_ok=True)  # uv's own lock of the target dir
        meta = {
            "key": key,
            "lock_hash": lock.hash,
            "target": self.target.tag,
            "python": self.target.version,
            "size_bytes": size,
            "created_at": time.time(),
            "packages": [[p.name, p.version] for p in lock.packages],
        }
        (tmp / "meta.json").write_text(json.dumps(meta, indent=1))
        (tmp / LAST_USED).touch()
        with (tmp / COMPLETE).open("w") as marker:
            marker.write(lock.hash)
            marker.flush()
            os.fsync(marker.fileno())
        final = self._env_dir(key)
        if final.exists():  # a directory without COMPLETE: never used, safe to replace
            self._discard(final)
        os.rename(tmp, final)

    # -- reading --------------------------------------------------------------------

    def _reuse(self, key: str) -> Environment | None:
        """The fast path: a shared lock keeps prune() away while we mark the env used."""
        fd = os.open(self._lock_path(key), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            if not fsutil.try_flock(fd, shared=True):
                return None  # being built or pruned: take the slow path and wait
            return self._load(key, True)
        finally:
            os.close(fd)

    def _load(self, key: str, touch: bool) -> Environment | None:
        env_dir = self._env_dir(key)
        try:
            if not (env_dir / COMPLETE).is_file():
                return None
            meta = json.loads((env_dir / "meta.json").read_text())
            if touch:
                os.utime(env_dir / LAST_USED)
            last_used = (env_dir / LAST_USED).stat().st_mtime
        except (OSError, ValueError):
            return None  # removed under us, or damaged: treated as not built
        return Environment(
            key=key,
            path=env_dir / SITE,
            size_bytes=int(meta["size_bytes"]),
            created_at=float(meta["created_at"]),
            last_used_at=last_used,
            lock_hash=str(meta["lock_hash"]),
        )

    def _list(self) -> list[Environment]:
        dirs = sorted(d.name for d in (self.root / "envs").iterdir() if _KEY.match(d.name))
        envs = (self._load(key, False) for key in dirs)
        return [env for env in envs if env is not None]

    # -- pruning --------------------------------------------------------------------

    def _prune(self, in_use: frozenset[str], grace_s: float) -> list[str]:
        removed = [env.key for env in self._list() if self._prune_one(env, in_use, grace_s)]
        self._clean_abandoned_builds()
        return removed

    def _prune_one(self, env: Environment, in_use: frozenset[str], grace_s: float) -> bool:
        if env.key in in_use or time.time() - env.last_used_at < grace_s:
            return False
        fd = os.open(self._lock_path(env.key), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            if not fsutil.try_flock(fd):
                return False
            # Look again under the lock: an ensure() may have reused it since we listed.
            fresh = self._load(env.key, False)
            if fresh is None or time.time() - fresh.last_used_at < grace_s:
                return False
            self._discard(self._env_dir(env.key))
        finally:
            os.close(fd)
        return True

    def _clean_abandoned_builds(self) -> None:
        for build in (self.root / "tmp").iterdir():
            key = build.name.split(".", 1)[0]
            if not _KEY.match(key):
                continue
            fd = os.open(self._lock_path(key), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:
                if fsutil.try_flock(fd):  # nobody is building this key
                    self._discard(build)
            finally:
                os.close(fd)
        for leftover in (self.root / "trash").iterdir():
            fsutil.remove_tree_sync(leftover)

    def _discard(self, path: Path) -> None:
        """Move aside atomically, then delete: a half-deleted dir is never at its old path."""
        trash = self.root / "trash" / f"{path.name}.{secrets.token_hex(6)}"
        with contextlib.suppress(FileNotFoundError):
            os.rename(path, trash)
            fsutil.remove_tree_sync(trash)

    def _env_dir(self, key: str) -> Path:
        return self.root / "envs" / key

    def _lock_path(self, key: str) -> Path:
        return self.root / "locks" / f"{key}.lock"
