"""A minimal read-only root for one process, entered with pivot_root.

What the new root holds, and nothing else of the host:
- `/usr` (the dynamic loader and system libraries), with `/lib`, `/bin`... as on the host
  (symlinks on a merged-/usr system, read-only binds otherwise);
- every path of `ro_paths`, bound read-only at the same path;
- every mount of `mounts` at its own target: a read-only bind, or a read-only tmpfs holding a
  copy of the source (so that not even /proc/self/mountinfo names the host path);
- a synthetic `/etc`: `ld.so.cache`, `localtime`, and generated passwd/group/hosts/nsswitch.conf
  (never the host's shadow, passwd or resolver setup);
- a size-capped tmpfs `/tmp`;
- `/dev` with only null, zero, random and urandom (plus the usual /proc/self/fd symlinks);
- a fresh `/proc` of the caller's pid namespace, with /proc/sys read-only.

Call after unshare(CLONE_NEWNS) (and after joining the pid namespace, for /proc).
Standard library only: runs in the launcher.
"""

from __future__ import annotations

import os

from sandlot.sandbox import _libc
from sandlot.sandbox._libc import (
    MNT_DETACH,
    MS_BIND,
    MS_NOATIME,
    MS_NODEV,
    MS_NODIRATIME,
    MS_NOEXEC,
    MS_NOSUID,
    MS_PRIVATE,
    MS_RDONLY,
    MS_REC,
    MS_RELATIME,
    MS_REMOUNT,
)

TYPE_CHECKING = False  # not typing's: the launcher avoids importing typing/collections (~5 ms)
if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

SYSTEM_LINKS = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")
DEVICES = ("null", "zero", "random", "urandom")
_ST_FLAG_TO_MS = {  # os.statvfs f_flag bits -> mount flags
    os.ST_NOSUID: MS_NOSUID,
    os.ST_NODEV: MS_NODEV,
    os.ST_NOEXEC: MS_NOEXEC,
    os.ST_NOATIME: MS_NOATIME,
    os.ST_NODIRATIME: MS_NODIRATIME,
    os.ST_RELATIME: MS_RELATIME,
}


def _inherited_flags(path: str) -> int:
    """Flags a remount must repeat: in a user namespace, nosuid/nodev/noexec/atime are locked."""
    f_flag = os.statvfs(path).f_flag
    return sum(ms for st, ms in _ST_FLAG_TO_MS.items() if f_flag & st)


def bind(source: str, target: str, *, read_only: bool = True, extra: int = MS_NOSUID) -> None:
    """Bind `source` on `target`, then remount it with `extra` (and read-only).

    Not recursive (no MS_REC): submounts of a source stay hidden rather than appear writable,
    because a remount changes only the top mount.
    """
    _libc.mount(source, target, None, MS_BIND)
    flags = MS_REMOUNT | MS_BIND | extra | _inherited_flags(target)
    _libc.mount(None, target, None, flags | (MS_RDONLY if read_only else 0))


def _make_mountpoint(root: str, path: str, is_dir: bool) -> str:
    target = root + path
    if is_dir:
        os.makedirs(target, mode=0o755, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), mode=0o755, exist_ok=True)
        if not os.path.lexists(target):
            os.close(os.open(target, os.O_CREAT | os.O_WRONLY, 0o644))
    return target


def _bind_system(root: str) -> None:
    bind("/usr", _make_mountpoint(root, "/usr", True), extra=MS_NOSUID | MS_NODEV)
    for name in SYSTEM_LINKS:
        host = f"/{name}"
        if os.path.islink(host):
            os.symlink(os.readlink(host), f"{root}{host}")
        elif os.path.isdir(host):
            bind(host, _make_mountpoint(root, host, True), extra=MS_NOSUID | MS_NODEV)


def _write(path: str, text: str) -> None:
    with open(path, "w") as fh:
        fh.write(text)


def _populate_etc(root: str, inner_id: int, nameserver: str | None = None) -> None:
    etc = f"{root}/etc"
    os.makedirs(etc, mode=0o755, exist_ok=True)
    _write(
        f"{etc}/passwd",
        f"root:x:0:0::/:/usr/sbin/nologin\nsandbox:x:{inner_id}:{inner_id}::/tmp:/usr/sbin/nologin\n",
    )
    _write(f"{etc}/group", f"root:x:0:\nsandbox:x:{inner_id}:\n")
    _write(f"{etc}/hosts", "127.0.0.1 localhost sandbox\n::1 localhost ip6-localhost\n")
    hosts = "files dns" if nameserver else "files"
    _write(f"{etc}/nsswitch.conf", f"passwd: files\ngroup: files\nhosts: {hosts}\n")
    if nameserver:  # Sandlot's resolver for this version (egress_dns), and no other
        _write(f"{etc}/resolv.conf", f"nameserver {nameserver}\noptions attempts:2 timeout:2\n")
    if os.path.exists("/etc/ld.so.cache"):
        bind("/etc/ld.so.cache", _make_mountpoint(root, "/etc/ld.so.cache", False))
    if os.path.islink("/etc/localtime"):  # points into /usr/share/zoneinfo, which is visible
        os.symlink(os.readlink("/etc/localtime"), f"{etc}/localtime")


def _populate_dev(root: str) -> None:
    dev = f"{root}/dev"
    os.makedirs(dev, mode=0o755, exist_ok=True)
    for name in DEVICES:
        # Devices keep dev semantics (no MS_NODEV) and stay writable (/dev/null).
        bind(
            f"/dev/{name}",
            _make_mountpoint(root, f"/dev/{name}", False),
            read_only=False,
            extra=MS_NOSUID | MS_NOEXEC,
        )
    os.symlink("/proc/self/fd", f"{dev}/fd")
    for number, name in enumerate(("stdin", "stdout", "stderr")):
        os.symlink(f"/proc/self/fd/{number}", f"{dev}/{name}")


def _mount_proc(root: str) -> None:
    proc = _make_mountpoint(root, "/proc", True)
    _libc.mount("proc", proc, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    for sub in ("sys", "sysrq-trigger"):  # host-wide knobs; the pid namespace does not scope them
        path = f"{proc}/{sub}"
        if os.path.exists(path):
            bind(path, path, extra=MS_NOSUID | MS_NODEV | MS_NOEXEC)


def _bind_ro_paths(root: str, ro_paths: Iterable[str]) -> None:
    # Parents before children, so that a nested path is mounted on top of its parent's bind.
    for path in sorted({os.path.normpath(p) for p in ro_paths}, key=lambda p: p.count("/")):
        if not os.path.isabs(path):
            raise ValueError(f"ro_path must be absolute: {path}")
        target = _make_mountpoint(root, path, os.path.isdir(path))
        bind(os.path.realpath(path), target, extra=MS_NOSUID | MS_NODEV)


_PAGE = 4096
_COPY_SLACK = 64 * 1024  # directories' own entries, rounding


def _tree_bytes(source: str) -> int:
    """What a tmpfs needs to hold a copy of `source`: each file rounded up to whole pages."""
    total = _COPY_SLACK
    for entry in os.scandir(source):
        if entry.is_dir(follow_symlinks=False):
            total += _PAGE + _tree_bytes(entry.path)
        elif entry.is_file(follow_symlinks=False):
            total += -(-entry.stat(follow_symlinks=False).st_size // _PAGE) * _PAGE
    return total


def _copy_tree(source: str, target: str) -> None:
    """Copy a directory tree: files (sendfile, no userspace buffer), directories, symlinks.

    Written here rather than with shutil: the launcher runs on every start and keeps its
    imports to the few C-backed modules it needs. Modes are normalised so that the sandbox's
    uid can read everything (executables stay executable); other file types are skipped.
    """
    for entry in os.scandir(source):
        dest = f"{target}/{entry.name}"
        if entry.is_symlink():
            os.symlink(os.readlink(entry.path), dest)
        elif entry.is_dir(follow_symlinks=False):
            os.mkdir(dest, 0o755)
            _copy_tree(entry.path, dest)
        elif entry.is_file(follow_symlinks=False):
            mode = 0o755 if entry.stat(follow_symlinks=False).st_mode & 0o111 else 0o644
            src_fd = os.open(entry.path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
            try:
                dst_fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode)
                try:
                    size, offset = os.fstat(src_fd).st_size, 0
                    while offset < size:
                        sent = os.sendfile(dst_fd, src_fd, offset, size - offset)
                        if sent == 0:  # the file shrank meanwhile
                            break
                        offset += sent
                finally:
                    os.close(dst_fd)
            finally:
                os.close(src_fd)


def _copy_mount(source: str, target: str) -> None:
    size = _tree_bytes(source)
    _libc.mount("sandlot-copy", target, "tmpfs", MS_NOSUID | MS_NODEV, f"size={size},mode=0755")
    _copy_tree(source, target)
    flags = MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV
    _libc.mount(None, target, None, flags | _inherited_flags(target))


def _place_mounts(root: str, mounts: Iterable[Sequence[object]]) -> None:
    # Parents before children, as in _bind_ro_paths; a target is an in-sandbox path.
    for source, target, copy in sorted(mounts, key=lambda m: str(m[1]).count("/")):
        host, inside = os.path.realpath(str(source)), os.path.normpath(str(target))
        if not os.path.isabs(inside) or not os.path.isabs(host):
            raise ValueError(f"mount paths must be absolute: {source} -> {target}")
        if copy:
            if not os.path.isdir(host):
                raise ValueError(f"only a directory can be copied: {source}")
            _copy_mount(host, _make_mountpoint(root, inside, True))
        else:
            point = _make_mountpoint(root, inside, os.path.isdir(host))
            bind(host, point, extra=MS_NOSUID | MS_NODEV)


def build_and_enter(
    root: str,
    ro_paths: Sequence[str],
    *,
    mounts: Sequence[Sequence[object]] = (),
    tmp_mb: int,
    inner_id: int,
    mount_proc: bool = True,
    nameserver: str | None = None,
) -> None:
    """Build the new root on the empty directory `root` and pivot_root into it."""
    # Private first: nothing we mount may propagate back to the host, and pivot_root requires it.
    _libc.mount(None, "/", None, MS_REC | MS_PRIVATE)
    _libc.mount("sandlot-root", root, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=0755")
    _bind_system(root)
    _populate_etc(root, inner_id, nameserver)
    _populate_dev(root)
    tmp = _make_mountpoint(root, "/tmp", True)  # noqa: S108 - inside the new root
    _libc.mount("sandlot-tmp", tmp, "tmpfs", MS_NOSUID | MS_NODEV, f"size={tmp_mb}m,mode=1777")
    if mount_proc:
        _mount_proc(root)
    # Where each instance forked from a zygote mounts its own file secrets, if it has any.
    _make_mountpoint(root, "/run/secrets", True)
    _bind_ro_paths(root, ro_paths)  # after /tmp: code may live under the host's /tmp
    _place_mounts(root, mounts)
    _libc.mount(None, root, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
    # pivot_root(".", ".") stacks the old root on top of the new one; detaching it leaves only
    # the new root, with no directory needed to hold the old one.
    os.chdir(root)
    _libc.pivot_root(".", ".")
    _libc.umount2(".", MNT_DETACH)
    os.chdir("/")
