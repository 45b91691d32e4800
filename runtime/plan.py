"""config.json → launch plan: the ordered list of ops the C init executes.

Everything here is a decision: which namespaces to make or join, which mounts in
which order with which flags, which devices, which capabilities. The C init takes
none. Building a plan does no I/O except through the `HostProbe` it is given, so
it can be unit-tested without root.

    plan.py          the order of a whole plan: build (create), build_exec (exec)
    plan_ops.py      Op, PlanContext, HostProbe, encode
    plan_mounts.py   the filesystem: rootfs, mounts, devices, pivot, paths
    plan_process.py  the process: credentials, capabilities, rlimits, exec
"""
from . import _consts as lib
from . import process_attrs
from .config import Config
from .plan_mounts import post_pivot_ops, read_only_later, root_propagation_ops, rootfs_ops
from .plan_ops import NO_FD, HostProbe, Op, PlanContext, encode
from .plan_process import (exec_ops, final_affinity, first_process_affinity, mempolicy_ops,
                           oom_score_adj_ops, process_ops)

__all__ = ["HostProbe", "Op", "PlanContext", "build", "build_exec", "encode"]

NAMESPACE_FLAGS = {
    "pid": lib.CLONE_NEWPID, "network": lib.CLONE_NEWNET, "mount": lib.CLONE_NEWNS,
    "ipc": lib.CLONE_NEWIPC, "uts": lib.CLONE_NEWUTS, "user": lib.CLONE_NEWUSER,
    "cgroup": lib.CLONE_NEWCGROUP, "time": lib.CLONE_NEWTIME,
}
# Joining order: the user namespace first (it grants the rights to join the
# others), mount last (paths to the other namespaces are host paths).
JOIN_ORDER = ("user", "ipc", "uts", "network", "pid", "cgroup", "time", "mount")


def _namespaces(config: dict) -> tuple[int, list[tuple[str, str]]]:
    new_flags = 0
    joins = []
    for ns in Config(config).namespace_entries():
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
    linux = Config(config).linux
    process_attrs.check_intel_rdt(linux)

    # -- first process: join namespaces by path, then clone the container init.
    ops += oom_score_adj_ops(process.get("oomScoreAdj"))
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
    first_process_affinity(process)
    final_affinity(process)
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
    ops += rootfs_ops(config, ctx)
    if process.get("terminal"):
        size = process.get("consoleSize", {})
        ops.append(Op("CONSOLE", (size.get("height", 0), size.get("width", 0), 1,
                                  process.get("user", {}).get("uid", 0))))
    ops += post_pivot_ops(config, new_ns, ctx)
    ops += root_propagation_ops(config)
    persona = process_attrs.personality(linux)
    if persona is not None:
        ops.append(Op("PERSONALITY", (persona,)))
    ops += mempolicy_ops(process_attrs.memory_policy(linux))
    ops += process_ops(process, ctx)
    ops += exec_ops(process, ctx)
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
    ops = oom_score_adj_ops(oom_score_adj)  # the container's, as runc
    ops += [Op("SETNS_FD", (pidfd, rest))] if rest else []
    ops += first_process_affinity(process, pointer)
    ops.append(_clone_op(0, ctx))
    ops += _join_cgroup_ops(ctx)
    if cgroup_ns:
        ops.append(Op("SETNS_FD", (pidfd, cgroup_ns)))
    ops += [Op("SETSID"), Op("DUMPABLE", (0,))]
    ops += final_affinity(process, pointer)
    if process.get("terminal"):
        size = process.get("consoleSize", {})
        ops.append(Op("CONSOLE", (size.get("height", 0), size.get("width", 0), 0,
                                  process.get("user", {}).get("uid", 0))))
    # The container's linux.personality and memoryPolicy (not inherited: we fork from pyrunc).
    if persona is not None:
        ops.append(Op("PERSONALITY", (persona,)))
    ops += mempolicy_ops(mempolicy)
    # A hook's environment is the hook's own: no default HOME (program: a hook).
    ops += process_ops(process, ctx, pointer, default_home=program is None)
    ops += exec_ops(process, ctx, fifo=False, program=program)
    return ops


def _clone_op(flags: int, ctx: PlanContext) -> Op:
    if ctx.clone_cgroup_fd is None:
        return Op("CLONE", (flags, NO_FD))
    return Op("CLONE", (flags | lib.CLONE_INTO_CGROUP, ctx.clone_cgroup_fd))


def _join_cgroup_ops(ctx: PlanContext) -> list[Op]:
    return [Op("WRITE_FD", (fd, "0", f"join cgroup {path}")) for fd, path in ctx.cgroup_task_fds]
