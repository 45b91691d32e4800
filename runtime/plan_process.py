"""The process in plan ops, for the container's init and for exec: its
oom_score_adj, CPU affinity and memory policy, I/O priority, scheduler,
rlimits, LSM labels, credentials and capabilities, then the program's lookup,
the exec fifo, argv and env, and the seccomp filter right before execve."""
from . import caps, process_attrs
from .errors import ConfigError
from .plan_ops import Op, PlanContext

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
EXEC_FIFO = "exec.fifo"
RLIM_INFINITY = 2**64 - 1
RLIMITS = {
    "RLIMIT_CPU": 0, "RLIMIT_FSIZE": 1, "RLIMIT_DATA": 2, "RLIMIT_STACK": 3,
    "RLIMIT_CORE": 4, "RLIMIT_RSS": 5, "RLIMIT_NPROC": 6, "RLIMIT_NOFILE": 7,
    "RLIMIT_MEMLOCK": 8, "RLIMIT_AS": 9, "RLIMIT_LOCKS": 10, "RLIMIT_SIGPENDING": 11,
    "RLIMIT_MSGQUEUE": 12, "RLIMIT_NICE": 13, "RLIMIT_RTPRIO": 14, "RLIMIT_RTTIME": 15,
}


def oom_score_adj_ops(value: int | None) -> list[Op]:
    """oom_score_adj in the first process, still the host's root in our
    namespaces (a process inherits it across clone): inside a user namespace,
    once non-dumpable, /proc/self/oom_score_adj belongs to the host's root and
    the namespace's root may not open it (as runc's nsexec does it)."""
    if value is None:
        return []
    return [Op("WRITE_FILE", ("/proc/self/oom_score_adj", str(value)))]


def mempolicy_ops(policy) -> list[Op]:
    """set_mempolicy(mode | flags, nodes): the process and its children."""
    if policy is None:
        return []
    mode, mask = policy
    return [Op("MEMPOLICY", (mode, bytes(mask)))]


def first_process_affinity(process: dict, pointer: str = "/process") -> list[Op]:
    """execCPUAffinity.initial: the CPUs the process runs on until it is in
    the container's cgroups (set before the clone, which inherits it)."""
    mask = process_attrs.affinity(process, "initial", pointer)
    return [Op("AFFINITY", (mask,))] if mask else []


def final_affinity(process: dict, pointer: str = "/process") -> list[Op]:
    mask = process_attrs.affinity(process, "final", pointer)
    return [Op("AFFINITY", (mask,))] if mask else []


def process_ops(process: dict, ctx: PlanContext, pointer: str = "/process",
                default_home: bool = True) -> list[Op]:
    """I/O priority and scheduler (while still root), rlimits, LSM labels,
    then credentials. default_home: HOME from the container's /etc/passwd
    when the environment has none (runc's default, for a container's
    processes, not for hooks)."""
    ops = []
    ioprio = process_attrs.ioprio_value(process, pointer)
    if ioprio is not None:
        ops.append(Op("IOPRIO", (ioprio,)))
    sched = process_attrs.sched_args(process, pointer)
    if sched is not None:
        ops.append(Op("SCHED", sched))
    ops += _rlimit_ops(process)
    ops += [Op("WRITE_FILE", w) for w in process_attrs.lsm_writes(process, pointer)]
    ops += _credential_ops(process, ctx, pointer, default_home)
    return ops


def _rlimit_ops(process: dict) -> list[Op]:
    ops = []
    for r in process.get("rlimits", []):
        soft, hard = (RLIM_INFINITY if v == -1 or v >= RLIM_INFINITY else v
                      for v in (r["soft"], r["hard"]))
        ops.append(Op("RLIMIT", (RLIMITS[r["type"]], soft, hard)))
    return ops


def _credential_ops(process: dict, ctx: PlanContext, pointer: str = "/process",
                    default_home: bool = True) -> list[Op]:
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
    if default_home and not any(e.startswith("HOME=") for e in process.get("env", [])):
        # Read in the container after its mounts, while root, as runc reads it.
        ops.append(Op("DEFAULT_HOME", (user.get("uid", 0),)))
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
    if ctx.seccomp.program is None:  # compiling meanwhile, into a memfd (create)
        ops = [Op("SECCOMP_FD", (ctx.seccomp.flags, ctx.seccomp_fd))]
    else:
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


def exec_ops(process: dict, ctx: PlanContext, fifo: bool = True,
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
