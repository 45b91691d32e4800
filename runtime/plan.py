"""config.json → launch plan: the ordered list of ops the C init executes.

Everything here is a decision: which namespaces to make or join, which mounts in
which order with which flags, which devices, which capabilities. The C init takes
none. Building a plan does no I/O except through the `HostProbe` it is given, so
it can be unit-tested without root.
"""
import os
import struct
from collections import namedtuple

from . import caps, process_attrs
from . import _consts as lib
from .errors import ConfigError
from .mountopts import PROPAGATION_OPTIONS, parse as parse_mount_options

NAMESPACE_FLAGS = {
    "pid": lib.CLONE_NEWPID, "network": lib.CLONE_NEWNET, "mount": lib.CLONE_NEWNS,
    "ipc": lib.CLONE_NEWIPC, "uts": lib.CLONE_NEWUTS, "user": lib.CLONE_NEWUSER,
    "cgroup": lib.CLONE_NEWCGROUP, "time": lib.CLONE_NEWTIME,
}
# Joining order: the user namespace first (it grants the rights to join the
# others), mount last (paths to the other namespaces are host paths).
JOIN_ORDER = ("user", "ipc", "uts", "network", "pid", "cgroup", "time", "mount")

NO_FD = 0xFFFFFFFF
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
EXEC_FIFO = "exec.fifo"
RLIM_INFINITY = 2**64 - 1
RLIMITS = {
    "RLIMIT_CPU": 0, "RLIMIT_FSIZE": 1, "RLIMIT_DATA": 2, "RLIMIT_STACK": 3,
    "RLIMIT_CORE": 4, "RLIMIT_RSS": 5, "RLIMIT_NPROC": 6, "RLIMIT_NOFILE": 7,
    "RLIMIT_MEMLOCK": 8, "RLIMIT_AS": 9, "RLIMIT_LOCKS": 10, "RLIMIT_SIGPENDING": 11,
    "RLIMIT_MSGQUEUE": 12, "RLIMIT_NICE": 13, "RLIMIT_RTPRIO": 14, "RLIMIT_RTTIME": 15,
}

# (path, major, minor): created in every container unless the config lists it.
DEFAULT_DEVICES = (
    ("/dev/null", 1, 3), ("/dev/zero", 1, 5), ("/dev/full", 1, 7),
    ("/dev/random", 1, 8), ("/dev/urandom", 1, 9), ("/dev/tty", 5, 0),
)
DEV_SYMLINKS = (
    ("/proc/self/fd", "/dev/fd"), ("/proc/self/fd/0", "/dev/stdin"),
    ("/proc/self/fd/1", "/dev/stdout"), ("/proc/self/fd/2", "/dev/stderr"),
    ("pts/ptmx", "/dev/ptmx"),
)
# proc and sysfs never follow a symlinked destination, even inside the rootfs
# (the runc CVE-2019-16884 class: a rootfs that redirects where /proc lands).
NO_SYMLINK_TYPES = {"proc", "sysfs"}
DEVICE_TYPES = {"c": lib.S_IFCHR, "u": lib.S_IFCHR, "b": lib.S_IFBLK, "p": lib.S_IFIFO}

# Every op's number and payload signature come from csrc/plan.h's PLAN_OPS
# (runtime/_consts.py): I = u32, Q = u64, s = string, b = bytes, L = u32
# count followed by that many u32.
SIGNATURES = {name: sig for name, (_number, sig) in lib.OPS.items()}


class Op(namedtuple("Op", "name args", defaults=((),))):
    """One step for the C init: a name from SIGNATURES and its arguments."""
    __slots__ = ()

    def __repr__(self):
        return f"{self.name}{self.args!r}"


class HostProbe:
    """What the planner may ask of the host: overridden in unit tests."""

    def is_dir(self, path: str) -> bool:
        return os.path.isdir(path)

    def exists(self, path: str) -> bool:
        return os.path.lexists(path)

    def proc_and_sys_outside(self, rootfs: str) -> list[str]:
        """Mount points of whole proc and sysfs instances outside rootfs."""
        from .procfs import mounts
        inside = rootfs.rstrip("/") + "/"
        return [m.point for m in mounts() if m.fstype in ("proc", "sysfs") and m.root == "/"
                and not (m.point + "/").startswith(inside)]


class PlanContext:
    """What the plan needs besides config.json. (No dataclass: importing
    dataclasses costs ~9 ms on every create.)"""

    def __init__(self, bundle: str, no_pivot: bool = False, preserve_fds: int = 0,
                 cap_last_cap: int = len(caps.NAMES) - 1, cgroup_mounts: list | None = None,
                 probe: HostProbe | None = None, clone_cgroup_fd: int | None = None,
                 cgroup_task_fds: list | None = None, seccomp=None,
                 mount_label: str = "", idmapped: dict | None = None,
                 setgroups_denied: bool = False, dumpable: bool = False):
        self.bundle = bundle
        # The init is made non-dumpable, so that no process that can see it
        # may ptrace it or open its /proc files (it holds host fds, and is in
        # the host's mounts until pivot_root). But an unprivileged caller may
        # join its namespaces (exec, in-container hooks) or read them (ps)
        # only if it is dumpable: so a rootless init in a new pid namespace
        # stays dumpable. Nothing else of the user's that runs confined can
        # see it there, and the user has its rights anyway.
        self.dumpable = dumpable
        # The user namespace refuses setgroups(2) (a rootless single-gid map):
        # no SETGROUPS op, and no additional gids.
        self.setgroups_denied = setgroups_denied
        # Id-mapped bind mounts: mount pointer ("/mounts/N") -> the number of
        # the fd of the detached tree in the init.
        self.idmapped = idmapped or {}
        self.read_only_later: set[str] = set()  # set by build (read_only_later)
        self.seccomp = seccomp  # a compiled seccomp.Filter, or None
        # linux.mountLabel, only where SELinux is enabled: elsewhere the kernel
        # refuses a context= option (runc passes it and fails with EINVAL).
        self.mount_label = mount_label
        self.no_pivot = no_pivot
        self.preserve_fds = preserve_fds
        self.cap_last_cap = cap_last_cap
        # (hierarchy name, host dir of the container, data for a fresh mount or None)
        self.cgroup_mounts = cgroup_mounts or []
        self.probe = probe or HostProbe()
        # Cgroup placement without the kernel's global lock: the init is cloned
        # into the cgroup2 dir (fd number in the init) and writes "0" to each
        # v1 tasks file [(fd number, path)] itself.
        self.clone_cgroup_fd = clone_cgroup_fd
        self.cgroup_task_fds = cgroup_task_fds or []


def _clean(path: str) -> str:
    """Lexically clean an absolute container path ('..' cannot climb above /)."""
    return os.path.normpath("/" + path).replace("//", "/")


def _namespaces(config: dict) -> tuple[int, list[tuple[str, str]]]:
    new_flags = 0
    joins = []
    for ns in config.get("linux", {}).get("namespaces", []):
        if ns.get("path"):
            joins.append((ns["type"], ns["path"]))
        else:
            new_flags |= NAMESPACE_FLAGS[ns["type"]]
    joins.sort(key=lambda j: JOIN_ORDER.index(j[0]))
    return new_flags, joins


def build(config: dict, ctx: PlanContext) -> list[Op]:
    ops: list[Op] = []
    process = config["process"]
    new_ns, joins = _namespaces(config)
    in_userns = bool(new_ns & lib.CLONE_NEWUSER) or any(t == "user" for t, _p in joins)

    ctx.read_only_later = read_only_later(config)
    linux = config.get("linux", {})
    process_attrs.check_intel_rdt(linux)

    # -- first process: join namespaces by path, then clone the container init.
    ops += _oom_score_adj_ops(process.get("oomScoreAdj"))
    for ns_type, path in joins:
        ops.append(Op("SETNS", (NAMESPACE_FLAGS[ns_type], path)))
    # The cgroup namespace is unshared only once the init is in its cgroups:
    # the namespace root is the cgroup at unshare time.
    flags = new_ns & ~lib.CLONE_NEWCGROUP
    offsets = process_attrs.time_offsets(linux, bool(new_ns & lib.CLONE_NEWTIME))
    if offsets:
        # Offsets can be set only before any process enters the time namespace:
        # unshare here (our children will enter it), set them, then clone.
        flags &= ~lib.CLONE_NEWTIME
        ops += [Op("UNSHARE", (lib.CLONE_NEWTIME,)),
                Op("WRITE_FILE", ("/proc/self/timens_offsets", offsets))]
    # execCPUAffinity "is not applicable to the container's init process"
    # (config.md): checked here, applied to exec'd processes (build_exec).
    _first_process_affinity(process)
    _final_affinity(process)
    ops.append(_clone_op(flags, ctx))

    # -- container init
    ops += _join_cgroup_ops(ctx)
    ops.append(Op("WAIT"))  # (a new user namespace gets its maps meanwhile)
    if in_userns:
        # Until now our ids are the host's root, unmapped there: become the
        # namespace's root before anything is created in the rootfs.
        if new_ns & lib.CLONE_NEWUSER and not ctx.setgroups_denied:
            ops.append(Op("SETGROUPS", ((),)))
        ops += [Op("SETGID", (0,)), Op("SETUID", (0,))]
    ops.append(Op("SETSID"))
    if not ctx.dumpable:
        ops.append(Op("DUMPABLE", (0,)))
    if new_ns & lib.CLONE_NEWCGROUP:
        ops.append(Op("UNSHARE", (lib.CLONE_NEWCGROUP,)))
    ops += _rootfs_ops(config, ctx)
    if process.get("terminal"):
        size = process.get("consoleSize", {})
        ops.append(Op("CONSOLE", (size.get("height", 0), size.get("width", 0), 1,
                                  process.get("user", {}).get("uid", 0))))
    ops += _post_pivot_ops(config, new_ns, ctx)
    ops += _root_propagation_ops(config)
    persona = process_attrs.personality(linux)
    if persona is not None:
        ops.append(Op("PERSONALITY", (persona,)))
    ops += _mempolicy_ops(process_attrs.memory_policy(linux))
    ops += _process_ops(process, ctx)
    ops += _exec_ops(process, ctx)
    return ops


def build_exec(process: dict, ctx: PlanContext, pidfd: int, ns_flags: int,
               pointer: str = "/process", program: str | None = None,
               persona: int | None = None, mempolicy: list | None = None,
               oom_score_adj: int | None = None) -> list[Op]:
    """A new process in a running container: join the namespaces of its init
    (pidfd, the fd number in the init; ns_flags, the ones that differ from
    ours) at once, fork so that the pid namespace applies, join its cgroups,
    then the same credential and exec steps as the init, without the fifo."""
    # The cgroup namespace last, once in the container's cgroups: the kernel
    # refuses a move (clone3 CLONE_INTO_CGROUP: ENOENT) from a cgroup outside
    # the mover's cgroup namespace.
    cgroup_ns = ns_flags & lib.CLONE_NEWCGROUP
    rest = ns_flags & ~lib.CLONE_NEWCGROUP
    ops = _oom_score_adj_ops(oom_score_adj)  # the container's, as runc
    ops += [Op("SETNS_FD", (pidfd, rest))] if rest else []
    ops += _first_process_affinity(process, pointer)
    ops.append(_clone_op(0, ctx))
    ops += _join_cgroup_ops(ctx)
    if cgroup_ns:
        ops.append(Op("SETNS_FD", (pidfd, cgroup_ns)))
    ops += [Op("SETSID"), Op("DUMPABLE", (0,))]
    ops += _final_affinity(process, pointer)
    if process.get("terminal"):
        size = process.get("consoleSize", {})
        ops.append(Op("CONSOLE", (size.get("height", 0), size.get("width", 0), 0,
                                  process.get("user", {}).get("uid", 0))))
    # The container's linux.personality and memoryPolicy (not inherited: we fork from pyrunc).
    if persona is not None:
        ops.append(Op("PERSONALITY", (persona,)))
    ops += _mempolicy_ops(mempolicy)
    ops += _process_ops(process, ctx, pointer)
    ops += _exec_ops(process, ctx, fifo=False, program=program)
    return ops


def _oom_score_adj_ops(value: int | None) -> list[Op]:
    """oom_score_adj in the first process, still the host's root in our
    namespaces (a process inherits it across clone): inside a user namespace,
    once non-dumpable, /proc/self/oom_score_adj belongs to the host's root and
    the namespace's root may not open it (as runc's nsexec does it)."""
    if value is None:
        return []
    return [Op("WRITE_FILE", ("/proc/self/oom_score_adj", str(value)))]


def _mempolicy_ops(policy) -> list[Op]:
    """set_mempolicy(mode | flags, nodes): the process and its children."""
    if policy is None:
        return []
    mode, mask = policy
    return [Op("MEMPOLICY", (mode, bytes(mask)))]


def _clone_op(flags: int, ctx: PlanContext) -> Op:
    if ctx.clone_cgroup_fd is None:
        return Op("CLONE", (flags, NO_FD))
    return Op("CLONE", (flags | lib.CLONE_INTO_CGROUP, ctx.clone_cgroup_fd))


def _join_cgroup_ops(ctx: PlanContext) -> list[Op]:
    return [Op("WRITE_FD", (fd, "0", f"join cgroup {path}")) for fd, path in ctx.cgroup_task_fds]


def _first_process_affinity(process: dict, pointer: str = "/process") -> list[Op]:
    """execCPUAffinity.initial: the CPUs the process runs on until it is in
    the container's cgroups (set before the clone, which inherits it)."""
    mask = process_attrs.affinity(process, "initial", pointer)
    return [Op("AFFINITY", (mask,))] if mask else []


def _final_affinity(process: dict, pointer: str = "/process") -> list[Op]:
    mask = process_attrs.affinity(process, "final", pointer)
    return [Op("AFFINITY", (mask,))] if mask else []


def _process_ops(process: dict, ctx: PlanContext, pointer: str = "/process") -> list[Op]:
    """I/O priority and scheduler (while still root), rlimits, LSM labels,
    then credentials."""
    ops = []
    ioprio = process_attrs.ioprio_value(process, pointer)
    if ioprio is not None:
        ops.append(Op("IOPRIO", (ioprio,)))
    sched = process_attrs.sched_args(process, pointer)
    if sched is not None:
        ops.append(Op("SCHED", sched))
    ops += _rlimit_ops(process)
    ops += [Op("WRITE_FILE", w) for w in process_attrs.lsm_writes(process, pointer)]
    ops += _credential_ops(process, ctx, pointer)
    return ops


def _rootfs_ops(config: dict, ctx: PlanContext) -> list[Op]:
    linux = config.get("linux", {})
    rootfs = rootfs_path(config, ctx.bundle)
    own_mounts = has_mount_namespace(config)
    propagation = linux.get("rootfsPropagation", "")
    ops = []
    if own_mounts:
        # First our copy of the host's tree: a slave (private if asked), so
        # that nothing mounted here reaches the host and pivot_root (which
        # refuses a shared parent) works. rootfsPropagation itself is for the
        # container's root mount: set on the new / (_root_propagation_ops).
        before = lib.MS_PRIVATE if propagation in ("private", "rprivate") else lib.MS_SLAVE
        ops.append(Op("MOUNT_PROPAGATE", (before | lib.MS_REC, "/")))
    # Without a mount namespace of its own the container shares ours: no
    # propagation change, no bind of the rootfs onto itself, and chroot (as
    # runc); what it mounts is unmounted at delete (host_mounts).
    ops.append(Op("ROOTFS", (rootfs, 1 if own_mounts else 0)))
    for i, m in enumerate(config.get("mounts", [])):
        ops += _mount_ops(m, f"/mounts/{i}", ctx)
    ops += _device_ops(linux, bind=_in_userns(config))
    cwd = config["process"].get("cwd", "/")
    if cwd != "/":
        ops.append(Op("MKDIRS", (0o755, _clean(cwd))))
    hooks = config.get("hooks", {})
    if any(hooks.get(k) for k in ("prestart", "createRuntime", "createContainer")):
        ops.append(Op("HOOKS"))  # mounts made, pivot_root not yet: the parent runs them
    if not own_mounts:
        ops.append(Op("PIVOT", (lib.ROOT_CHROOT,)))
        return ops
    if ctx.no_pivot and not _joins_mount_namespace(config):
        # The old root stays underneath: no whole proc or sysfs may stay in it
        # (our copy of the host's; a joined namespace's own are left as they are).
        ops += [Op("HIDE_MOUNT", (p,)) for p in reversed(ctx.probe.proc_and_sys_outside(rootfs))]
    ops.append(Op("PIVOT", (lib.ROOT_MOVE if ctx.no_pivot else lib.ROOT_PIVOT,)))
    return ops


def _joins_mount_namespace(config: dict) -> bool:
    return any(ns["type"] == "mount" and ns.get("path")
               for ns in config.get("linux", {}).get("namespaces", []))


def _root_propagation_ops(config: dict) -> list[Op]:
    """rootfsPropagation on the container's own / (shared: a new peer group;
    unbindable: no bind of it), last among the mounts: masked and read-only
    paths are binds, which an unbindable tree would refuse."""
    propagation = config.get("linux", {}).get("rootfsPropagation", "")
    if not propagation or not has_mount_namespace(config):
        return []
    return [Op("MOUNT_PROPAGATE", (_propagation(propagation), "/"))]


def has_mount_namespace(config: dict) -> bool:
    """A new mount namespace, or one joined by path."""
    return any(ns["type"] == "mount" for ns in config.get("linux", {}).get("namespaces", []))


def rootfs_path(config: dict, bundle: str) -> str:
    path = config["root"]["path"]
    return os.path.normpath(os.path.join(bundle, path))


def _propagation(name: str) -> int:
    flags = PROPAGATION_OPTIONS[name]
    # Plain "shared"/"slave"/... apply to the whole tree, as runc does.
    return flags | lib.MS_REC


def _mount_ops(m: dict, pointer: str, ctx: PlanContext) -> list[Op]:
    dest = _clean(m["destination"])
    mtype = m.get("type", "")
    opts = parse_mount_options(m.get("options", []), mtype)
    source = m.get("source", "")
    if mtype == "cgroup":
        return _cgroup_mount_ops(dest, opts, ctx)
    if opts.is_bind:
        if not source:
            raise ConfigError(f"{pointer}/source", "a bind mount needs a source")
        source = os.path.normpath(os.path.join(ctx.bundle, source))
        if not ctx.probe.exists(source):
            raise ConfigError(f"{pointer}/source", f"{source}: no such file or directory")
        prepare = Op("MKDIRS", (0o755, dest)) if ctx.probe.is_dir(source) else Op("MKFILE", (dest,))
        if pointer in ctx.idmapped:  # the parent made the tree (runtime/idmap.py)
            attach = Op("MOVE_MOUNT", (ctx.idmapped[pointer], opts.remount_flags,
                                       opts.propagation, dest))
        else:
            flags = opts.flags & (lib.MS_BIND | lib.MS_REC)
            attach = Op("MOUNT", (flags, opts.remount_flags, opts.propagation,
                                  source, dest, "", "", 0))
        ops = [prepare, attach]
    else:
        no_symlinks = 1 if mtype in NO_SYMLINK_TYPES else 0
        flags = opts.flags & ~lib.MS_RDONLY if dest in ctx.read_only_later else opts.flags
        ops = [Op("MKDIRS", (0o755, dest)),
               Op("MOUNT", (flags, 0, opts.propagation, source or mtype, dest, mtype,
                            _with_mount_label(opts.data, mtype, ctx), no_symlinks))]
    if opts.attr_set or opts.attr_clr:
        ops.append(Op("MOUNT_SETATTR", (opts.attr_set, opts.attr_clr, dest)))
    return ops


UNLABELLED_TYPES = ("proc", "sysfs")  # labelled by the kernel, as runc leaves them


def _with_mount_label(data: str, mtype: str, ctx: PlanContext) -> str:
    if not ctx.mount_label or mtype in UNLABELLED_TYPES:
        return data
    context = f'context="{ctx.mount_label}"'
    return f"{data},{context}" if data else context


def _cgroup_mount_ops(dest: str, opts, ctx: PlanContext) -> list[Op]:
    """A "cgroup" mount shows the container its own cgroups: cgroup2 on a unified
    host; on v1 and hybrid hosts a tmpfs with one mount per hierarchy. With a
    cgroup namespace each is a fresh mount (rooted at the container's cgroup),
    without one a bind mount of the container's directory."""
    flags = opts.flags & ~lib.MS_RDONLY
    ro = opts.flags & lib.MS_RDONLY
    ops = [Op("MKDIRS", (0o755, dest))]
    mounts = ctx.cgroup_mounts
    if len(mounts) == 1 and mounts[0][0] == "unified":
        return ops + [_one_cgroup_mount(dest, *mounts[0], flags | ro)]
    ops.append(Op("MOUNT", (flags, 0, 0, "tmpfs", dest, "tmpfs", "mode=755", 0)))
    for name, host_dir, data in mounts:
        sub = "unified" if name == "unified" else name.replace("name=", "")
        target = f"{dest}/{sub}"
        ops.append(Op("MKDIRS", (0o755, target)))
        ops.append(_one_cgroup_mount(target, name, host_dir, data, flags | ro))
    if ro:
        ops.append(Op("MOUNT", (flags | ro | lib.MS_REMOUNT, 0, 0, "tmpfs", dest, "tmpfs",
                                "mode=755", 0)))
    return ops


def _one_cgroup_mount(target: str, name: str, host_dir: str, data: str | None, flags: int) -> Op:
    if data is None:  # no cgroup namespace: bind the container's own directory
        remount = lib.MS_BIND | lib.MS_REMOUNT | flags if flags else 0
        return Op("MOUNT", (lib.MS_BIND | lib.MS_REC, remount, 0, host_dir, target, "", "", 0))
    fstype = "cgroup2" if name == "unified" else "cgroup"
    return Op("MOUNT", (flags, 0, 0, fstype, target, fstype, data, 0))


def _in_userns(config: dict) -> bool:
    return any(ns["type"] == "user" for ns in config.get("linux", {}).get("namespaces", []))


def _device_ops(linux: dict, bind: bool = False) -> list[Op]:
    """mknod, or (bind: in a user namespace, where mknod is refused) a bind
    mount of the host's device at the same path, as runc."""
    ops = []
    listed = set()
    for d in linux.get("devices", []):
        path = _clean(d["path"])
        listed.add(path)
        if bind:
            ops.append(Op("BIND_DEV", (path, path)))
            continue
        mode = DEVICE_TYPES[d["type"]] | (d.get("fileMode", 0o666) & 0o7777)
        ops.append(Op("MKNOD", (mode, d.get("major", 0), d.get("minor", 0),
                                d.get("uid", 0), d.get("gid", 0), path, 0)))
    for path, major, minor in DEFAULT_DEVICES:
        if path not in listed:
            ops.append(Op("BIND_DEV", (path, path)) if bind else
                       Op("MKNOD", (lib.S_IFCHR | 0o666, major, minor, 0, 0, path, 1)))
    for target, link in DEV_SYMLINKS:
        ops.append(Op("SYMLINK", (target, link)))
    return ops


def read_only_later(config: dict) -> set[str]:
    """Destinations of read-only mounts (not binds) that must take content
    first: later mounts below them, /dev's devices and links, the cwd. They
    are mounted read-write and made read-only after the pivot, as runc does
    with a read-only /dev."""
    mounts = config.get("mounts", [])
    later = [_clean(d["path"]) for d in config.get("linux", {}).get("devices", [])]
    later += [p for p, _major, _minor in DEFAULT_DEVICES] + [link for _t, link in DEV_SYMLINKS]
    later.append(_clean(config["process"].get("cwd", "/")))
    out = set()
    for i, m in reversed(list(enumerate(mounts))):
        dest = _clean(m["destination"])
        opts = parse_mount_options(m.get("options", []), m.get("type", ""))
        if (opts.flags & lib.MS_RDONLY and not opts.is_bind and m.get("type") != "cgroup"
                and any(p.startswith(dest.rstrip("/") + "/") for p in later)):
            out.add(dest)
        later.append(dest)
    return out


def _post_pivot_ops(config: dict, new_ns: int, ctx: PlanContext) -> list[Op]:
    linux = config.get("linux", {})
    ops = [Op("REMOUNT_RO", (dest,)) for dest in sorted(ctx.read_only_later, reverse=True)]
    for key, value in linux.get("sysctl", {}).items():
        ops.append(Op("WRITE_FILE", ("/proc/sys/" + key.replace(".", "/"), value)))
    if "hostname" in config:
        ops.append(Op("HOSTNAME", (config["hostname"],)))
    if "domainname" in config:
        ops.append(Op("DOMAINNAME", (config["domainname"],)))
    if new_ns & lib.CLONE_NEWNET:
        ops.append(Op("LOOPBACK_UP"))
    ops += [Op("MASK", (p,)) for p in linux.get("maskedPaths", [])]
    ops += [Op("READONLY", (p,)) for p in linux.get("readonlyPaths", [])]
    if config["root"].get("readonly"):
        ops.append(Op("REMOUNT_RO", ("/",)))
    return ops


def _rlimit_ops(process: dict) -> list[Op]:
    ops = []
    for r in process.get("rlimits", []):
        soft, hard = (RLIM_INFINITY if v == -1 or v >= RLIM_INFINITY else v
                      for v in (r["soft"], r["hard"]))
        ops.append(Op("RLIMIT", (RLIMITS[r["type"]], soft, hard)))
    return ops


def _credential_ops(process: dict, ctx: PlanContext, pointer: str = "/process") -> list[Op]:
    user = process.get("user", {})
    groups = [Op("SETGROUPS", (tuple(user.get("additionalGids", [])),))]
    if ctx.setgroups_denied:
        if user.get("additionalGids"):
            raise ConfigError(f"{pointer}/user/additionalGids", "cannot be set: the user "
                              "namespace denies setgroups (a rootless gid map of the caller's "
                              "own gid); map subordinate gids (newgidmap, /etc/subgid) instead")
        groups = []
    capsets = _capsets(process)
    ops = [Op("NO_NEW_PRIVS")] if process.get("noNewPrivileges") else []
    ops += [
        Op("DROP_BOUNDING", (capsets["bounding"], ctx.cap_last_cap)),
        Op("KEEPCAPS", (1,)),
        *groups,
        Op("SETGID", (user.get("gid", 0),)),
        Op("SETUID", (user.get("uid", 0),)),
        Op("UMASK", (user.get("umask", 0o022),)),
        Op("CHDIR", (process.get("cwd", "/"),)),
    ]
    if _caps_after_seccomp(process, ctx):
        # Without no_new_privs the kernel wants CAP_SYS_ADMIN to load a
        # filter, and the filter goes on right before exec: keep that one
        # capability until then (_exec_ops sets the final sets after the load).
        sys_admin = 1 << caps.NUMBERS["CAP_SYS_ADMIN"]
        ops.append(Op("CAPSET", (capsets["effective"] | sys_admin,
                                 capsets["permitted"] | sys_admin, capsets["inheritable"])))
    else:
        ops.append(_final_caps(process))
    # The kernel raises an ambient capability only if it is also permitted and
    # inheritable; runc skips the others silently, and so do we.
    ambient = capsets["ambient"] & capsets["permitted"] & capsets["inheritable"]
    if ambient:
        ops.append(Op("AMBIENT", (ambient,)))
    ops.append(Op("KEEPCAPS", (0,)))
    return ops


def _caps_after_seccomp(process: dict, ctx: PlanContext) -> bool:
    return bool(ctx.seccomp) and not process.get("noNewPrivileges")


def _capsets(process: dict) -> dict:
    return {s: caps.mask(process.get("capabilities", {}).get(s, [])) for s in caps.SETS}


def _final_caps(process: dict) -> Op:
    capsets = _capsets(process)
    return Op("CAPSET", (capsets["effective"], capsets["permitted"], capsets["inheritable"]))


def _seccomp_ops(process: dict, ctx: PlanContext) -> list[Op]:
    """Load the filter; without no_new_privs, then drop the CAP_SYS_ADMIN
    that the load needed. After these, the init makes no system call but
    execve (and, for a notify filter, the few that hand its fd over)."""
    ops = [Op("SECCOMP", (ctx.seccomp.flags, ctx.seccomp.program))]
    if _caps_after_seccomp(process, ctx):
        ops.append(_final_caps(process))
    return ops


def path_env(env: list[str]) -> str:
    value = None
    for item in env:
        if item.startswith("PATH="):
            value = item[5:]
    return DEFAULT_PATH if value is None else value


def dedupe_env(env: list[str]) -> list[str]:
    """One entry per name, the last value winning in the first one's place
    (runc sets each in turn); entries without '=' are kept as they are."""
    index, out = {}, []
    for item in env:
        name = item.split("=", 1)[0] if "=" in item else None
        if name is not None and name in index:
            out[index[name]] = item
            continue
        if name is not None:
            index[name] = len(out)
        out.append(item)
    return out


def _exec_ops(process: dict, ctx: PlanContext, fifo: bool = True,
              program: str | None = None) -> list[Op]:
    """Look the program up (args[0], or a hook's path), report ready, then
    (create) block on the exec fifo; exec reports an exec failure over the
    socket that a success closes."""
    env = dedupe_env(process.get("env", []))
    ops = [Op("LOOKUP", (program or process["args"][0], path_env(env))),
           Op("CLOSE_FDS", (3 + ctx.preserve_fds,)),  # close-on-exec: the init's own fds stay usable
           Op("RESET_SIGNALS")]
    # The seccomp filter comes as late as can be, so that a profile need allow
    # nothing of the init's own (runc and crun arrange it the same way): right
    # before execve. A notify filter's fd must reach the parent, which passes
    # it to the listener at create: that one loads before READY.
    notify = bool(ctx.seccomp) and ctx.seccomp.notify
    if notify:
        ops += _seccomp_ops(process, ctx)
    ops.append(Op("READY"))
    if fifo:
        ops.append(Op("EXEC_FIFO", (EXEC_FIFO,)))
    ops += [Op("ARG", (a,)) for a in process["args"]]
    ops += [Op("ENV", (e,)) for e in env]
    if ctx.seccomp and not notify:
        ops += _seccomp_ops(process, ctx)
    ops.append(Op("EXEC"))
    return ops


# -- encoding for the C init (csrc/plan.h) --

def _encode_value(kind: str, value) -> bytes:
    if kind == "I":
        return struct.pack("<I", value)
    if kind == "Q":
        return struct.pack("<Q", value)
    if kind in "sb":
        data = value.encode() if isinstance(value, str) else bytes(value)
        return struct.pack("<I", len(data)) + data + b"\0"
    if kind == "L":
        return struct.pack(f"<I{len(value)}I", len(value), *value)
    raise ValueError(kind)


def encode(ops: list[Op], trace: bool = False) -> bytes:
    """The plan as the init reads it; with trace, it reports each step
    (MSG_TRACE: the index counts the TRACE op first)."""
    out = [struct.pack("<I", lib.PLAN_MAGIC)]
    for op in ([Op("TRACE")] if trace else []) + ops:
        sig = SIGNATURES[op.name]
        if len(sig) != len(op.args):
            raise ValueError(f"{op!r}: expected {len(sig)} arguments")
        payload = b"".join(_encode_value(k, v) for k, v in zip(sig, op.args))
        out.append(struct.pack("<II", lib.OPS[op.name][0], len(payload)))
        out.append(payload)
    return b"".join(out)
