"""A runc container started per call: the container-start baseline.

Same function, same root as a Sandlot instance: a read-only root holding only /usr (and the
/bin, /lib... links), the base Python runtime, the function's code and its packages, all
bound read-only at their host paths; a tmpfs /tmp; runc's default namespaces (pid, network,
ipc, uts, mount), capabilities and device rules; a memory and pids limit. Each call is one
`runc run`, timed from here until the container's Python printed its result and runc
tore the container down.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

from bench.baselines.fresh_python import FLAGS, call_script, time_runs
from bench.procs import BASE_PYTHON
from bench.workload import Workload

SYSTEM_LINKS = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")


def unavailable() -> str | None:
    """Why runc cannot be used here, or None. Installs it from apt when missing (we are root)."""
    if shutil.which("runc") is None:
        if os.geteuid() != 0 or shutil.which("apt-get") is None:
            return "runc is not installed and cannot be installed (needs root and apt-get)"
        print("bench: installing runc from apt (apt-get install -y runc)...", file=sys.stderr)
        for argv in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "runc"]):
            done = subprocess.run(argv, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                return f"`{' '.join(argv)}` failed: {done.stderr.strip()[-300:]}"
    if os.geteuid() != 0:
        return "runc needs root here (rootless runc would measure a different container start)"
    return None


def _bind(path: str, extra: tuple[str, ...] = ()) -> dict[str, Any]:
    return {
        "destination": path,
        "type": "bind",
        "source": os.path.realpath(path),
        "options": ["rbind", "ro", "nosuid", "nodev", *extra],
    }


def _config(argv: list[str], cwd: str, ro_paths: list[str]) -> dict[str, Any]:
    mounts: list[dict[str, Any]] = [
        {"destination": "/proc", "type": "proc", "source": "proc"},
        {
            "destination": "/dev",
            "type": "tmpfs",
            "source": "tmpfs",
            "options": ["nosuid", "strictatime", "mode=755", "size=65536k"],
        },
        {
            "destination": "/tmp",
            "type": "tmpfs",
            "source": "tmpfs",
            "options": ["nosuid", "nodev", "mode=1777", "size=65536k"],
        },
        _bind("/usr"),
    ]
    if os.path.exists("/etc/ld.so.cache"):
        mounts.append(_bind("/etc/ld.so.cache"))
    mounts += [_bind(path) for path in ro_paths]
    caps = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
    return {
        "ociVersion": "1.0.2-dev",
        "process": {
            "terminal": False,
            "user": {"uid": 0, "gid": 0},
            "args": argv,
            "env": ["PATH=/usr/bin:/bin", "LANG=C.UTF-8"],
            "cwd": cwd,
            "capabilities": {k: caps for k in ("bounding", "effective", "permitted")},
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": True,
        },
        "root": {"path": "rootfs", "readonly": True},
        "hostname": "sandbox",
        "mounts": mounts,
        "linux": {
            "resources": {
                "devices": [{"allow": False, "access": "rwm"}],
                "memory": {"limit": 256 * 1024 * 1024},
                "pids": {"limit": 64},
            },
            "namespaces": [{"type": t} for t in ("pid", "network", "ipc", "uts", "mount")],
            "maskedPaths": ["/proc/kcore", "/proc/keys", "/proc/timer_list", "/sys/firmware"],
            "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys"],
        },
    }


def make_bundle(workload: Workload, deps: Path | None, parent: Path) -> Path:
    bundle = Path(tempfile.mkdtemp(prefix=f"runc-{workload.name}-", dir=parent))
    rootfs = bundle / "rootfs"
    rootfs.mkdir()
    for name in SYSTEM_LINKS:
        host = Path("/") / name
        if host.is_symlink():
            (rootfs / name).symlink_to(os.readlink(host))
        elif host.is_dir():
            return _fail(bundle, f"/{name} is a directory here; the bundle expects merged /usr")
    ro_paths = [sys.base_prefix, str(workload.folder)] + ([str(deps)] if deps else [])
    for path in ["/usr", "/etc/ld.so.cache", *ro_paths]:
        target = rootfs / path.lstrip("/")
        if os.path.isdir(path):
            target.mkdir(parents=True, exist_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.touch()
    (rootfs / "proc").mkdir()
    (rootfs / "dev").mkdir()
    (rootfs / "tmp").mkdir()
    argv = [BASE_PYTHON, *FLAGS, "-c", call_script(workload, deps)]
    config = _config(argv, str(workload.folder), ro_paths)
    (bundle / "config.json").write_text(json.dumps(config, indent=1))
    return bundle


def _fail(bundle: Path, why: str) -> Path:
    shutil.rmtree(bundle, ignore_errors=True)
    raise RuntimeError(why)


def per_call(workload: Workload, deps: Path | None, samples: int, work_dir: Path) -> list[float]:
    """Milliseconds per `runc run` of the workload; raises RuntimeError with runc's reason."""
    bundle = make_bundle(workload, deps, work_dir)
    try:
        # A fresh container id per call: `runc run` creates, starts, waits and deletes it.
        ids = iter(f"sandlot-bench-{uuid.uuid4().hex[:12]}" for _ in range(samples))
        argv = ["runc", "run", "--bundle", str(bundle)]
        times: list[float] = []
        for _ in range(samples):
            times += time_runs([*argv, next(ids)], 1, bundle, timeout_s=60)
        return times
    finally:
        shutil.rmtree(bundle, ignore_errors=True)
