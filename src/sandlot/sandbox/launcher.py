"""The trusted launcher: turns a LaunchPlan into a sandboxed process. Runs as `python -I -S`.

Why a separate process: the server is multi-threaded (asyncio plus threads) and must not fork
itself, while user namespaces need a single-threaded caller. The server only fork+execs this
launcher (no Python runs between fork and exec there) and hands it a plan on an inherited memfd.

Process chain, and why each step is where it is:

    server --exec--> launcher (L): host namespaces, outside the cgroup
                       joins the group's user ns (unprivileged only), unshare(CLONE_NEWPID)
                     fork
                       init (C): pid 1 of the new pid namespace
                         joins the cgroups, setns into the group's netns, unshare mount/ipc/uts/
                         cgroup; builds the root (binds, and tmpfs copies for `plan.mounts`
                         that ask for one) and pivot_roots (as real root when the server is
                         root: host files are read with root's rights, which a user namespace
                         would not have); becomes the group's host uid inside a new user
                         namespace; rlimits, no capabilities, no_new_privs, Landlock,
                         seccomp last
                       fork
                         target (T): file descriptors in place, chdir, execve(spec.argv)

A zygote (`plan.keep_orphans`) forks the instances of its version in this pid namespace; C
then lives on after T exits, until the last of them has, so that a zygote's death never takes
running instances with it. The server watches the zygote through its control socket, and
killing the zygote's handle (its cgroup holds C) still ends the whole namespace.

L dies with the server (a parent-death signal), and C with L, so a crash of the server takes
the whole namespace with it.

C stays as a tiny init: it reaps orphans (a Python target as pid 1 would not, and zombies
count against the pids limit), and when T exits C exits, which makes the kernel kill whatever
else is left in the namespace (setsid'd and double-forked children included). L stays in the
host namespaces to report T's exit to the server as its own (exit code or signal), to kill C
on SIGTERM, and on cgroup v1 to emulate memory.oom.group: it kills C when the OOM killer fires,
since v1 kills only one task of the group.

Setup errors travel to the server as text on the CLOEXEC status pipe; EOF without text means
the target was exec'd.
"""

from __future__ import annotations

import fcntl
import os
import resource
import select
import struct
import sys

from sandlot.sandbox import landlock, namespaces, privileges, rootfs, seccomp
from sandlot.sandbox.plan import LaunchPlan, read_plan

# Every import here is paid on each start: typing, contextlib, traceback, dataclasses, json
# and signal (through enum) together cost ~25 ms under -I -S, so they are avoided or imported
# only on error paths. `_signal` is the C module that `signal` wraps with enums.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import FrameType
    from typing import Any, NoReturn

_signal: Any = __import__("_signal")
SIGHUP, SIGINT, SIGKILL, SIGPIPE, SIGTERM, SIGXFSZ = 1, 2, 9, 13, 15, 25

EXIT_SETUP_FAILED = 125
EXIT_EXEC_FAILED = 127
_STATUS = struct.Struct("i")


def _fail(status_fd: int, stage: str, exc: BaseException) -> NoReturn:
    message = f"{stage}: {type(exc).__name__}: {exc}"
    if not isinstance(exc, OSError):
        import traceback

        message += "\n" + "".join(traceback.format_exception(exc))
    try:  # noqa: SIM105 - no contextlib here, see the imports
        os.write(status_fd, message.encode()[:4000])
    except OSError:
        pass
    os._exit(EXIT_EXEC_FAILED if stage == "exec" else EXIT_SETUP_FAILED)


def _watch_oom(oom_control: str | None) -> int | None:
    """v1 only: an eventfd that becomes readable when the OOM killer acts in the cgroup."""
    if oom_control is None:
        return None
    efd = os.eventfd(0, os.EFD_CLOEXEC)
    control = os.open(oom_control, os.O_RDONLY | os.O_CLOEXEC)
    event_control = os.path.join(os.path.dirname(oom_control), "cgroup.event_control")
    with open(event_control, "w") as fh:
        fh.write(f"{efd} {control}")
    os.close(control)
    return efd


def _inherited_fds(plan: LaunchPlan) -> set[int]:
    fds = {plan.netns_fd, *plan.fd_map.values()}
    return fds | ({plan.userns_fd} if plan.userns_fd is not None else set())


def _close(fds: set[int]) -> None:
    for fd in fds:
        try:  # noqa: SIM105
            os.close(fd)
        except OSError:
            pass


def system_paths() -> list[str]:
    """What Landlock lets a sandboxed process read besides its ro_paths."""
    system = ["/usr", "/etc", "/proc", "/dev"]  # /dev holds only the four devices
    return system + [f"/{name}" for name in rootfs.SYSTEM_LINKS]


def _enter_sandbox(plan: LaunchPlan) -> None:
    """Runs in C, in this order; see the module docstring."""
    for procs in plan.cgroup_procs:
        with open(procs, "w") as fh:
            fh.write("0")
    namespaces.join(plan.netns_fd, namespaces.CLONE_NEWNET)
    namespaces.unshare(
        namespaces.CLONE_NEWNS
        | namespaces.CLONE_NEWIPC
        | namespaces.CLONE_NEWUTS
        | namespaces.CLONE_NEWCGROUP
    )
    namespaces.set_hostname(plan.hostname)
    rootfs.build_and_enter(
        plan.root_dir,
        plan.ro_paths,
        mounts=plan.mounts,
        tmp_mb=plan.tmp_mb,
        inner_id=plan.inner_id,
        nameserver=plan.nameserver,
    )
    if plan.host_id is not None:
        privileges.become_host_user(plan.host_id, plan.host_id)
        namespaces.enter_new_user_namespace(plan.inner_id)
    privileges.set_rlimits(open_files=plan.open_files, file_size_mb=plan.file_size_mb)
    privileges.drop_capabilities()
    privileges.set_no_new_privs()
    if plan.landlock and landlock.abi_version() > 0:
        system = system_paths()
        landlock.restrict(
            read_exec=[*plan.ro_paths, *(target for _, target, _ in plan.mounts), *system],
            read_write=["/tmp", "/dev/null"],  # noqa: S108 - the sandbox's own /tmp
            files=plan.landlock_files,
            connect_ports=plan.connect_ports,
        )
    privileges.set_dumpable(False)  # C keeps its setup state; nobody may ptrace or read it
    if plan.seccomp_bpf:
        seccomp.install_bpf(plan.seccomp_program)


def _place_fds(plan: LaunchPlan) -> int:
    """Put each inherited fd at its number for the target; close every other fd.

    Sources and the status fd first move above every target number, so that placing one
    target cannot overwrite a source or the status pipe. Returns the status fd's new number.
    """
    floor = max([*plan.fd_map.keys(), 2]) + 1
    status = fcntl.fcntl(plan.status_fd, fcntl.F_DUPFD_CLOEXEC, floor)
    moved = {t: fcntl.fcntl(s, fcntl.F_DUPFD_CLOEXEC, floor) for t, s in plan.fd_map.items()}
    for target, source in moved.items():
        os.dup2(source, target)  # dup2 leaves the target inheritable
    keep = sorted({0, 1, 2, status, *plan.fd_map.keys()})
    for low, high in zip(
        keep, [*keep[1:], resource.getrlimit(resource.RLIMIT_NOFILE)[1]], strict=True
    ):
        if high > low + 1:
            os.closerange(low + 1, high)
    return status


def _exec_target(plan: LaunchPlan) -> NoReturn:
    status = plan.status_fd
    try:
        # Python ignores these; an ignored disposition would survive execve into the target.
        for sig in (SIGPIPE, SIGXFSZ):
            _signal.signal(sig, _signal.SIG_DFL)
        status = _place_fds(plan)
        os.chdir(plan.cwd)
        os.execve(plan.argv[0], plan.argv, plan.env)  # noqa: S606 - the whole point
    except BaseException as exc:
        _fail(status, "exec", exc)


def _run_init(plan: LaunchPlan, result_w: int, lifeline_r: int) -> NoReturn:
    """C: build the sandbox, start T, reap until T exits, report T's status to L."""
    # pid 1 ignores signals it has no handler for; Python's SIGINT handler would let T raise
    # KeyboardInterrupt in its init.
    _signal.signal(SIGINT, _signal.SIG_DFL)
    try:
        _enter_sandbox(plan)
        privileges.die_with_parent()  # after the last credential change, which clears it
        os.set_blocking(lifeline_r, False)
        try:
            if os.read(lifeline_r, 1) == b"":  # L died before we asked to die with it
                os._exit(EXIT_SETUP_FAILED)
        except BlockingIOError:
            pass  # L is alive
        target = os.fork()
    except BaseException as exc:
        _fail(plan.status_fd, "sandbox", exc)
    if target == 0:
        _exec_target(plan)
    _close({plan.status_fd, *_inherited_fds(plan)})
    while True:
        try:
            pid, status = os.waitpid(-1, 0)
        except ChildProcessError:  # keep_orphans: the zygote and all it forked are gone
            os._exit(0)
        if pid == target:
            os.write(result_w, _STATUS.pack(status))
            if not plan.keep_orphans:
                os._exit(0)


def _mirror(status: int) -> NoReturn:
    """Exit the way T did, so that the server's view of this launcher is T's exit."""
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        try:  # noqa: SIM105
            _signal.signal(sig, _signal.SIG_DFL)
        except (OSError, ValueError, RuntimeError):
            pass  # SIGKILL/SIGSTOP cannot be set, and need not be
        _signal.pthread_sigmask(_signal.SIG_UNBLOCK, [sig])
        os.kill(os.getpid(), sig)
        os._exit(128 + sig)
    os._exit(os.waitstatus_to_exitcode(status))


def _supervise(init_pid: int, result_r: int, oom_fd: int | None) -> None:
    def kill_init(_signum: int, _frame: FrameType | None) -> None:
        try:  # noqa: SIM105
            os.kill(init_pid, SIGKILL)
        except ProcessLookupError:
            pass

    for sig in (SIGTERM, SIGINT, SIGHUP):
        _signal.signal(sig, kill_init)
    pidfd = os.pidfd_open(init_pid)
    watched = [pidfd] if oom_fd is None else [pidfd, oom_fd]
    while True:
        ready, _, _ = select.select(watched, [], [])
        if oom_fd is not None and oom_fd in ready:
            kill_init(SIGKILL, None)
            watched.remove(oom_fd)
        if pidfd in ready:
            break
    _, init_status = os.waitpid(init_pid, 0)
    raw = os.read(result_r, _STATUS.size)
    _mirror(_STATUS.unpack(raw)[0] if len(raw) == _STATUS.size else init_status)


def _die_with_server(server_pid: int) -> None:
    """SIGKILL L when the server dies (kill -9 included); C dies with L, and with C every
    process of the pid namespace, setsid'd and double-forked ones and a zygote's instances
    alike. After the user namespace join, a credential change that would clear it.

    The kernel sends it when the *thread* that forked L exits: the starter forks launchers
    only on its event loop's thread, which outlives every process the starter started.
    """
    privileges.die_with_parent()
    if os.getppid() != server_pid:  # the server died before that took effect
        os._exit(EXIT_SETUP_FAILED)


def run(plan_fd: int) -> None:
    """L: read the plan, prepare the pid namespace, fork C, then supervise it."""
    plan = read_plan(plan_fd)
    os.set_inheritable(plan.status_fd, False)
    try:
        oom_fd = _watch_oom(plan.oom_control)
        if plan.userns_fd is not None:  # unprivileged: the capabilities to unshare come from it
            namespaces.join(plan.userns_fd, namespaces.CLONE_NEWUSER)
        namespaces.unshare(namespaces.CLONE_NEWPID)
        _die_with_server(plan.parent_pid)
        result_r, result_w = os.pipe()
        lifeline_r, lifeline_w = os.pipe()
        init_pid = os.fork()
    except BaseException as exc:
        _fail(plan.status_fd, "launcher", exc)
    if init_pid == 0:
        os.close(result_r)
        os.close(lifeline_w)
        _run_init(plan, result_w, lifeline_r)
    os.close(result_w)
    os.close(lifeline_r)
    _close({plan.status_fd, *_inherited_fds(plan)})
    _supervise(init_pid, result_r, oom_fd)


def main(argv: list[str]) -> None:
    mode = argv[0] if argv else ""
    if mode == "run":
        run(int(argv[1]))
    elif mode == "hold":
        from sandlot.sandbox import groupns

        groupns.hold(int(argv[1]))
    elif mode == "probe":
        from sandlot.sandbox import probe_checks

        probe_checks.main()
    else:
        sys.exit(f"usage: launcher run PLAN_FD | hold SOCK_FD | probe (got {argv!r})")
