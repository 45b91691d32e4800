"""`exec`: run a new process in a running (or created) container.

The process is built like runc builds it: from `--process FILE` as it is, or
from the container's own process with the trailing args and the flags applied.
The C init joins every namespace of the container's init at once (setns on a
pidfd: no pid-reuse race), forks so that the pid namespace applies, joins the
container's cgroups, then runs the same credential and exec steps as the
container's init. It is a child of this pyrunc process, which waits for it
unless --detach.
"""
import copy
import os
import signal

from .caps import drop_ungrantable
from .cgroups import Cgroup, clone_into_cgroup_supported, sub_cgroup_dirs
from .errors import PyruncError
from .state import ContainerDir

NAMESPACE_FILES = ("user", "mnt", "pid", "ipc", "uts", "net", "cgroup", "time")
# Set by create for the init only (socket activation): never inherited by exec.
INIT_ONLY_ENV = ("LISTEN_FDS=", "LISTEN_PID=")


def build_process(base: dict, args: list[str], opts) -> dict:
    """The container's process with exec's args and flags (runc's exec without -p)."""
    if not args:
        raise PyruncError("exec: no command given (pass a command after the container id, "
                          "or --process FILE)")
    p = copy.deepcopy(base)
    p["args"] = list(args)
    p["terminal"] = bool(opts.tty)
    p.pop("consoleSize", None)
    p["env"] = [e for e in p.get("env", []) if not e.startswith(INIT_ONLY_ENV)] + list(opts.env)
    if opts.cwd:
        p["cwd"] = opts.cwd
    if opts.user:
        uid, _, gid = opts.user.partition(":")
        user = p.setdefault("user", {})
        user["uid"] = _id(uid, "--user", "uid")
        if gid:
            user["gid"] = _id(gid, "--user", "gid")
    if opts.additional_gids:
        p.setdefault("user", {})["additionalGids"] = [
            _id(g, "--additional-gids", "gid") for g in opts.additional_gids]
    if opts.cap:
        _add_caps(p, opts.cap)
    if opts.no_new_privs:
        p["noNewPrivileges"] = True
    from . import process_attrs
    if opts.apparmor:
        if not process_attrs.apparmor_enabled():
            raise PyruncError(f"--apparmor {opts.apparmor}: AppArmor is not enabled on this host")
        p["apparmorProfile"] = opts.apparmor
    if opts.process_label:
        if not process_attrs.selinux_enabled():
            raise PyruncError(f"--process-label {opts.process_label}: SELinux is not enabled "
                              "on this host")
        p["selinuxLabel"] = opts.process_label
    return p


def _id(text: str, flag: str, what: str) -> int:
    if not text.isdigit() or int(text) > 2**32 - 2:
        raise PyruncError(f"{flag} {text}: the {what} must be a number (0 to 4294967294)")
    return int(text)


def _add_caps(process: dict, names: list[str]) -> None:
    """--cap adds to the bounding, effective and permitted sets, and to the
    ambient set only when the process has inheritable ones (runc's rule)."""
    from . import caps
    caps_obj = process.setdefault("capabilities", {})
    for name in names:
        full = name.upper() if name.upper().startswith("CAP_") else "CAP_" + name.upper()
        if full not in caps.NUMBERS:
            raise PyruncError(f"--cap {name}: unknown capability")
        sets = ["bounding", "effective", "permitted"]
        if caps_obj.get("inheritable"):
            sets.append("ambient")
        for s in sets:
            if full not in caps_obj.setdefault(s, []):
                caps_obj[s].append(full)


def _namespace_flags(pid: int) -> int:
    """CLONE_NEW* of each namespace of pid that is not ours (setns refuses to
    re-enter our own user namespace; the others would be no-ops)."""
    from .plan import NAMESPACE_FLAGS
    names = {"mnt": "mount", "net": "network"}
    flags = 0
    for ns in NAMESPACE_FILES:
        try:
            theirs = os.stat(f"/proc/{pid}/ns/{ns}")
            ours = os.stat(f"/proc/self/ns/{ns}")
        except FileNotFoundError:
            continue  # a kernel without that namespace type
        except PermissionError:
            raise PyruncError(f"cannot enter the container: /proc/{pid}/ns is hidden from uid "
                              f"{os.geteuid()}, as the process is not dumpable (a rootless "
                              "init that shares a pid namespace is not, until it starts)") \
                from None
        if (theirs.st_dev, theirs.st_ino) != (ours.st_dev, ours.st_ino):
            flags |= NAMESPACE_FLAGS[names.get(ns, ns)]
    return flags


class Exec:
    """A process started in a container: pid, and the pty master if any."""

    def __init__(self, pid: int, console_fd: int | None):
        self.pid = pid
        self.console_fd = console_fd


def start_process(root: str, container_id: str, process: dict, preserve_fds: int = 0,
                  ignore_paused: bool = False, pointer: str = "/process",
                  foreground: bool = False, sub_cgroups: list[str] = ()) -> Exec:
    """Start the process in the container; returns once it has exec'd (an exec
    failure, e.g. a missing program, is raised with runc's message)."""
    from .container import _default_home, _listen_fds, compile_seccomp
    from .launcher import open_fds

    preserved = open_fds(3, preserve_fds)
    cdir = ContainerDir(root, container_id)
    # The lock keeps delete out until the process is in the container's
    # cgroups and namespaces, and no longer: in a paused container
    # (--ignore-paused) it stays frozen until a resume, which takes the lock.
    with cdir:
        st = cdir.load()
        status = cdir.status(st)
        if status == "stopped":
            raise PyruncError("cannot exec in a stopped container")
        if status == "paused" and not ignore_paused:
            raise PyruncError("cannot exec in a paused container (use --ignore-paused to override)")
        if status == "creating":
            raise PyruncError("cannot exec in a container that is being created")
        preserve_fds = _listen_fds({"process": process}, preserve_fds, preserved)
        _default_home(process, st["rootfs"])
        drop_ungrantable(process, pointer)
        compiled = compile_seccomp(st.get("seccomp"), root)  # the container's, as runc
        cgroups = sub_cgroup_dirs(st["cgroup"], list(sub_cgroups))
        init = spawn(cdir.path, st, process, preserve_fds, preserved, pointer,
                     seccomp=compiled, status=status, placed=cdir.unlock, cgroups=cgroups)
        if init.console_fd is not None and foreground:
            from .terminal import take_our_size
            take_our_size(init.console_fd)
        init.exec_now()
    return Exec(init.pid, init.console_fd)


def spawn(state_dir: str, st: dict, process: dict, preserve_fds: int = 0,
          preserved: list[int] = (), pointer: str = "/process", program: str | None = None,
          stdio: list[int] | None = None, seccomp=None, status: str = "running",
          placed=None, cgroups: dict | None = None):
    """Start the C init for a process in the container of state st and drive
    it up to just before execve (init.exec_now() lets it go). program: the
    file to execute when it is not args[0] (hooks); stdio: fds for 0, 1, 2;
    seccomp: a compiled filter to load (exec; hooks run without); status:
    the container's, for the seccomp listener; placed(): called once the
    process exists in the container's cgroups, before it is waited for;
    cgroups: the dirs to join, if not the container's (exec --cgroup)."""
    from .container import _open_placement_files, _pidfd, _send_notify_fd
    from .launcher import Init
    from . import plan
    from .caps import last_cap
    from .userns import setgroups_denied_in

    pidfd = _pidfd(st)
    files = [pidfd]
    try:
        cgroups = st["cgroup"] if cgroups is None else cgroups
        unified, tasks = Cgroup.from_dirs(cgroups).placement()
        parent_adds = []
        if unified and not clone_into_cgroup_supported():
            parent_adds, unified = [unified], None
        files += _open_placement_files(unified, tasks)
        numbers = Init.fd_numbers(preserve_fds, len(files))
        pid_number, numbers = numbers[0], numbers[1:]
        clone_fd = numbers.pop(0) if unified else None
        ctx = plan.PlanContext(bundle=st["bundle"], preserve_fds=preserve_fds,
                               cap_last_cap=last_cap(), clone_cgroup_fd=clone_fd,
                               cgroup_task_fds=list(zip(numbers, tasks)), seccomp=seccomp,
                               setgroups_denied=setgroups_denied_in(st["init_pid"]))
        ops = plan.build_exec(process, ctx, pid_number, _namespace_flags(st["init_pid"]),
                              pointer, program, st.get("personality"),
                              _memory_policy(st), st.get("process", {}).get("oomScoreAdj"))
        init = Init(ops, state_dir, preserve_fds, list(preserved), files, stdio)
    finally:
        for fd in files:
            os.close(fd)
    try:
        if parent_adds:
            Cgroup.from_dirs(cgroups).add(init.pid, parent_adds)
        if placed:
            placed()
        init.wait_ready(on_seccomp=lambda fd: _send_notify_fd(st["seccomp"], fd, st, init.pid,
                                                              status))
    except BaseException:
        init.kill()
        raise
    return init


def wait(pid: int, console_fd: int | None = None) -> int:
    """Wait for a process we started (exec'd, or a container's init), forwarding
    signals; its exit status (128+N for a signal) becomes ours. With a pty
    master, relay it to our own terminal meanwhile (runc's foreground mode)."""
    from .container import FORWARDED_SIGNALS, _forward
    # With a terminal the kernel tells the container of size changes when the
    # relay resizes the master: SIGWINCH is the relay's, not forwarded.
    forwarded = [s for s in FORWARDED_SIGNALS if not (console_fd is not None and
                                                      s == signal.SIGWINCH)]
    for sig in forwarded:
        signal.signal(sig, lambda s, _frame: _forward(pid, s))
    try:
        if console_fd is not None:
            from .terminal import relay
            pidfd = os.pidfd_open(pid)
            try:
                relay(console_fd, pidfd)
            finally:
                os.close(pidfd)
                os.close(console_fd)
        _, status = os.waitpid(pid, 0)
    finally:
        for sig in forwarded:
            signal.signal(sig, signal.SIG_DFL)
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code


def _memory_policy(st: dict):
    saved = st.get("memory_policy")
    return None if saved is None else (saved[0], bytes.fromhex(saved[1]))
