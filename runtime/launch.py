"""One launch layer for every process pyrunc starts in a container, as runc's
parentProcess with its initProcess and setnsProcess:

    container_init()   the container's init (create): new namespaces, mounts,
                       pivot_root, then it waits on the exec fifo
    join_container()   a process joining a live container's init (exec, and
                       the hooks that run inside the container)

Both prepare everything in the parent, before the C init starts (the process
itself, before that: process_setup.py):
- the seccomp program (compiled, or from the cache: compile_seccomp; create's
  is made while the init sets up, into a memfd the init reads at the end);
- the cgroup placement: the cgroup2 dir to clone the init into and the v1
  tasks files it writes itself, opened as fds (the container's Manager says
  which; without CLONE_INTO_CGROUP the parent moves the init instead);
- fd numbering: each extra fd gets a fixed number in the init (plan.h FD_EXTRA);
- the PlanContext, from which plan.build or plan.build_exec makes the ops.
They return an Init (launcher.py), which drives the sync protocol.
"""
import os

from . import log, plan
from .caps import last_cap
from .cgroups import Manager
from .config import Config
from .errors import PyruncError, strerror
from .launcher import Init
from .plan import NAMESPACE_FLAGS, PlanContext
from .process_attrs import selinux_enabled
from .state import RUNNING, ContainerDir, State
from .userns import denies_setgroups, setgroups_denied_in

# /proc/PID/ns names, as exec joins them
NAMESPACE_FILES = {"user": "user", "mnt": "mount", "pid": "pid", "ipc": "ipc", "uts": "uts",
                   "net": "network", "cgroup": "cgroup", "time": "time"}
# The named fd of a seccomp program still compiling: no mount pointer (those
# start with "/") is ever this key.
SECCOMP_FD = "seccomp program"



class FdLayout:
    """The numbers the init knows its extra fds by: `first`, the caller's
    leading fds (exec's pidfd); the cgroup placement fds; `named`, the
    caller's named fds after those (id-mapped mount trees, by mount pointer)."""
    __slots__ = ("first", "clone_cgroup_fd", "cgroup_task_fds", "named")

    def __init__(self, first: list[int], clone_cgroup_fd: int | None,
                 cgroup_task_fds: list[tuple[int, str]], named: dict[str, int]):
        self.first, self.clone_cgroup_fd = first, clone_cgroup_fd
        self.cgroup_task_fds, self.named = cgroup_task_fds, named


def compile_seccomp(profile: dict | None, root: str, background: bool = False):
    """The container's seccomp filter (checked, compiled or cached), or None.
    background (create): the program is made while create goes on
    (seccomp.prepare_in_background); container_init hands its memfd over."""
    if profile is None:
        return None
    from . import seccomp  # feature import: the profile's checks, cache and compiler
    return (seccomp.prepare_in_background if background else seccomp.prepare)(profile, root)


def id_mapped_mounts(view: Config, bundle: str) -> list:
    """Bind mounts the parent prepares (idmap.py): id-mapped ones, and with a
    new user namespace all of them."""
    if not view.creates("user") and not any(
            "uidMappings" in m or "gidMappings" in m
            or {"idmap", "ridmap"} & set(m.get("options", [])) for m in view.mounts):
        return []
    from .idmap import wanted  # feature import
    return wanted(view.data, bundle)


def send_notify_fd(st: State, fd: int, pid: int, status: str) -> None:
    """A seccomp notify fd to linux.seccomp.listenerPath, with the state."""
    from . import seccomp  # feature import
    seccomp.send_notify_fd(st.seccomp, fd, st.oci(status), pid)


def spawn(state_dir: str, cgroups: Manager, preserve_fds: int, preserved: list[int],
          make_plan, first: list[int] = (), named: dict | None = None,
          stdio: list[int] | None = None) -> Init:
    """Start the C init with the ops make_plan(FdLayout) returns. first and
    named: fds the plan refers to (ours: closed here once the init has its
    own copies). Returns once the init runs, in its cgroups."""
    named = dict(named or {})
    owned = list(first) + list(named.values())  # until the init has copies
    try:
        placement = cgroups.placement()
        owned[len(first):len(first)] = _open_placement(placement)
        numbers = Init.fd_numbers(preserve_fds, len(owned))
        rest = numbers[len(first):]
        clone_fd = rest.pop(0) if placement.clone_dir else None
        tasks = len(placement.task_files)
        layout = FdLayout(numbers[:len(first)], clone_fd,
                          list(zip(rest[:tasks], placement.task_files)),
                          dict(zip(named, rest[tasks:])))
        init = Init(make_plan(layout), state_dir, preserve_fds, list(preserved), owned, stdio)
    finally:
        for fd in owned:
            os.close(fd)
    try:
        cgroups.place(init.pid, placement)
    except BaseException:
        init.kill()
        raise
    return init


def _open_placement(placement) -> list[int]:
    """The cgroup2 dir first (if any), then the tasks files."""
    files = []
    try:
        if placement.clone_dir:
            files.append(os.open(placement.clone_dir, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC))
        for path in placement.task_files:
            files.append(os.open(path, os.O_WRONLY | os.O_CLOEXEC))
    except OSError as e:
        for fd in files:
            os.close(fd)
        raise PyruncError(f"open cgroup {e.filename}: {strerror(e)}") from None
    return files


def container_init(cdir: ContainerDir, bundle: str, config: dict, cgroups: Manager,
                   preserve_fds: int, preserved: list[int], no_pivot: bool, seccomp,
                   trees: dict) -> Init:
    """The container's init, stopped at OP_WAIT until the caller lets it go
    (Init.go). trees: id-mapped mount trees, by mount pointer (idmap.py)."""
    view = Config(config)
    named = dict(trees)
    if seccomp and seccomp.pending:  # the init's own copy (spawn closes ours)
        named[SECCOMP_FD] = os.dup(seccomp.pending.memfd)

    def make_plan(fds: FdLayout) -> list:
        trees = dict(fds.named)
        ctx = PlanContext(bundle=bundle, no_pivot=no_pivot, preserve_fds=preserve_fds,
                          cap_last_cap=last_cap(), cgroup_mounts=cgroup_mounts_for(view, cgroups),
                          clone_cgroup_fd=fds.clone_cgroup_fd,
                          cgroup_task_fds=fds.cgroup_task_fds, seccomp=seccomp,
                          seccomp_fd=trees.pop(SECCOMP_FD, None),
                          mount_label=mount_label(view), idmapped=trees,
                          setgroups_denied=denies_setgroups(config),
                          dumpable=os.geteuid() != 0 and view.creates("pid"))
        return plan.build(config, ctx)

    return spawn(cdir.path, cgroups, preserve_fds, preserved, make_plan, named=named)


def join_container(state_dir: str, st: State, process: dict, preserve_fds: int = 0,
                   preserved: list[int] = (), pointer: str = "/process",
                   program: str | None = None, stdio: list[int] | None = None, seccomp=None,
                   status: str = RUNNING, placed=None, cgroups: Manager | None = None) -> Init:
    """A process in the container of state st, driven up to just before
    execve (Init.exec_now lets it go). program: the file to execute when it
    is not args[0] (hooks); stdio: fds for 0, 1, 2; seccomp: a compiled
    filter; status: the container's, for the seccomp listener; placed():
    called once the process is in the container's cgroups; cgroups: the
    ones to join, if not the container's (exec --cgroup)."""
    pidfd = st.pidfd()
    cgroups = cgroups or st.cgroups()

    def make_plan(fds: FdLayout) -> list:
        ctx = PlanContext(bundle=st.bundle, preserve_fds=preserve_fds, cap_last_cap=last_cap(),
                          clone_cgroup_fd=fds.clone_cgroup_fd,
                          cgroup_task_fds=fds.cgroup_task_fds, seccomp=seccomp,
                          setgroups_denied=setgroups_denied_in(st.init_pid))
        return plan.build_exec(process, ctx, fds.first[0], _namespace_flags(st.init_pid),
                               pointer, program, st.personality, st.memory_policy_value(),
                               (st.process or {}).get("oomScoreAdj"))

    init = spawn(state_dir, cgroups, preserve_fds, preserved, make_plan, first=[pidfd],
                 stdio=stdio)
    try:
        if placed:
            placed()
        init.wait_ready(on_seccomp=lambda fd: send_notify_fd(st, fd, init.pid, status))
    except BaseException:
        init.kill()
        raise
    return init


def _namespace_flags(pid: int) -> int:
    """CLONE_NEW* of each namespace of pid that is not ours (setns refuses to
    re-enter our own user namespace; the others would be no-ops)."""
    flags = 0
    for ns, name in NAMESPACE_FILES.items():
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
            flags |= NAMESPACE_FLAGS[name]
    return flags


def cgroup_mounts_for(view: Config, cgroups: Manager) -> list:
    """The filesystems of a "cgroup" mount in config.json, if it has one."""
    if not any(m.get("type") == "cgroup" for m in view.mounts):
        return []
    return cgroups.container_mounts(own_namespace=view.creates("cgroup"),
                                    user_namespace=view.has("user"),
                                    bound_at=lambda host_path: _bound_at_cgroup_mount(
                                        view.mounts, host_path))


def _bound_at_cgroup_mount(mounts: list[dict], host_path: str) -> bool:
    """Whether an earlier rbind (runc's rootless spec binds /sys) puts the
    host's host_path exactly where the "cgroup" mount goes."""
    at = next(i for i, m in enumerate(mounts) if m.get("type") == "cgroup")
    target = os.path.normpath(mounts[at]["destination"])
    for m in mounts[:at]:
        dest, source = os.path.normpath(m["destination"]), m.get("source", "")
        if "rbind" not in m.get("options", []) or not source.startswith("/"):
            continue
        if target == dest or target.startswith(dest.rstrip("/") + "/"):
            shown = os.path.normpath(os.path.join(source, os.path.relpath(target, dest)))
            if shown == os.path.normpath(host_path):
                return True
    return False


def mount_label(view: Config) -> str:
    """linux.mountLabel where SELinux can take it; ignored (as the spec's
    MAY) where it is off."""
    label = view.linux.get("mountLabel", "")
    if not label:
        return ""
    if selinux_enabled():
        return label
    log.debug("linux.mountLabel ignored: SELinux is not enabled on this host")
    return ""
