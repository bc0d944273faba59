"""What a starter leaves behind if its server dies, and how the next run ends it.

A crash of the server takes its function processes with it where the kernel allows (each
launcher dies with the server, see `launcher.py`), but processes can outlive it (still
exiting, or stopped where SIGKILL waits), and its cgroup directories always do. The next
server on the same data dir must end all that before it hands the same sandbox uids to
other functions, and it must leave alone what belongs to other servers on the host, which
may share the uid range (test runs do) and always share the `sandlot/` cgroup directory.

So a starter writes down what it owns in its run dir as it makes it (`OwnershipRecord`):
its cgroup tree, and each host uid when it hands it out. At the next start
`end_previous_run` kills every process inside one of the recorded trees, and every process
running as a recorded uid that sits in no Sandlot starter's tree at all; a process in
another starter's tree is never touched, whatever its uid. It waits for them to go and
removes the trees; what will not go yet is handed back, so that the starter keeps those
uids out of use and `CgroupSweeper` removes the directories once their last member is gone.

Written by hand: this is Sandlot's own bookkeeping of its own kernel objects.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from sandlot.sandbox.cgroups import Cgroup, CgroupTree, sweep_stale_trees

log = logging.getLogger(__name__)

TREE_PREFIX = "starter-"
_END_TIMEOUT_S = 5.0
_POLL_S = 0.01


@dataclass
class Owned:
    """What one run of a starter owned: its cgroup trees and the host uids it handed out."""

    trees: list[CgroupTree] = field(default_factory=list)
    uids: set[int] = field(default_factory=set)

    def __bool__(self) -> bool:
        return bool(self.trees or self.uids)


class OwnershipRecord:
    """An append-only file of `tree <version> <key>=<path>,...` and `uid <n>` lines.

    One `write()` per line on an O_APPEND descriptor: a crash loses nothing the kernel was
    given, and at worst leaves a torn last line, which `previous()` skips.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd = -1

    def previous(self) -> Owned:
        """What the last run wrote (nothing if it closed cleanly or never ran)."""
        owned = Owned()
        try:
            text = self.path.read_text(errors="replace")
        except FileNotFoundError:
            return owned
        for line in text.splitlines():
            kind, _, rest = line.partition(" ")
            with contextlib.suppress(ValueError):
                if kind == "uid":
                    owned.uids.add(int(rest))
                elif kind == "tree":
                    owned.trees.append(_parse_tree(rest))
        return owned

    def begin(self, carried: Owned) -> None:
        """Start this run's record with what the last run left that is not gone yet."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND | os.O_CLOEXEC
        self._fd = os.open(self.path, flags, 0o600)
        for tree in carried.trees:
            self.add_tree(tree)
        for uid in sorted(carried.uids):
            self.add_uid(uid)

    def add_tree(self, tree: CgroupTree) -> None:
        bases = ",".join(f"{key}={path}" for key, path in tree.bases.items())
        self._append(f"tree {tree.version} {bases}")

    def add_uid(self, uid: int) -> None:
        self._append(f"uid {uid}")

    def _append(self, line: str) -> None:
        if self._fd >= 0:
            os.write(self._fd, f"{line}\n".encode())

    def close(self, *, everything_gone: bool) -> None:
        """Stop recording; the file goes only when nothing it names is left on the host."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        if everything_gone:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()


def _parse_tree(text: str) -> CgroupTree:
    version, _, bases = text.partition(" ")
    pairs = (item.partition("=") for item in bases.split(","))
    return CgroupTree(int(version), {key: Path(path) for key, _, path in pairs if path})


def end_previous_run(owned: Owned, timeout_s: float = _END_TIMEOUT_S) -> Owned:
    """Kill what `owned` covers, wait (up to `timeout_s`) for it to go, remove its trees.

    Returns what is still there: trees not yet removable, and uids still held by a live
    process. Blocking; runs before the starter hands out any uid.
    """
    if not owned:
        return Owned()
    names = {tree_name for tree in owned.trees for tree_name in _names(tree)}
    deadline = time.monotonic() + timeout_s
    killed: set[int] = set()
    while True:
        survivors = _processes_of(names, owned.uids)
        for pid in survivors:
            if pid not in killed:
                log.warning("killing pid %d, left by the last run on this data dir", pid)
            _kill(pid, names, owned.uids)
        killed.update(survivors)
        if not survivors or time.monotonic() > deadline:
            break
        time.sleep(_POLL_S)  # SIGKILLed processes leave on their own time; nothing to wait on
    held = {uid for pid in survivors if (uid := _identity(pid)[0]) is not None}
    left = [tree for tree in owned.trees if not _remove_tree(tree)]
    if held or left:
        log.warning(
            "the last run on this data dir left processes that will not die yet: "
            "their uids %s stay unused and their cgroups %s are swept later",
            sorted(held),
            [str(path) for tree in left for path in tree.bases.values()],
        )
    return Owned(left, held & owned.uids)


def _names(tree: CgroupTree) -> set[str]:
    return {base.name for base in tree.bases.values()}


def _identity(pid: int) -> tuple[int | None, str | None]:
    """(the process's real uid, the starter tree it is in), or (None, None) if it is gone
    or a zombie (a zombie holds no uid and no cgroup)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        cgroups = Path(f"/proc/{pid}/cgroup").read_text()
    except OSError:
        return None, None
    lines = (line.partition(":") for line in status.splitlines())
    fields = {key: value.split() for key, _, value in lines}
    if fields.get("State", ["Z"])[0] == "Z" or not fields.get("Uid"):
        return None, None
    return int(fields["Uid"][0]), _starter_tree(cgroups)


def _starter_tree(proc_cgroup: str) -> str | None:
    """The `starter-*` tree a process is in, from /proc/<pid>/cgroup, if any."""
    for line in proc_cgroup.splitlines():
        parts = line.split(":", 2)[-1].split("/")
        for parent, part in itertools.pairwise(parts):
            if parent == "sandlot" and part.startswith(TREE_PREFIX):
                return part
    return None


def _is_leftover(pid: int, names: set[str], uids: set[int]) -> bool:
    uid, tree = _identity(pid)
    if tree is not None:
        return tree in names  # another starter's process is never ours, whatever its uid
    return uid is not None and uid in uids


def _processes_of(names: set[str], uids: set[int]) -> list[int]:
    me = os.getpid()
    pids = (int(entry) for entry in os.listdir("/proc") if entry.isdigit())
    return [pid for pid in pids if pid != me and _is_leftover(pid, names, uids)]


def _kill(pid: int, names: set[str], uids: set[int]) -> None:
    """SIGKILL through a pidfd, checked again once it is open, so a reused pid is spared."""
    try:
        pidfd = os.pidfd_open(pid)
    except (ProcessLookupError, PermissionError):
        return
    try:
        if _is_leftover(pid, names, uids):
            signal.pidfd_send_signal(pidfd, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    finally:
        os.close(pidfd)


def _remove_tree(tree: CgroupTree) -> bool:
    """Kill the tree's members once more, remove what is empty; True when all is gone."""
    for cgroup in tree.children():
        cgroup.kill()
        cgroup.remove()
    tree.remove()
    return not tree.exists()


class CgroupSweeper:
    """Removes cgroup directories that could not go when they should have: the last run's,
    still busy at start, and this run's own, whose members outlived their cleanup. Also
    removes empty trees of other servers that have died. `run_once()` blocks (a v1 memory
    cgroup's rmdir may wait on the kernel): call it in a thread."""

    def __init__(self, trees: list[CgroupTree]) -> None:
        self._trees = list(trees)
        self._cgroups: list[Cgroup] = []
        self._lock = threading.Lock()  # `add` runs on the event loop, rounds in a thread

    def add(self, cgroup: Cgroup) -> None:
        with self._lock:
            self._cgroups.append(cgroup)

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._trees) + len(self._cgroups)

    def run_once(self) -> int:
        """One round; returns how many directories are still pending."""
        with self._lock:
            trees, cgroups = self._trees, self._cgroups
            self._trees, self._cgroups = [], []
        trees = [tree for tree in trees if not _remove_tree(tree)]
        cgroups = [cgroup for cgroup in cgroups if not _sweep(cgroup)]
        with self._lock:
            self._trees.extend(trees)
            self._cgroups.extend(cgroups)
        with contextlib.suppress(OSError):
            sweep_stale_trees(TREE_PREFIX)
        return self.pending


def _sweep(cgroup: Cgroup) -> bool:
    cgroup.kill()
    cgroup.remove()
    return not cgroup.exists()
