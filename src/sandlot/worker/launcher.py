"""Starting instances: the `Launcher` seam, and one fresh process per instance.

The pool starts every instance through `Launcher.launch`. `ProcessLauncher` (here) starts a
new `<base python> -I -S bootstrap.py` per instance; `zygote_launcher.ZygoteLauncher` (the
default) forks instances from a per-version zygote. `Settings.zygotes` picks one.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import re
import socket
import sys
import sysconfig
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from sandlot.config import Settings
from sandlot.domain import arns
from sandlot.domain.arns import function_arn
from sandlot.domain.limits import LAMBDA_LOG_LEVEL_NAMES
from sandlot.sandbox.egress_rules import grants_for
from sandlot.sandbox.spec import Mount, ProcessHandle, ProcessSpec, SandboxLimits, Starter
from sandlot.worker import failures, layout
from sandlot.worker.inside import bootstrap
from sandlot.worker.inside.bootstrap import CONTROL_FD
from sandlot.worker.instance import Instance, StartFailed
from sandlot.worker.interface import VersionSpec, import_timeout_s
from sandlot.worker.inventory import Kept
from sandlot.worker.output import OutputPipe
from sandlot.worker.protocol import FrameChannel

BOOTSTRAP_PATH = Path(bootstrap.__file__).resolve()
_MAX_HEADER_BYTES = 1024 * 1024
_SAFE_PATH = "/usr/local/bin:/usr/bin:/bin"
_UNSAFE_NAME_CHARS = re.compile(r"[^A-Za-z0-9_.-]")
FILE_SECRETS_NEED_SANDBOX = (
    "the function takes secrets as files, which needs the sandbox and zygotes "
    "(SANDLOT_SANDBOX=strict, SANDLOT_ZYGOTES=true): each instance mounts its own read-only "
    '/run/secrets; use "as": "env" on this server'
)


# An instance has one CPU (its cgroup's quota), so a numeric library's thread pool only adds
# cost: after a fork it must be made again, which more than doubled numpy's first call in a
# new instance. A function that wants threads sets these itself.
_ONE_THREAD = {
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
}


def base_interpreter() -> Path:
    """The interpreter the server's venv was made from, never the venv's own: a function
    must not see the server's site-packages, and `-I -S` keeps site hooks away too."""
    executable = getattr(sys, "_base_executable", None) or sys.executable
    return Path(os.path.realpath(executable))


# Code that asks whether it runs on Lambda looks for this prefix (botocore puts the value in
# its user agent): a handler written for Lambda should take its Lambda path here too.
EXECUTION_ENV = f"AWS_Lambda_python{sys.version_info.major}.{sys.version_info.minor}"


def log_group_name(spec: VersionSpec) -> str:
    return arns.log_group_name(spec.namespace, spec.function_name)


def lambda_env(spec: VersionSpec, region: str) -> dict[str, str]:
    """Lambda's runtime variables with Sandlot's values. The bootstrap adds the ones only the
    inside knows (LAMBDA_TASK_ROOT, LAMBDA_RUNTIME_DIR, AWS_LAMBDA_LOG_STREAM_NAME)."""
    env = {
        "AWS_LAMBDA_FUNCTION_NAME": spec.function_name,
        "AWS_LAMBDA_FUNCTION_VERSION": str(spec.version),
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
        "AWS_LAMBDA_LOG_GROUP_NAME": log_group_name(spec),
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_EXECUTION_ENV": EXECUTION_ENV,
        "_HANDLER": spec.handler,
        "TZ": ":UTC",
    }
    if spec.log_level is not None:
        env["AWS_LAMBDA_LOG_LEVEL"] = LAMBDA_LOG_LEVEL_NAMES.get(spec.log_level, spec.log_level)
    return env


def instance_env(spec: VersionSpec, region: str) -> dict[str, str]:
    """The function's environment: its own variables over a small safe base and Lambda's
    variables, never the server's environment (which holds database URLs and keys)."""
    # /tmp is the instance's own size-capped tmpfs when sandboxed, the host's in plain mode.
    env = {"PATH": _SAFE_PATH, "HOME": "/tmp", "LANG": "C.UTF-8", "TMPDIR": "/tmp"}  # noqa: S108
    env.update(_ONE_THREAD)
    env.update(lambda_env(spec, region))
    env.update(spec.env)
    env.update(spec.secret_env)  # names never clash with env: checked on deploy
    env.update(
        {
            # -I makes the bootstrap's own interpreter ignore these; Python subprocesses
            # the function starts still honour them.
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONUNBUFFERED": "1",
            "SANDLOT_FUNCTION_NAME": spec.function_name,
            "SANDLOT_FUNCTION_VERSION": str(spec.version),
            "SANDLOT_MEMORY_MB": str(spec.memory_mb),
        }
    )
    return env


@dataclass(frozen=True)
class Interpreter:
    """The base interpreter (host paths), and where a sandbox shows it.

    Moved to `layout.LANG_ROOT` when it lives in a prefix of its own (pyenv, /opt/python3.x):
    Python derives `sys.prefix` from where its executable is, so stdlib paths in `sys.path`
    and tracebacks then read /var/lang/lib/python3.x. A shared libpython is found through the
    executable's absolute run path, which names the host prefix: LD_LIBRARY_PATH (searched
    first, and set on Lambda too) points the loader at the moved copy. A system interpreter
    (prefix /usr) stays: /usr is in every sandbox at its own path anyway.
    """

    executable: Path
    prefix: Path
    shared_libpython: bool

    @classmethod
    def of_server(cls) -> Interpreter:
        shared = bool(sysconfig.get_config_var("Py_ENABLE_SHARED"))
        return cls(base_interpreter(), Path(sys.base_prefix).resolve(), shared)

    @property
    def movable(self) -> bool:
        usr = Path("/usr")
        in_usr = self.prefix == usr or self.prefix.is_relative_to(usr)
        return not in_usr and self.executable.is_relative_to(self.prefix)

    def executable_inside(self) -> str:
        return f"{layout.LANG_ROOT}/{self.executable.relative_to(self.prefix)}"

    def env_inside(self, env: dict[str, str]) -> dict[str, str]:
        if not self.shared_libpython:
            return env
        own = env.get("LD_LIBRARY_PATH")
        paths = f"{layout.LANG_ROOT}/lib" + (f":{own}" if own else "")
        return {**env, "LD_LIBRARY_PATH": paths}


@dataclass
class StartTimes:
    """Where a cold start's time went (ms); see `interface.Timings`."""

    init_ms: float = 0.0
    zygote_ms: float = 0.0
    fork_ms: float = 0.0
    layers_ms: float = 0.0


class Launcher(Protocol):
    async def launch(
        self, spec: VersionSpec, register: Callable[[Instance], None]
    ) -> tuple[Instance, StartTimes]:
        """Start an instance with its handler imported; returns it and where the time went.

        `register` is called as soon as a process exists, before the import, so the pool
        can kill it if it closes meanwhile. Raises `StartFailed` if the import fails.
        """
        ...

    async def prepare(self, spec: VersionSpec) -> StartTimes | None:
        """Import the handler in what the launcher keeps per version (a zygote) and keep it;
        None when it keeps nothing per version (the pool then starts an instance instead).
        Raises `StartFailed` if the import fails."""

    async def version_unused(self, spec: VersionSpec) -> None:
        """No instance of the version lives or is starting: free what its group holds."""

    async def retire(self, function_id: str, version: int | None = None) -> None:
        """A version was retired (None: every version of a deleted function)."""

    async def reap(self, in_use: Collection[tuple[str, int]]) -> None:
        """The reaper's round: stop what versions without instances keep past keep-alive."""

    def evict(self, keep: tuple[str, int] | None, in_use: Collection[tuple[str, int]]) -> bool:
        """Stop one thing the launcher keeps (not for `keep`'s instance, nor for versions
        `in_use`) to make room under the worker's caps; False when there is nothing."""

    def kept(self) -> list[Kept]:
        """What it keeps per version beside the pool's instances (zygotes, spares)."""
        ...

    async def close(self) -> None: ...


@dataclass(frozen=True)
class Places:
    """Where a version's files are as its processes see them: Lambda's fixed paths in a
    sandbox (`layout`), the host's own paths under insecure-dev, where nothing can move."""

    task_root: str
    runtime_dir: str
    deps: tuple[str, ...]

    @classmethod
    def of(cls, spec: VersionSpec, moved: bool) -> Places:
        if moved:
            deps = layout.deps_paths(len(spec.site_packages))
            return cls(layout.TASK_ROOT, layout.RUNTIME_DIR, tuple(deps))
        host = tuple(str(path) for path in spec.site_packages)
        return cls(str(spec.code_dir.resolve()), str(BOOTSTRAP_PATH.parent), host)

    def script(self, host_path: Path) -> str:
        """A module of the bootstrap's directory (bootstrap.py, zygote.py), as seen inside."""
        return f"{self.runtime_dir}/{host_path.name}"


def init_message(spec: VersionSpec, settings: Settings, places: Places) -> dict[str, Any]:
    return {
        "op": "init",
        "handler": spec.handler,
        "code_dir": places.task_root,
        "task_root": places.task_root,
        "runtime_dir": places.runtime_dir,
        "paths": list(places.deps),
        "function_name": spec.function_name,
        "function_version": spec.version,
        "memory_mb": spec.memory_mb,
        "max_log_bytes": settings.max_log_bytes,
        "max_result_bytes": settings.max_result_bytes,
        "function_arn": function_arn(settings.aws_region, spec.namespace, spec.function_name),
        "log_group_name": log_group_name(spec),
        "log_level": spec.log_level,
    }


def new_channel(settings: Settings) -> FrameChannel:
    # A reply carries a result and logs (plus the truncation note); anything bigger is
    # a function writing to its control socket by itself.
    max_parts = settings.max_result_bytes + settings.max_log_bytes + 64 * 1024
    return FrameChannel(max_header=_MAX_HEADER_BYTES, max_parts=max_parts)


async def connect_instance(
    name: str,
    spec: VersionSpec,
    handle: ProcessHandle,
    control: socket.socket,
    output_fd: int,
    settings: Settings,
) -> Instance:
    """The `Instance` of a started process: its control socket read on the loop and its
    output pipe drained. On failure the socket and pipe are closed and the process cleaned
    up (killed, reaped, its cgroup removed)."""
    try:
        channel = new_channel(settings)
        await asyncio.get_running_loop().connect_accepted_socket(lambda: channel, sock=control)
        output = OutputPipe(output_fd, settings.max_log_bytes)
    except BaseException:
        control.close()
        with contextlib.suppress(OSError):
            os.close(output_fd)
        await handle.cleanup()
        raise
    return Instance(
        name=name,
        spec=spec,
        handle=handle,
        channel=channel,
        output=output,
        max_log_bytes=settings.max_log_bytes,
    )


def init_timeout_s(spec: VersionSpec) -> float:
    return import_timeout_s(spec.timeout_s)


def process_name(spec: VersionSpec, serial: int) -> str:
    # Unique among the host's live processes, even with several servers on one host.
    function_id = _UNSAFE_NAME_CHARS.sub("_", spec.function_id)
    return f"{function_id}-v{spec.version}-{os.getpid()}-{serial}"


def group_name(spec: VersionSpec) -> str:
    return f"{spec.function_id}-v{spec.version}"


class ProcessLauncher:
    """Each instance is a new `<base python> -I -S bootstrap.py` process from a `Starter`."""

    def __init__(self, starter: Starter, settings: Settings) -> None:
        self._starter = starter
        self._settings = settings
        self._python = Interpreter.of_server()
        self._serial = itertools.count(1)

    async def launch(
        self, spec: VersionSpec, register: Callable[[Instance], None]
    ) -> tuple[Instance, StartTimes]:
        if spec.secret_files:
            raise StartFailed(failures.stopped(FILE_SECRETS_NEED_SANDBOX), "", False)
        instance = await self._spawn(spec)
        register(instance)
        init_ms = await instance.initialize(
            init_message(spec, self._settings, self.places(spec)), init_timeout_s(spec)
        )
        return instance, StartTimes(init_ms=init_ms)

    async def prepare(self, spec: VersionSpec) -> None:
        """Nothing is kept per version: the pool checks an import by starting an instance."""

    async def version_unused(self, spec: VersionSpec) -> None:
        await self._starter.release_group(group_name(spec))

    async def retire(self, function_id: str, version: int | None = None) -> None:
        """Instances are all the pool's; nothing else is kept per version."""

    async def reap(self, in_use: Collection[tuple[str, int]]) -> None:
        """Nothing kept per version."""

    def evict(self, keep: tuple[str, int] | None, in_use: Collection[tuple[str, int]]) -> bool:
        return False

    def kept(self) -> list[Kept]:
        return []

    async def close(self) -> None:
        """Nothing kept."""

    async def _spawn(self, spec: VersionSpec) -> Instance:
        name = self._name(spec)
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        read_fd, write_fd = os.pipe()
        try:
            handle = await self._starter.start(
                self.process_spec(spec, name, theirs.fileno(), write_fd)
            )
        except BaseException:
            ours.close()
            os.close(read_fd)
            raise
        finally:
            theirs.close()
            os.close(write_fd)
        return await connect_instance(name, spec, handle, ours, read_fd, self._settings)

    def _name(self, spec: VersionSpec) -> str:
        return process_name(spec, next(self._serial))

    def places(self, spec: VersionSpec) -> Places:
        return Places.of(spec, self._starter.moves_paths)

    def process_spec(
        self, spec: VersionSpec, name: str, control_fd: int, output_fd: int
    ) -> ProcessSpec:
        places = self.places(spec)
        code_dir = spec.code_dir.resolve()
        python, env = self._python, instance_env(spec, self._settings.aws_region)
        executable, prefix = str(python.executable), python.prefix
        if self._starter.moves_paths:
            # The code and the bootstrap are small: copies, so that not even mountinfo names
            # their host paths. Environments can be large (and are shared by versions): binds.
            ro_paths: list[Path] = []
            mounts = [
                Mount(BOOTSTRAP_PATH.parent, places.runtime_dir, copy=True),
                Mount(code_dir, places.task_root, copy=True),
                *(Mount(p, t) for p, t in zip(spec.site_packages, places.deps, strict=True)),
            ]
            if python.movable:
                mounts.append(Mount(prefix, layout.LANG_ROOT))
                executable, env = python.executable_inside(), python.env_inside(env)
            else:
                ro_paths.append(prefix)
        else:
            ro_paths = [prefix, BOOTSTRAP_PATH.parent, code_dir, *spec.site_packages]
            mounts = []
        return ProcessSpec(
            name=name,
            group=group_name(spec),
            argv=[executable, "-I", "-S", places.script(BOOTSTRAP_PATH)],
            env=env,
            cwd=Path(places.task_root),
            ro_paths=ro_paths,
            mounts=mounts,
            limits=SandboxLimits(
                memory_mb=spec.memory_mb,
                pids=self._settings.pids_max,
                cpus=self._settings.instance_cpus,
                tmp_mb=spec.tmp_mb,
            ),
            pass_fds={CONTROL_FD: control_fd},
            stdout_fd=output_fd,
            stderr_fd=output_fd,
            egress=grants_for(spec.egress),
        )
