"""Per-instance layers that a child forked by a zygote applies to itself. Stdlib only.

The zygote is sandboxed before it imports anything of the function (namespaces, read-only
root, no capabilities, no_new_privs, seccomp, Landlock for TCP and scoping); a child inherits
all of that. What remains is what separates one instance of a version from another:

1. a private /tmp: unshare a user and a mount namespace (the zygote's seccomp filter allows
   exactly that pair) and mount a fresh size-capped tmpfs over /tmp. Mounts inherited from
   the zygote's namespace are locked there: they cannot be unmounted or made writable;
   Then, for a function that takes secrets as files, a tmpfs of its own on /run/secrets
   holding them (read-only to the function through the Landlock layer of step 3);
2. no capabilities, including those the new user namespace just gave;
3. a Landlock layer of its own for files (read beneath the read-only paths, write only in
   its /tmp) and for signals (no signal reaches the zygote or a sibling instance);
4. a seccomp filter that takes `unshare` and `mount` back.

The child's cgroup and rlimits are set from outside by the server (by host pid), not here.
This code is the sandbox's own and runs before any function code in the child; ctypes is
imported only by children that need it (a sandboxed zygote imports it once, before forking).
"""

from __future__ import annotations

import os
import stat

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_CLONE_NEWNS = 0x00020000
_CLONE_NEWUSER = 0x10000000
_MS_NOSUID, _MS_NODEV, _MS_BIND = 2, 4, 4096
_PR_CAPBSET_DROP = 24
_PR_SET_SECCOMP = 22
_PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL = 47, 4
_SECCOMP_MODE_FILTER = 2
_EINVAL = 22
_SYS_CREATE_RULESET, _SYS_ADD_RULE, _SYS_RESTRICT_SELF = 444, 445, 446
_RULE_PATH_BENEATH = 1
_READ_EXEC = 1 | 4 | 8  # EXECUTE | READ_FILE | READ_DIR
_FILE_ONLY = 1 | 2 | 4 | (1 << 14) | (1 << 15)  # rights that apply to a file, not a dir
_SCOPE_ALL = 1 | 2  # abstract unix sockets, signals
_CAPSET_V3 = 0x20080522


class Libc:
    """The few libc calls, and the ctypes types and buffers they take, made once in the
    zygote: a child then only reads them, and copies none of the pages that making them
    would write (each page a child writes to is copied from the zygote)."""

    def __init__(self) -> None:
        import ctypes

        self.ctypes = ctypes
        self.libc: Any = ctypes.CDLL(None, use_errno=True)
        self.libc.syscall.restype = ctypes.c_long
        ulong = ctypes.c_ulong
        self.libc.prctl.argtypes = [ctypes.c_int, ulong, ulong, ulong, ulong]
        self.u64x2: Any = ctypes.c_uint64 * 2
        self.u64x3: Any = ctypes.c_uint64 * 3
        self.u32x2: Any = ctypes.c_uint32 * 2
        self.u32x6: Any = ctypes.c_uint32 * 6
        self._filters: dict[str, tuple[Any, Any]] = {}

    def seccomp_program(self, program_hex: str) -> int:
        """The address of a `struct sock_fprog` for a BPF program (in hex, as the init
        message carries it), built on first use: `prepare` asks before the zygote forks."""
        if program_hex not in self._filters:
            ctypes = self.ctypes
            program = bytes.fromhex(program_hex)
            buffer = ctypes.create_string_buffer(program, len(program))
            # An unsigned short count, padding, then the filter's address.
            count = (len(program) // 8).to_bytes(2, "little") + bytes(6)
            address = ctypes.addressof(buffer).to_bytes(8, "little")
            self._filters[program_hex] = (buffer, ctypes.create_string_buffer(count + address))
        return int(self.ctypes.addressof(self._filters[program_hex][1]))

    def syscall(self, number: int, *args: Any) -> int:
        """Integers go as longs: syscall() is variadic, and an int would leave the upper half
        of its register undefined."""
        longs = [self.ctypes.c_long(a) if isinstance(a, int) else a for a in args]
        return int(self.libc.syscall(self.ctypes.c_long(number), *longs))

    def check(self, result: int, what: str) -> int:
        if result < 0:
            err = self.ctypes.get_errno()
            raise OSError(err, f"{what}: {os.strerror(err)}")
        return result


def _write(path: str, text: str) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def private_tmp(c: Libc, inner_id: int, tmp_mb: int, rebind: list[str]) -> None:
    """A fresh tmpfs on /tmp; read-only paths that lived below /tmp (code kept under the
    host's /tmp) are bound again on top of it, through fds opened before the mount hid them.
    The binds stay read-only: the kernel locks the flags of mounts from the zygote's view."""
    uid, gid = os.geteuid(), os.getegid()
    c.check(c.libc.unshare(_CLONE_NEWUSER | _CLONE_NEWNS), "unshare")
    _write("/proc/self/setgroups", "deny")
    _write("/proc/self/uid_map", f"{inner_id} {uid} 1\n")
    _write("/proc/self/gid_map", f"{inner_id} {gid} 1\n")
    # Opened in the new namespace: a bind's source must be one of its own mounts.
    held = [os.open(path, os.O_PATH | os.O_CLOEXEC) for path in rebind]
    options = f"size={tmp_mb}m,mode=1777".encode()
    flags = _MS_NOSUID | _MS_NODEV  # exactly what the zygote's seccomp filter allows
    c.check(c.libc.mount(b"sandlot-tmp", b"/tmp", b"tmpfs", flags, options), "mount /tmp")
    for path, fd in zip(rebind, held, strict=True):
        if os.path.isdir(f"/proc/self/fd/{fd}"):
            os.makedirs(path, exist_ok=True)
        else:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o644))
        source = f"/proc/self/fd/{fd}".encode()
        c.check(c.libc.mount(source, path.encode(), None, _MS_BIND, None), f"bind {path}")
        os.close(fd)


SECRETS_DIR = "/run/secrets"  # the sandbox's root has this mountpoint (sandbox/rootfs.py)


def secret_files(c: Libc, files: dict[str, str]) -> None:
    """The function's file secrets, on a tmpfs of this instance's own (in the mount namespace
    that `private_tmp` made, so no other instance sees them, and they never touch a disk).
    Read-only from here on: the Landlock layer below grants writes beneath /tmp only."""
    data = {name: value.encode() for name, value in files.items()}
    size_kb = sum(len(value) // 1024 + 4 for value in data.values()) + 16
    options = f"size={size_kb}k,mode=0755".encode()
    flags = _MS_NOSUID | _MS_NODEV
    c.check(
        c.libc.mount(b"sandlot-secrets", SECRETS_DIR.encode(), b"tmpfs", flags, options),
        "mount secrets",
    )
    for name, value in data.items():
        fd = os.open(f"{SECRETS_DIR}/{name}", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)
        try:
            os.write(fd, value)
        finally:
            os.close(fd)
    os.chmod(SECRETS_DIR, 0o555)  # noqa: S103 - read-only for all: only this instance sees it


def drop_capabilities(c: Libc) -> None:
    c.libc.prctl(_PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    for cap in range(64):
        if c.libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            if c.ctypes.get_errno() == _EINVAL:  # past the last capability this kernel knows
                break
            c.check(-1, "drop capability")
    header = c.u32x2(_CAPSET_V3, 0)
    data = c.u32x6()
    c.check(c.libc.capset(header, data), "capset")


def _landlock_abi(c: Libc) -> int:
    return max(c.syscall(_SYS_CREATE_RULESET, None, 0, 1), 0)


# The same rule as `sandlot.sandbox.landlock` adds in the launcher, written again on purpose:
# this module runs inside the sandbox, where the sandlot package is not mounted.
def _add_rule(c: Libc, ruleset: int, path: str, access: int) -> None:
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except FileNotFoundError:
        return
    try:
        if not stat.S_ISDIR(os.fstat(fd).st_mode):
            access &= _FILE_ONLY
        rule = c.u64x2()  # struct landlock_path_beneath_attr, packed: u64, s32
        c.ctypes.memmove(rule, access.to_bytes(8, "little") + fd.to_bytes(4, "little"), 12)
        c.check(c.syscall(_SYS_ADD_RULE, ruleset, _RULE_PATH_BENEATH, rule, 0), path)
    finally:
        os.close(fd)


def landlock(c: Libc, read_exec: list[str], read_write: list[str]) -> None:
    """A layer of file rules and scoping; net rules came with the zygote's own layer."""
    abi = _landlock_abi(c)
    if abi < 1:
        return
    handled = (1 << 13) - 1 | (1 << 13 if abi >= 2 else 0) | (1 << 14 if abi >= 3 else 0)
    handled |= 1 << 15 if abi >= 5 else 0
    scoped = _SCOPE_ALL if abi >= 6 else 0
    size = 24 if abi >= 6 else 8
    attr = c.u64x3(handled, 0, scoped)
    ruleset = c.check(c.syscall(_SYS_CREATE_RULESET, attr, size, 0), "landlock")
    try:
        for path in read_exec:
            _add_rule(c, ruleset, path, _READ_EXEC & handled)
        for path in read_write:
            _add_rule(c, ruleset, path, handled)
        c.check(c.syscall(_SYS_RESTRICT_SELF, ruleset, 0), "landlock_restrict_self")
    finally:
        os.close(ruleset)


def seccomp(c: Libc, program_hex: str) -> None:
    """Stack a filter (no_new_privs is inherited from the zygote)."""
    fprog = c.seccomp_program(program_hex)
    c.check(c.libc.prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, fprog, 0, 0), "seccomp")


def apply(c: Libc | None, layers: dict[str, Any]) -> None:
    """Everything above, in order; `layers` is the zygote's init message's `fork_layers`."""
    if c is None or not layers.get("private_tmp"):
        return
    private_tmp(c, layers["inner_id"], layers["tmp_mb"], layers.get("rebind") or [])
    files = layers.pop("secret_files", None)  # this child's copy of the zygote's memory
    if files:
        secret_files(c, files)
    read_exec = [*layers["read_exec"], SECRETS_DIR]  # empty, unless it has file secrets
    drop_capabilities(c)
    if layers.get("landlock"):
        landlock(c, read_exec, layers["read_write"])
    if layers.get("seccomp_bpf"):
        seccomp(c, layers["seccomp_bpf"])


def prepare(c: Libc | None, layers: dict[str, Any]) -> None:
    """In the zygote, before it forks: build what `apply` only reads in each child."""
    if c is not None and layers.get("seccomp_bpf"):
        c.seccomp_program(layers["seccomp_bpf"])
