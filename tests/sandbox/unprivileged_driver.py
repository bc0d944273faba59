"""Run as an unprivileged user by test_unprivileged.py: start sandboxes, print what held.

Usage: python unprivileged_driver.py WORK_DIR SRC_DIR SITE_PACKAGES. Prints one JSON object.
The system interpreter runs it (the venv's base interpreter lives under /root, which `nobody`
cannot enter, and so may the checkout), with readable copies of this project's sources and
the venv's site-packages (tests/readable.py) on sys.path.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
import textwrap
from pathlib import Path

work, src, site = (Path(arg) for arg in sys.argv[1:4])
sys.path[:0] = [str(src), str(site)]

from sandlot.sandbox.probe import probe_host  # noqa: E402
from sandlot.sandbox.spec import ProcessSpec, SandboxLimits  # noqa: E402
from sandlot.sandbox.starter import SandboxStarter  # noqa: E402

SCRIPT = """
import ctypes, errno, json, os, socket, sys, time
libc = ctypes.CDLL(None, use_errno=True)

def attempt(fn):
    try:
        fn()
        return "ok"
    except OSError as exc:
        return errno.errorcode.get(exc.errno, str(exc))

result = {
    "uid": os.getuid(),
    "pid": os.getpid(),
    "read_shadow": attempt(lambda: open("/etc/shadow").read()),
    "read_outside": attempt(lambda: open(sys.argv[1]).read()),
    "write_usr": attempt(lambda: open("/usr/evil", "w")),
    "write_tmp": attempt(lambda: open("/tmp/ok", "w").write("x")),
    "connect_host": attempt(lambda: socket.create_connection(("127.0.0.1", int(sys.argv[2])), 5)),
    "unshare": "ok" if libc.unshare(0x10000000) == 0 else errno.errorcode[ctypes.get_errno()],
    "no_new_privs": open("/proc/self/status").read().split("NoNewPrivs:")[1].split()[0],
}
if os.fork() == 0:
    os.setsid()
    time.sleep(600)
os.close(4)
os.write(3, json.dumps(result).encode())
time.sleep(600)
"""


async def main() -> dict[str, object]:
    code = work / "code"
    code.mkdir()
    (code / "main.py").write_text(textwrap.dedent(SCRIPT))
    outside = work / "outside.txt"
    outside.write_text("secret")
    outside.chmod(0o600)
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    starter = SandboxStarter(work / "run", require_cgroups=False)
    control, control_child = socket.socketpair()
    alive, alive_child = socket.socketpair()
    spec = ProcessSpec(
        name="unpriv",
        group="g",
        argv=[
            sys.executable,
            "-I",
            "-S",
            str(code / "main.py"),
            str(outside),
            str(server.getsockname()[1]),
        ],
        env={},
        cwd=code,
        ro_paths=[code],
        limits=SandboxLimits(memory_mb=128),
        pass_fds={3: control_child.fileno(), 4: alive_child.fileno()},
    )
    handle = await starter.start(spec)
    control_child.close()
    alive_child.close()
    inside = json.loads(control.recv(65536))
    handle.kill()
    exit_info = await handle.wait()
    alive.settimeout(30)
    survivors = alive.recv(1) != b""
    await handle.cleanup()
    await starter.close()
    layers = {r.name: r.available for r in probe_host()}
    return {
        "host_uid": os.geteuid(),
        "has_cgroups": starter.has_cgroups,
        "inside": inside,
        "exit_signal": exit_info.signal,
        "survivors": survivors,
        "layers": layers,
    }


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main())))
