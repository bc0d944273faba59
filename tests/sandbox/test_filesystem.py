"""The minimal read-only root: what a sandboxed process can and cannot see, read and write."""

from __future__ import annotations

import json
from pathlib import Path

from sandlot.sandbox.spec import SandboxLimits
from sandlot.sandbox.starter import SandboxStarter

from .conftest import run_to_end

PROBE_PATHS = """
import json, os, sys

def attempt(fn):
    try:
        fn()
        return "ok"
    except OSError as exc:
        return type(exc).__name__

def read(path):
    return lambda: open(path, "rb").read()

def write(path):
    return lambda: open(path, "wb").write(b"x")

checks = {name: attempt(fn) for name, fn in {
    "read_shadow": read("/etc/shadow"),
    "read_root_bashrc": read("/root/.bashrc"),
    "list_root": lambda: os.listdir("/root"),
    "list_home": lambda: os.listdir("/home"),
    "read_outside": read(sys.argv[1]),
    "read_init_environ": read("/proc/1/environ"),
    "write_code_dir": write(os.path.join(os.path.dirname(__file__), "new.py")),
    "write_usr": write("/usr/evil"),
    "write_etc_passwd": write("/etc/passwd"),
    "write_root": write("/evil"),
    "write_tmp": write("/tmp/fine"),
    "read_ld_cache": read("/etc/ld.so.cache"),
    "read_own_code": read(__file__),
}.items()}
checks["dev"] = sorted(os.listdir("/dev"))
checks["char_devices"] = sorted(
    n for n in os.listdir("/dev") if os.path.isfile(f"/dev/{n}") is False
    and not os.path.islink(f"/dev/{n}") and os.stat(f"/dev/{n}").st_mode & 0o020000
)
checks["proc_pids"] = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
print(json.dumps(checks))
"""


async def test_host_files_are_invisible_and_the_root_is_read_only(
    starter: SandboxStarter, tmp_path: Path
) -> None:
    secret = tmp_path / "outside" / "secret.txt"
    secret.parent.mkdir()
    secret.write_text("host secret")
    outcome = await run_to_end(starter, tmp_path, PROBE_PATHS, args=(str(secret),))
    assert outcome.exit.returncode == 0, outcome.stderr
    checks = json.loads(outcome.stdout)
    for denied in (
        "read_shadow",
        "read_root_bashrc",
        "list_root",
        "list_home",
        "read_outside",
        "read_init_environ",
        "write_code_dir",
        "write_usr",
        "write_etc_passwd",
        "write_root",
    ):
        assert checks[denied] != "ok", denied
    assert checks["write_tmp"] == "ok"
    assert checks["read_ld_cache"] == "ok"
    assert checks["read_own_code"] == "ok"


async def test_dev_holds_only_four_devices_and_proc_only_our_pids(
    starter: SandboxStarter, tmp_path: Path
) -> None:
    outcome = await run_to_end(starter, tmp_path, PROBE_PATHS, args=("/nonexistent",))
    checks = json.loads(outcome.stdout)
    assert checks["char_devices"] == ["null", "random", "urandom", "zero"]
    assert set(checks["dev"]) <= {
        "null",
        "random",
        "urandom",
        "zero",
        "fd",
        "stdin",
        "stdout",
        "stderr",
    }
    assert checks["proc_pids"] == [1, 2]  # the namespace's init and the script


async def test_tmp_is_writable_but_capped(starter: SandboxStarter, tmp_path: Path) -> None:
    script = """
    import errno
    written = 0
    try:
        with open("/tmp/fill", "wb") as fh:
            while True:
                fh.write(b"x" * (1 << 20))
                fh.flush()
                written += 1
    except OSError as exc:
        print(errno.errorcode[exc.errno], written)
    """
    limits = SandboxLimits(memory_mb=256, tmp_mb=8)
    outcome = await run_to_end(starter, tmp_path, script, limits=limits)
    code, written = outcome.stdout.split()
    assert code == "ENOSPC"
    assert 0 < int(written) <= 8
