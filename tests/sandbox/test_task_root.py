"""Where a sandboxed function finds its code: Lambda's /var/task, and no host path of Sandlot's.

Through the real pool and sandbox, with and without zygotes: the handler reports what a
function can see of paths (its module's `__file__`, `sys.path`, the working directory, the
mount tables, /tmp, a traceback) and reads files shipped beside it; none of it may name the
test's data, code, environment or run directories, nor Sandlot's package.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

import sandlot
from sandlot.config import Settings
from sandlot.domain.states import InvocationState
from sandlot.sandbox.plain import PlainStarter
from sandlot.sandbox.spec import Mount
from sandlot.sandbox.starter import SandboxStarter
from sandlot.worker.interface import VersionSpec
from sandlot.worker.launcher import Interpreter
from sandlot.worker.layout import DEPS_ROOT, LANG_ROOT, RUNTIME_DIR, TASK_ROOT
from sandlot.worker.pool import RuntimePool
from tests.conftest import SANDBOX_UID_BASE
from tests.sandbox.conftest import make_spec, write_script
from tests.worker.helpers import FunctionFactory

SEEN = """
import os, sys, traceback

import tinydep

def handler(event, context):
    if event == "raise":
        tinydep.fail()
    try:
        tinydep.fail()
    except ValueError:
        caught = traceback.format_exc()
    with open("data.txt") as relative, open(os.path.join(os.getcwd(), "conf", "a.json")) as nested:
        files = [relative.read(), nested.read()]
    with open("/proc/self/mounts") as mounts, open("/proc/self/mountinfo") as mountinfo:
        tables = {"mounts": mounts.read(), "mountinfo": mountinfo.read()}
    return {
        "file": __file__,
        "dep_file": tinydep.__file__,
        "path": sys.path,
        "cwd": os.getcwd(),
        "tmp": os.listdir("/tmp"),
        "traceback": caught,
        "files": files,
        "bootstrap": sys.modules["__main__"].__file__,
        "prefix": sys.prefix,
        "executable": sys.executable,
        "stdlib": os.__file__,
        **tables,
    }
"""

TINYDEP = """
def fail():
    raise ValueError("from a dependency")
"""

PACKAGE_DIR = str(Path(sandlot.__file__).resolve().parent)


@pytest.fixture(params=[True, False], ids=["zygotes", "no-zygotes"])
async def pool(
    request: pytest.FixtureRequest, sandbox_supported: None, tmp_path: Path
) -> AsyncIterator[RuntimePool]:
    settings = Settings(data_dir=tmp_path / "data", zygotes=request.param)
    starter = SandboxStarter(tmp_path / "run", uid_base=SANDBOX_UID_BASE)
    runtime = RuntimePool(starter, settings)
    await runtime.start()
    try:
        yield runtime
    finally:
        await runtime.close(grace_s=0)


def shipped(tmp_path: Path) -> VersionSpec:
    """A handler with files beside it and one dependency, in host directories of the test."""
    spec = FunctionFactory(tmp_path / "functions")(SEEN)
    (spec.code_dir / "data.txt").write_text("beside the handler")
    (spec.code_dir / "conf").mkdir()
    (spec.code_dir / "conf" / "a.json").write_text('{"nested": true}')
    deps = tmp_path / "envs" / "env1" / "site-packages"
    (deps / "tinydep").mkdir(parents=True)
    (deps / "tinydep" / "__init__.py").write_text(TINYDEP)
    return dataclasses.replace(spec, site_packages=(deps,))


async def seen(pool: RuntimePool, spec: VersionSpec) -> dict[str, Any]:
    outcome = await pool.invoke(spec, "look", b"null")
    assert outcome.state is InvocationState.SUCCEEDED, outcome.error
    assert outcome.result_json is not None
    value = json.loads(outcome.result_json)
    assert isinstance(value, dict)
    return value


def host_paths(tmp_path: Path) -> list[str]:
    # tmp_path holds the data dir, the code, the environment and the run dir of this test.
    return [str(tmp_path), str(tmp_path.resolve()), PACKAGE_DIR]


def mountinfo_roots(text: str) -> dict[str, str]:
    """Mount point -> the 4th field: the path of the mount's root inside its file system."""
    return {line.split()[4]: line.split()[3] for line in text.splitlines()}


async def test_code_is_at_var_task_and_no_host_path_shows(
    pool: RuntimePool, tmp_path: Path
) -> None:
    spec = shipped(tmp_path)
    got = await seen(pool, spec)
    assert got["file"] == f"{TASK_ROOT}/main.py"
    assert got["dep_file"] == f"{DEPS_ROOT}/tinydep/__init__.py"
    assert got["bootstrap"].startswith(f"{RUNTIME_DIR}/")
    assert got["cwd"] == TASK_ROOT
    assert got["path"][:2] == [TASK_ROOT, DEPS_ROOT]
    assert got["files"] == ["beside the handler", '{"nested": true}']
    assert got["tmp"] == []  # nothing of the host is bound below /tmp any more
    assert f'File "{DEPS_ROOT}/tinydep/__init__.py"' in got["traceback"]
    assert f'File "{TASK_ROOT}/main.py"' in got["traceback"]
    python = Interpreter.of_server()
    if python.movable:  # a prefix of its own (pyenv, /opt): shown at /var/lang, as on Lambda
        assert got["prefix"] == LANG_ROOT
        assert got["executable"] == python.executable_inside()
        assert got["stdlib"].startswith(f"{LANG_ROOT}/lib/")
        assert str(python.prefix) not in json.dumps(got["path"]) + got["mounts"]
    else:  # the system's interpreter under /usr, visible at its own path in every sandbox
        assert got["prefix"] == str(python.prefix)

    roots = mountinfo_roots(got["mountinfo"])
    assert not [point for point in roots if point.startswith("/tmp/")]
    # Copies (tmpfs): their root in their own file system is "/", no host path.
    assert roots[TASK_ROOT] == "/" and roots[RUNTIME_DIR] == "/"
    # The environment is a bind (too large to copy): its host path inside its file system is
    # the one thing mountinfo still names (and the interpreter's, which is not Sandlot's).
    env_line = [line for line in got["mountinfo"].splitlines() if line.split()[4] == DEPS_ROOT]
    assert len(env_line) == 1
    mountinfo = got["mountinfo"].replace(env_line[0], "")
    texts = {
        "sys.path": json.dumps(got["path"]),
        "mounts": got["mounts"],
        "mountinfo": mountinfo,
        "traceback": got["traceback"],
        "files": json.dumps([got["file"], got["dep_file"], got["bootstrap"], got["cwd"]]),
    }
    for name, text in texts.items():
        for host in host_paths(tmp_path):
            assert host not in text, (name, host, text)


async def test_a_function_error_traceback_names_only_sandbox_paths(
    pool: RuntimePool, tmp_path: Path
) -> None:
    spec = shipped(tmp_path)
    outcome = await pool.invoke(spec, "err", b'"raise"')
    assert outcome.state is InvocationState.FAILED
    assert outcome.error is not None and outcome.error.traceback is not None
    text = outcome.error.traceback
    assert f'File "{TASK_ROOT}/main.py", line' in text
    assert f'File "{DEPS_ROOT}/tinydep/__init__.py", line' in text
    assert RUNTIME_DIR not in text  # the bootstrap's own frames are dropped
    for host in host_paths(tmp_path):
        assert host not in text


async def test_several_dependency_paths_go_to_numbered_places_in_order(
    pool: RuntimePool, tmp_path: Path
) -> None:
    spec = shipped(tmp_path)
    first = tmp_path / "envs" / "extra"
    first.mkdir(parents=True)
    (first / "tinydep.py").write_text("def fail():\n    raise ValueError('shadowing')\n")
    spec = dataclasses.replace(spec, site_packages=(first, *spec.site_packages))
    got = await seen(pool, spec)
    assert got["path"][:3] == [TASK_ROOT, f"{DEPS_ROOT}/1", f"{DEPS_ROOT}/2"]
    assert got["dep_file"] == f"{DEPS_ROOT}/1/tinydep.py"  # the first path wins, as on the host


async def test_insecure_dev_keeps_the_host_code_dir(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    runtime = RuntimePool(PlainStarter(), settings)
    await runtime.start()
    try:
        spec = shipped(tmp_path)
        got = await seen(runtime, spec)
    finally:
        await runtime.close(grace_s=0)
    code_dir = str(spec.code_dir.resolve())
    assert got["file"] == f"{code_dir}/main.py"
    assert got["cwd"] == code_dir
    assert got["path"][:2] == [code_dir, str(spec.site_packages[0])]
    assert got["files"] == ["beside the handler", '{"nested": true}']


COPY_PROBE = """
import json, os, stat

def attempt(fn):
    try:
        fn()
        return "ok"
    except OSError as exc:
        return type(exc).__name__

tree = "/var/task"
print(json.dumps({
    "listing": sorted(os.listdir(tree)),
    "nested": open(f"{tree}/sub/deep.txt").read(),
    "link": os.readlink(f"{tree}/link"),
    "tool_executable": bool(os.stat(f"{tree}/tool.sh").st_mode & stat.S_IXUSR),
    "write": attempt(lambda: open(f"{tree}/new.txt", "w")),
    "bound": sorted(os.listdir("/opt/python")),
}))
"""


async def test_a_copied_tree_keeps_files_links_and_modes_and_is_read_only(
    starter: SandboxStarter, tmp_path: Path
) -> None:
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "sub" / "deep.txt").write_text("deep")
    (tree / "tool.sh").write_text("#!/bin/sh\n")
    (tree / "tool.sh").chmod(0o700)  # owner-only on the host: readable to the sandbox's uid
    (tree / "link").symlink_to("sub/deep.txt")
    bound = tmp_path / "bound"
    bound.mkdir()
    (bound / "dep.py").write_text("")
    script = write_script(tmp_path, COPY_PROBE)
    out_path = tmp_path / "out"
    with out_path.open("wb") as out:
        spec = dataclasses.replace(
            make_spec(script, stdout_fd=out.fileno(), stderr_fd=out.fileno()),
            mounts=[Mount(tree, TASK_ROOT, copy=True), Mount(bound, DEPS_ROOT)],
        )
        handle = await starter.start(spec)
    try:
        assert (await handle.wait()).returncode == 0, out_path.read_text()
    finally:
        await handle.cleanup()
    assert json.loads(out_path.read_text()) == {
        "listing": ["link", "sub", "tool.sh"],
        "nested": "deep",
        "link": "sub/deep.txt",
        "tool_executable": True,
        "write": "OSError",
        "bound": ["dep.py"],
    }
