"""Running uv: a controlled environment, streamed output, a hard time limit.

Every uv call goes through `run_uv`, so the rules live in one place: the server's own
UV_*/PIP_* variables and config files never reach uv, builds share one cache under the
store, output reaches the build log line by line, and a timeout or a cancellation kills
uv together with any build backend it started.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from sandlot.envs.errors import BuildCause, EnvironmentBuildFailed
from sandlot.envs.target import BuildOptions, Target

LogFn = Callable[[str], None]

_TAIL_LINES = 80
_MAX_LINE = 4096
# A build backend's traceback can arrive as one very long line; the default 64 KiB
# line limit of a StreamReader would turn that into a crash of the log reader.
_STREAM_LIMIT = 1024 * 1024
_DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"


def uv_bin() -> str:
    from uv import find_uv_bin

    return str(find_uv_bin())


def uv_env(options: BuildOptions, *, cache_dir: Path, home: Path) -> dict[str, str]:
    """The whole environment uv runs with; nothing else from the server is inherited."""
    env = {
        "PATH": _DEFAULT_PATH,  # sdist builds may need a compiler from the usual places
        "HOME": str(home),  # so no user-level uv.toml or netrc of the server is read
        "LANG": "C.UTF-8",
        "UV_CACHE_DIR": str(cache_dir),
        "UV_NO_CONFIG": "1",
        "UV_PYTHON_DOWNLOADS": "never",
        "UV_NO_PROGRESS": "1",
        "NO_COLOR": "1",
        # A private index usually sits behind the host's CA store, not uv's bundled one.
        "UV_SYSTEM_CERTS": "1",
        "UV_NATIVE_TLS": "1",
    }
    env.update(options.network_env)
    # Index URLs may carry credentials: the environment is private to the process, the
    # command line is readable by every user through /proc.
    if options.index_url:
        env["UV_INDEX_URL"] = options.index_url
    if options.extra_index_urls:
        env["UV_EXTRA_INDEX_URL"] = " ".join(options.extra_index_urls)
    return env


def index_args(options: BuildOptions, target: Target) -> list[str]:
    """Arguments every resolve and install shares."""
    args = ["--no-config", "--python", str(target.python)]
    for link in options.find_links:
        args += ["--find-links", link]
    if options.no_index:
        args.append("--no-index")
    return args


@dataclass(frozen=True)
class UvResult:
    stdout: str
    output: str  # the tail of everything uv wrote to stderr


async def run_uv(
    args: Sequence[str],
    *,
    env: dict[str, str],
    cwd: Path,
    timeout_s: float,
    log: LogFn | None,
    stdin: bytes = b"",
    what: str,
) -> UvResult:
    """Run `uv <args>`, raising `EnvironmentBuildFailed` unless it succeeds.

    `what` names the step in error messages ("resolving requirements").
    """
    proc = await asyncio.create_subprocess_exec(
        uv_bin(),
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
        cwd=cwd,
        start_new_session=True,  # its own process group, so a kill reaches build backends
        limit=_STREAM_LIMIT,
    )
    tail: deque[str] = deque(maxlen=_TAIL_LINES)
    try:
        async with asyncio.timeout(timeout_s):
            stdout, _ = await asyncio.gather(
                _feed_and_read(proc, stdin), _stream_lines(proc.stderr, tail, log)
            )
            code = await proc.wait()
    except TimeoutError:
        raise EnvironmentBuildFailed(
            f"{what} timed out after {timeout_s:g}s; uv was stopped",
            cause=BuildCause.TIMEOUT,
            output="\n".join(tail),
        ) from None
    finally:
        await _kill_group(proc)
    output = "\n".join(tail)
    if code != 0:
        raise build_failure(what, output)
    return UvResult(stdout=stdout.decode(errors="replace"), output=output)


async def _feed_and_read(proc: asyncio.subprocess.Process, data: bytes) -> bytes:
    assert proc.stdin is not None and proc.stdout is not None
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        proc.stdin.write(data)
        await proc.stdin.drain()
    proc.stdin.close()
    return await proc.stdout.read()


async def _stream_lines(
    stream: asyncio.StreamReader | None, tail: deque[str], log: LogFn | None
) -> None:
    assert stream is not None
    async for raw in stream:
        line = raw.decode(errors="replace").rstrip("\r\n")[:_MAX_LINE]
        tail.append(line)
        if log is not None:
            log(line)


async def _kill_group(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    # Shielded so that a cancelled caller still reaps the child instead of leaving a zombie.
    await asyncio.shield(proc.wait())


# Checked in order: a failed sdist build mentions a missing backend package as
# "not found", and that is still a build failure, not an unknown package.
_CAUSES: tuple[tuple[BuildCause, tuple[str, ...], str], ...] = (
    (
        BuildCause.SDIST_BUILD_FAILED,
        ("Failed to build", "Failed to download and build", "build backend"),
        "a source distribution failed to build",
    ),
    (BuildCause.HASH_MISMATCH, ("Hash mismatch",), "a downloaded file does not match the lock"),
    (
        BuildCause.PACKAGE_NOT_FOUND,
        ("was not found in the package registry", "was not found in the provided package"),
        "a required package does not exist on the configured index",
    ),
    (
        BuildCause.NO_SOLUTION,
        ("No solution found",),
        "no set of versions satisfies the requirements (a version conflict)",
    ),
    (
        BuildCause.INVALID_REQUIREMENT,
        ("Couldn't parse", "Failed to parse"),
        "a requirement line is not valid",
    ),
    (
        BuildCause.DOWNLOAD_FAILED,
        ("Failed to fetch", "Failed to download", "Request failed"),
        "a package could not be downloaded",
    ),
)


def build_failure(what: str, output: str) -> EnvironmentBuildFailed:
    """An error whose message says the cause in words, followed by uv's own error text."""
    cause, summary = BuildCause.UV_ERROR, "uv failed"
    for candidate, needles, text in _CAUSES:
        if any(needle in output for needle in needles):
            cause, summary = candidate, text
            break
    detail = _error_text(output)
    return EnvironmentBuildFailed(
        f"{what} failed: {summary}\n{detail}".rstrip(), cause=cause, output=detail
    )


def _error_text(output: str) -> str:
    """uv's output from its first `error:` line on; progress lines before it are noise."""
    lines = output.splitlines()
    for index, line in enumerate(lines):
        if line.startswith("error:"):
            return "\n".join(lines[index:])
    return output
