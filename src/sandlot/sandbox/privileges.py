"""Identity and privilege: host uid switch, rlimits, capabilities, no_new_privs, dumpability.

Standard library only (imported by the launcher); each call acts on the calling process.
"""

from __future__ import annotations

import errno
import os
import resource

from sandlot.sandbox import _libc

_MB = 1024 * 1024
_SIGKILL = 9  # a literal: `signal` (with `enum`) costs the launcher ~5 ms to import


def become_host_user(uid: int, gid: int) -> None:
    """Root only: switch to an unprivileged host uid/gid, with no supplementary groups.

    The uid change clears all capabilities and makes the process non-dumpable, which would make
    its /proc/self files root-owned; it is made dumpable again so it can write its own id maps.
    """
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
    set_dumpable(True)


def set_dumpable(value: bool) -> None:
    _libc.prctl(_libc.PR_SET_DUMPABLE, int(value))


def set_rlimits(*, open_files: int, file_size_mb: int) -> None:
    """No core dumps (they could fill /tmp or leak memory), a cap on file size and open files."""
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    fsize = file_size_mb * _MB
    resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
    resource.setrlimit(resource.RLIMIT_NOFILE, (open_files, open_files))


def _last_cap() -> int:
    try:
        with open("/proc/sys/kernel/cap_last_cap") as fh:
            return int(fh.read())
    except OSError:
        return 63


def drop_capabilities() -> None:
    """Empty the bounding, ambient, effective, permitted and inheritable sets.

    The bounding set goes first: dropping from it needs CAP_SETPCAP, which capset then removes.
    """
    _libc.prctl(_libc.PR_CAP_AMBIENT, _libc.PR_CAP_AMBIENT_CLEAR_ALL)
    for cap in range(_last_cap() + 1):
        try:
            _libc.prctl(_libc.PR_CAPBSET_DROP, cap)
        except OSError as exc:
            if exc.errno != errno.EINVAL:  # EINVAL: a capability this kernel does not know
                raise
    _libc.capset_empty()


def set_no_new_privs() -> None:
    """No setuid/file-capability gains across execve; also what seccomp and Landlock require."""
    _libc.prctl(_libc.PR_SET_NO_NEW_PRIVS, 1)


def no_new_privs_is_set() -> bool:
    return _libc.prctl(_libc.PR_GET_NO_NEW_PRIVS) == 1


def die_with_parent() -> None:
    """SIGKILL this process when its parent dies. Cleared by credential changes: call it last."""
    _libc.prctl(_libc.PR_SET_PDEATHSIG, _SIGKILL)
