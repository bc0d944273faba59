"""The probe's child side: try each sandbox layer for real, each in a throwaway process.

Runs in the launcher (`launcher probe`), a fresh single-threaded process, and forks once per
check so that no check's namespaces, mounts or filters leak into the next. Reads the compiled
seccomp program (hex) on stdin; prints one JSON object per check: name, available, detail.
"""

from __future__ import annotations

import ctypes
import json
import os
import select
import sys
import tempfile
from collections.abc import Callable

from sandlot.sandbox import landlock, namespaces, privileges, rootfs, seccomp
from sandlot.sandbox.groupns import INNER_ID

_TIMEOUT_S = 5.0


def _as_user_if_needed(extra_flags: int) -> None:
    """Unprivileged, every other namespace needs a user namespace to own it."""
    if os.geteuid() == 0:
        namespaces.unshare(extra_flags)
    else:
        uid, gid = os.geteuid(), os.getegid()
        namespaces.unshare(namespaces.CLONE_NEWUSER | extra_flags)
        namespaces.write_id_maps(INNER_ID, uid, gid)


def check_user() -> str:
    host_uid = os.geteuid()
    namespaces.enter_new_user_namespace(INNER_ID)
    return f"uid {os.getuid()} inside maps to host uid {host_uid}"


def check_pid() -> str:
    _as_user_if_needed(namespaces.CLONE_NEWPID)
    child = os.fork()
    if child == 0:
        os._exit(0 if os.getpid() == 1 else 1)
    _, status = os.waitpid(child, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise OSError("the first child of the new pid namespace is not pid 1")
    return "first child is pid 1"


def _simple(flag: int, what: str) -> Callable[[], str]:
    def check() -> str:
        _as_user_if_needed(flag)
        return what

    return check


def check_net() -> str:
    _as_user_if_needed(namespaces.CLONE_NEWNET)
    namespaces.bring_loopback_up()
    return "new network namespace with loopback up"


def check_pivot_root() -> str:
    _as_user_if_needed(namespaces.CLONE_NEWPID)
    root = tempfile.mkdtemp(prefix="sandlot-probe-")
    child = os.fork()
    if child == 0:
        try:
            # The child's own mount namespace: pivot_root moves the root of every process in
            # the caller's mount namespace, which would include this check process.
            namespaces.unshare(namespaces.CLONE_NEWNS)
            rootfs.build_and_enter(root, [], tmp_mb=1, inner_id=INNER_ID)
            os._exit(0 if sorted(os.listdir("/dev")) and not os.path.exists("/home") else 1)
        except BaseException:
            os._exit(1)
    _, status = os.waitpid(child, 0)
    os.rmdir(root)
    if os.waitstatus_to_exitcode(status) != 0:
        raise OSError("building a read-only root and pivot_root into it failed")
    return "read-only root with /usr, /tmp tmpfs, minimal /dev and /proc"


def check_no_new_privs() -> str:
    privileges.set_no_new_privs()
    if not privileges.no_new_privs_is_set():
        raise OSError("PR_SET_NO_NEW_PRIVS did not stick")
    return "prctl(PR_SET_NO_NEW_PRIVS)"


def check_capabilities() -> str:
    if os.geteuid() != 0:
        namespaces.enter_new_user_namespace(INNER_ID)
    privileges.drop_capabilities()
    with open("/proc/self/status") as fh:
        caps = {
            k: v.strip() for k, _, v in (line.partition(":") for line in fh) if k.startswith("Cap")
        }
    if any(int(caps.get(k, "1"), 16) for k in ("CapEff", "CapPrm", "CapBnd", "CapAmb")):
        raise OSError(f"capabilities left: {caps}")
    return "effective, permitted, bounding and ambient sets emptied"


def check_seccomp(program_hex: str) -> Callable[[], str]:
    def check() -> str:
        if not program_hex:
            raise OSError("no policy: libseccomp (pyseccomp) is missing in the server")
        privileges.set_no_new_privs()
        seccomp.install_bpf(bytes.fromhex(program_hex))
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.unshare(0) == 0 or ctypes.get_errno() != 1:
            raise OSError("filter installed but unshare() was not denied with EPERM")
        return f"deny-list filter, {len(program_hex) // 16} BPF instructions"

    return check


def check_landlock() -> str:
    abi = landlock.abi_version()
    if abi < 1:
        raise OSError("Landlock is not available (kernel < 5.13 or not in the LSM list)")
    privileges.set_no_new_privs()
    landlock.restrict(read_exec=["/usr"], read_write=[])
    try:
        os.listdir("/etc")
    except PermissionError:
        scope = (
            ["files"]
            + (["tcp"] if abi >= 4 else [])
            + (["signal+unix scoping"] if abi >= 6 else [])
        )
        return f"ABI {abi}: {', '.join(scope)}"
    raise OSError("restricted, yet /etc was readable")


def _run_forked(check: Callable[[], str]) -> tuple[bool, str]:
    read_end, write_end = os.pipe()
    child = os.fork()
    if child == 0:
        os.close(read_end)
        try:
            detail, code = check(), 0
        except BaseException as exc:
            detail, code = f"{type(exc).__name__}: {exc}", 1
        os.write(write_end, detail.encode()[:2000])
        os._exit(code)
    os.close(write_end)
    ready, _, _ = select.select([read_end], [], [], _TIMEOUT_S)
    detail = os.read(read_end, 4000).decode(errors="replace") if ready else "timed out"
    os.close(read_end)
    if not ready:
        os.kill(child, 9)
    _, status = os.waitpid(child, 0)
    return os.waitstatus_to_exitcode(status) == 0, detail


def checks(program_hex: str) -> dict[str, Callable[[], str]]:
    return {
        "user_namespace": check_user,
        "pid_namespace": check_pid,
        "mount_namespace": _simple(namespaces.CLONE_NEWNS, "new mount namespace"),
        "ipc_namespace": _simple(namespaces.CLONE_NEWIPC, "new ipc namespace"),
        "uts_namespace": _simple(namespaces.CLONE_NEWUTS, "new uts namespace"),
        "cgroup_namespace": _simple(namespaces.CLONE_NEWCGROUP, "new cgroup namespace"),
        "net_namespace": check_net,
        "pivot_root": check_pivot_root,
        "no_new_privs": check_no_new_privs,
        "capabilities": check_capabilities,
        "seccomp": check_seccomp(program_hex),
        "landlock": check_landlock,
    }


def main() -> None:
    program_hex = sys.stdin.read().strip()
    for name, check in checks(program_hex).items():
        available, detail = _run_forked(check)
        print(json.dumps({"name": name, "available": available, "detail": detail}), flush=True)
