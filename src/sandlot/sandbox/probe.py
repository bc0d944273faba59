"""What this host provides of the sandbox, found by trying each layer for real.

`probe_host()` runs the namespace, mount, privilege, seccomp and Landlock checks in a
throwaway launcher process (which forks once per check: the server never forks itself), and
the cgroup checks here by creating and removing a real cgroup under the server's own. Strict
mode refuses to run functions while `required_missing()` is not empty; `sandlot doctor`
renders the list (`LayerResult.as_dict()` or `render_text()`).
"""

from __future__ import annotations

import functools
import json
import os
import secrets
import subprocess
from dataclasses import asdict, dataclass

from sandlot.sandbox.cgroups import CgroupTree, CgroupUnavailable
from sandlot.sandbox.spec import DEFAULT_UID_BASE, UID_COUNT, SandboxLimits

# Layers the sandbox cannot do without. Landlock is defence in depth over the read-only root
# and the network namespace (and absent before Linux 5.13); a distinct host uid needs root.
REQUIRED = {
    "user_namespace": True,
    "pid_namespace": True,
    "mount_namespace": True,
    "ipc_namespace": True,
    "uts_namespace": True,
    "net_namespace": True,
    "cgroup_namespace": False,
    "pivot_root": True,
    "no_new_privs": True,
    "capabilities": True,
    "seccomp": True,
    "landlock": False,
    "cgroup_memory": True,
    "cgroup_pids": True,
    "cgroup_cpu": True,
    "cgroup_no_swap": False,
    "distinct_uid": False,
}
_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class LayerResult:
    name: str
    available: bool
    required: bool
    detail: str

    @property
    def status(self) -> str:
        if self.available:
            return "ok"
        return "MISSING" if self.required else "missing (optional)"

    def as_dict(self) -> dict[str, object]:
        return {**asdict(self), "status": self.status}


def _result(name: str, available: bool, detail: str) -> LayerResult:
    return LayerResult(name, available, REQUIRED.get(name, False), detail)


def _seccomp_program() -> tuple[str, str]:
    """(hex BPF, error): compiled in this process, as the starter does."""
    try:
        from sandlot.sandbox.seccomp import compile_bpf

        return compile_bpf().hex(), ""
    except (ImportError, OSError) as exc:
        return "", f"{type(exc).__name__}: {exc}"


def _child_checks() -> list[LayerResult]:
    from sandlot.sandbox.starter import launcher_command

    program, error = _seccomp_program()
    try:
        proc = subprocess.run(
            [*launcher_command(), "probe"],
            input=program.encode(),
            capture_output=True,
            timeout=_TIMEOUT_S,
            env={},
            cwd="/",
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return [
            _result(n, False, f"probe process failed: {exc}")
            for n in REQUIRED
            if n.endswith("namespace")
        ]
    results = []
    for line in proc.stdout.decode(errors="replace").splitlines():
        item = json.loads(line)
        detail = (
            item["detail"]
            if item["available"] or item["name"] != "seccomp"
            else error or item["detail"]
        )
        results.append(_result(item["name"], bool(item["available"]), detail))
    if proc.returncode != 0:
        results.append(_result("probe", False, proc.stderr.decode(errors="replace")[-2000:]))
    return results


def _cgroup_checks() -> list[LayerResult]:
    names = ("cgroup_memory", "cgroup_pids", "cgroup_cpu")
    try:
        tree = CgroupTree.create(f"probe-{os.getpid()}-{secrets.token_hex(3)}")
    except (CgroupUnavailable, OSError) as exc:
        why = str(exc)
        if os.geteuid() != 0:
            why += " (unprivileged, and this cgroup is not delegated to this user)"
        return [_result(n, False, why) for n in (*names, "cgroup_no_swap")]
    try:
        # Nothing runs in it: the smallest CPU quota, which any parent's quota allows (a
        # worker held to a fraction of a CPU probes below its own cgroup; v1 refuses more).
        cgroup = tree.new("probe", SandboxLimits(memory_mb=64, pids=8, cpus=0.01))
    except OSError as exc:
        tree.remove()
        return [
            _result(n, False, f"cannot create or limit a cgroup: {exc}")
            for n in (*names, "cgroup_no_swap")
        ]
    where = {key: str(path) for key, path in cgroup.dirs.items()}
    no_swap = any(
        (path / f).exists()
        for path in cgroup.dirs.values()
        for f in ("memory.memsw.limit_in_bytes", "memory.swap.max")
    )
    cgroup.remove()
    tree.remove()
    results = [_result(n, True, f"cgroup v{tree.version}: {where}") for n in names]
    swap_detail = (
        "memsw/swap.max set to the memory limit"
        if no_swap
        else "no swap accounting (memsw/swap.max absent)"
    )
    return [*results, _result("cgroup_no_swap", no_swap, swap_detail)]


def _uid_check(uid_base: int, uid_count: int) -> LayerResult:
    if os.geteuid() == 0:
        last = uid_base + uid_count - 1
        detail = f"root: each group runs as its own host uid ({uid_base} to {last})"
        return _result("distinct_uid", True, detail)
    return _result("distinct_uid", False, "unprivileged: only the server's own uid can be mapped")


def probe_host(
    *, uid_base: int = DEFAULT_UID_BASE, uid_count: int = UID_COUNT
) -> list[LayerResult]:
    """Try every layer; takes ~0.1-0.3 s. Safe to call from the server (it never forks).

    `uid_base` and `uid_count` are the starter's (`Settings.sandbox_uid_base`), so that what
    the report says of uids is what the server does.
    """
    return [*_child_checks(), *_cgroup_checks(), _uid_check(uid_base, uid_count)]


def required_missing(results: list[LayerResult]) -> list[LayerResult]:
    return [r for r in results if r.required and not r.available]


def render_text(results: list[LayerResult]) -> str:
    width = max(len(r.name) for r in results)
    return "\n".join(f"{r.name:<{width}}  {r.status:<18}  {r.detail}" for r in results)


@functools.cache
def sandbox_support() -> tuple[bool, str]:
    """(supported, why not): for test fixtures and `make_starter`; probed once per process."""
    missing = required_missing(probe_host())
    if not missing:
        return True, ""
    return False, "; ".join(f"{r.name}: {r.detail}" for r in missing)
