"""`pyrunc plan`: the plan create would run, in words. The steps are the ops
of dry_plan.build, numbered as the init numbers them in its --debug trace
(init step N is step N here); around them, what pyrunc itself does: the
cgroups and the files it writes there, the seccomp filter, the hooks."""

from .. import _consts as lib
from .. import caps
from ..cgroups.manager import UNIT_KEY
from ..config import Config
from ..plan import NAMESPACE_FLAGS
from ..plan_process import RLIMITS, RLIM_INFINITY
from .dry_plan import CGROUP_DIR_FD, DryPlan

MOUNT_FLAGS = (("MS_RDONLY", "ro"), ("MS_NOSUID", "nosuid"), ("MS_NODEV", "nodev"),
               ("MS_NOEXEC", "noexec"), ("MS_SYNCHRONOUS", "sync"), ("MS_REMOUNT", "remount"),
               ("MS_DIRSYNC", "dirsync"), ("MS_NOSYMFOLLOW", "nosymfollow"),
               ("MS_NOATIME", "noatime"), ("MS_NODIRATIME", "nodiratime"), ("MS_BIND", "bind"),
               ("MS_MOVE", "move"), ("MS_REC", "recursive"), ("MS_RELATIME", "relatime"),
               ("MS_STRICTATIME", "strictatime"), ("MS_LAZYTIME", "lazytime"))
PROPAGATION = (("MS_SHARED", "shared"), ("MS_SLAVE", "slave"), ("MS_PRIVATE", "private"),
               ("MS_UNBINDABLE", "unbindable"))
RECURSIVE = (("MS_REC", "recursive"),)
ATTRS = (("MOUNT_ATTR_RDONLY", "ro"), ("MOUNT_ATTR_NOSUID", "nosuid"),
         ("MOUNT_ATTR_NODEV", "nodev"), ("MOUNT_ATTR_NOEXEC", "noexec"),
         ("MOUNT_ATTR_NOATIME", "noatime"), ("MOUNT_ATTR_STRICTATIME", "strictatime"),
         ("MOUNT_ATTR_NODIRATIME", "nodiratime"), ("MOUNT_ATTR_NOSYMFOLLOW", "nosymfollow"))
RLIMIT_NAMES = {number: name for name, number in RLIMITS.items()}
PIVOTS = {lib.ROOT_PIVOT: "pivot_root into the rootfs, the old root detached",
          lib.ROOT_MOVE: "move the rootfs onto / and chroot (--no-pivot)",
          lib.ROOT_CHROOT: "chroot into the rootfs (no mount namespace of its own)"}


def flag_names(value: int, table) -> list[str]:
    return [word for const, word in table if value & getattr(lib, const)]


def namespaces(flags: int) -> str:
    names = [name for name, bit in NAMESPACE_FLAGS.items() if flags & bit]
    return ", ".join(names) or "none"


def capabilities(mask: int) -> str:
    names = [name for i, name in enumerate(caps.NAMES) if mask >> i & 1]
    return ", ".join(n.removeprefix("CAP_").lower() for n in names) or "none"


def _limit(value: int) -> str:
    return "unlimited" if value == RLIM_INFINITY else str(value)


def _mount(args) -> str:
    flags, remount, propagation, source, target, fstype, data, _no_symlinks = args
    words = flag_names(flags, MOUNT_FLAGS)
    text = (f"bind {source} on {target}" if flags & lib.MS_BIND
            else f"mount {fstype or 'a filesystem'} ({source}) on {target}")
    if words:
        text += f", flags {','.join(words)}"
    if data:
        text += f", data {data}"
    if remount:
        text += f"; then remount {','.join(flag_names(remount, MOUNT_FLAGS))}"
    if propagation:
        text += f"; propagation {','.join(flag_names(propagation, PROPAGATION + RECURSIVE))}"
    return text


def _clone(args) -> str:
    flags, fd = args
    where = "into the container's cgroup (CLONE_INTO_CGROUP)" if fd == CGROUP_DIR_FD else ""
    return (f"clone the container init with new namespaces: "
            f"{namespaces(flags & ~lib.CLONE_INTO_CGROUP)} {where}").strip()


WORDS = {
    "SETNS": lambda a: f"join the {namespaces(a[0])} namespace at {a[1]}",
    "CLONE": _clone,
    "WAIT": lambda a: "wait for pyrunc (it writes the id maps, moves network devices, "
                      "sets pids.max)",
    "READY": lambda a: "tell pyrunc the container is ready, and wait",
    "UNSHARE": lambda a: f"unshare a new {namespaces(a[0])} namespace",
    "DUMPABLE": lambda a: "not dumpable: no process that can see the init may ptrace it"
                          if a[0] == 0 else "dumpable",
    "MOUNT_PROPAGATE": lambda a: f"make {a[1]} {','.join(flag_names(a[0], PROPAGATION))}"
                                 + (" (recursive)" if a[0] & lib.MS_REC else ""),
    "ROOTFS": lambda a: f"open the rootfs {a[0]}" + (" (bound onto itself)" if a[1] else ""),
    "MKDIRS": lambda a: f"mkdir -p {a[1]} (mode {a[0]:o}) in the rootfs",
    "MKFILE": lambda a: f"create the empty file {a[0]} as a bind target",
    "MOUNT": _mount,
    "MKNOD": lambda a: f"mknod {a[5]} ({'block' if a[0] & 0o170000 == lib.S_IFBLK else 'char'}"
                       f" {a[1]}:{a[2]}, mode {a[0] & 0o7777:o}, owner {a[3]}:{a[4]})",
    "BIND_DEV": lambda a: f"bind the host's {a[0]} on {a[1]} (no mknod in a user namespace)",
    "SYMLINK": lambda a: f"symlink {a[1]} -> {a[0]}",
    "PIVOT": lambda a: PIVOTS.get(a[0], f"root mode {a[0]}"),
    "MASK": lambda a: f"mask {a[0]}",
    "READONLY": lambda a: f"make {a[0]} read-only (a read-only bind onto itself)",
    "REMOUNT_RO": lambda a: f"remount {a[0]} read-only",
    "WRITE_FILE": lambda a: f"write {a[1].strip()!r} to {a[0]}",
    "HOSTNAME": lambda a: f"set the hostname to {a[0]!r}",
    "DOMAINNAME": lambda a: f"set the domain name to {a[0]!r}",
    "LOOPBACK_UP": lambda a: "bring the loopback interface up",
    "RLIMIT": lambda a: f"{RLIMIT_NAMES.get(a[0], a[0])}: soft {_limit(a[1])}, "
                        f"hard {_limit(a[2])}",
    "DROP_BOUNDING": lambda a: f"keep in the bounding set: {capabilities(a[0])}",
    "KEEPCAPS": lambda a: f"keep capabilities across setuid: {'on' if a[0] else 'off'}",
    "SETGROUPS": lambda a: f"supplementary groups: {', '.join(map(str, a[0])) or 'none'}",
    "DEFAULT_HOME": lambda a: f"HOME from the container's /etc/passwd for uid {a[0]} "
                              "(/ if none): the environment has none",
    "SETGID": lambda a: f"setgid {a[0]}",
    "SETUID": lambda a: f"setuid {a[0]}",
    "CAPSET": lambda a: f"capabilities: effective {capabilities(a[0])}; permitted "
                        f"{capabilities(a[1])}; inheritable {capabilities(a[2])}",
    "AMBIENT": lambda a: f"raise ambient capabilities: {capabilities(a[0])}",
    "NO_NEW_PRIVS": lambda a: "set no_new_privs",
    "UMASK": lambda a: f"umask {a[0]:04o}",
    "CHDIR": lambda a: f"chdir to {a[0]}",
    "LOOKUP": lambda a: f"find {a[0]}" + (f" in PATH={a[1]}" if "/" not in a[0] else ""),
    "EXEC_FIFO": lambda a: "wait on the exec fifo until `pyrunc start`",
    "CLOSE_FDS": lambda a: f"close every fd from {a[0]} on at exec",
    "SECCOMP": lambda a: f"load the seccomp filter ({len(a[1]) // 8} BPF instructions)",
    "SECCOMP_FD": lambda a: f"load the seccomp filter from fd {a[1]}, compiled meanwhile",
    "ARG": lambda a: f"argument {a[0]!r}",
    "ENV": lambda a: f"environment {a[0]}",
    "EXEC": lambda a: "execve the program",
    "SETSID": lambda a: "start a new session",
    "MOUNT_SETATTR": lambda a: f"set {','.join(flag_names(a[0], ATTRS)) or '-'} and clear "
                               f"{','.join(flag_names(a[1], ATTRS)) or '-'} on the mounts "
                               f"under {a[2]}",
    "WRITE_FD": lambda a: a[2],
    "SETNS_FD": lambda a: f"join the {namespaces(a[1])} namespaces of the container",
    "CONSOLE": lambda a: f"make a pty ({a[0]}x{a[1]}), the terminal of the process (uid "
                         f"{a[3]})" + (", bound on /dev/console" if a[2] else ""),
    "IOPRIO": lambda a: f"I/O priority class {a[0] >> 13}, level {a[0] & 0x1fff}",
    "SCHED": lambda a: f"scheduler policy {a[0]}, nice {a[2]}, priority {a[3]}",
    "AFFINITY": lambda a: f"CPU affinity mask {a[0].hex()}",
    "PERSONALITY": lambda a: f"personality {a[0]:#x}",
    "HOOKS": lambda a: "stop for pyrunc to run the prestart, createRuntime and "
                       "createContainer hooks",
    "MOVE_MOUNT": lambda a: f"attach the id-mapped tree pyrunc prepared on {a[3]}",
    "RESET_SIGNALS": lambda a: "reset every signal to its default, unblock all",
    "TRACE": lambda a: "trace the steps (--debug)",
    "HIDE_MOUNT": lambda a: f"detach {a[0]}, which would stay visible under the moved root",
    "MEMPOLICY": lambda a: f"memory policy mode {a[0]:#x}",
}


def step_text(op) -> str:
    words = WORDS.get(op.name)
    return words(op.args) if words else f"{op.name} {op.args!r}"


def _arg_json(value):
    if isinstance(value, (bytes, bytearray)):
        return f"<{len(value)} bytes>"
    if isinstance(value, tuple):
        return list(value)
    return value


def describe(config: dict, dry: DryPlan, bundle: str, container_id: str,
             rootless: bool = False) -> dict:
    """rootless: create leaves out the cgroups it may not write (rootless.py),
    which only trying tells; the plan says so."""
    view = Config(config)
    return {
        "bundle": bundle, "containerId": container_id, "rootfs": dry.rootfs,
        "cgroups": dict(_cgroups(view, dry), leftOutIfNotWritable=rootless),
        "seccomp": _seccomp(view.linux.get("seccomp"), dry.seccomp),
        "steps": [{"step": i, "op": op.name, "args": [_arg_json(a) for a in op.args],
                   "text": step_text(op)} for i, op in enumerate(dry.ops, start=1)],
        "hooks": _hooks(view.hooks or {}),
    }


def _cgroups(view: Config, dry: DryPlan) -> dict:
    """The container's directory per hierarchy, and each file its limits
    would write (in the order create writes them)."""
    from ..cgroups.preview import planned_writes  # only for a plan
    writes = planned_writes(dry.cgroups, view.resources)
    return {"dirs": dict(dry.cgroups.dirs), "systemdUnit": dry.cgroups.saved().get(UNIT_KEY),
            "writes": [{"file": w.path, "value": w.value, "pointer": w.pointer} for w in writes]}


def _seccomp(profile: dict | None, compiled) -> dict | None:
    if not profile:
        return None
    actions: dict[str, int] = {}
    for rule in profile.get("syscalls", []):
        actions[rule["action"]] = actions.get(rule["action"], 0) + len(rule["names"])
    default = profile["defaultAction"]
    if "defaultErrnoRet" in profile:
        default += f" (errno {profile['defaultErrnoRet']})"
    return {"defaultAction": default, "syscallsByAction": actions,
            "architectures": profile.get("architectures", []),
            "flags": profile.get("flags", []), "listenerPath": profile.get("listenerPath"),
            "instructions": len(compiled.program) // 8 if compiled else 0}


# Where each hook runs, and when (runtime.md "Lifecycle").
HOOK_PLACES = (
    ("prestart", "create, at the HOOKS step", "pyrunc, in the host's namespaces"),
    ("createRuntime", "create, at the HOOKS step", "pyrunc, in the host's namespaces"),
    ("createContainer", "create, at the HOOKS step", "in the container's namespaces"),
    ("startContainer", "start, before the program runs", "in the container, as its process"),
    ("poststart", "start, once the program runs", "pyrunc, in the host's namespaces"),
    ("poststop", "delete", "pyrunc, in the host's namespaces"),
)


def _hooks(table: dict) -> list[dict]:
    return [{"kind": kind, "when": when, "where": where, "path": hook["path"],
             "args": hook.get("args", []), "timeout": hook.get("timeout")}
            for kind, when, where in HOOK_PLACES for hook in table.get(kind) or []]


def as_text(plan: dict) -> str:
    lines = [f"plan for {plan['bundle']} as `pyrunc create {plan['containerId']}` would run "
             "it on this host (nothing was run)", ""]
    cg = plan["cgroups"]
    lines.append(f"cgroups (systemd unit {cg['systemdUnit']}):" if cg["systemdUnit"]
                 else "cgroups:")
    lines += [f"  {name}: {path}" for name, path in cg["dirs"].items()] or ["  none"]
    if cg["leftOutIfNotWritable"]:
        lines.append("  (rootless: create leaves out each of these it may not write)")
    for w in cg["writes"]:
        lines.append(f"  write {w['value']!r} to {w['file']}   ({w['pointer']})")
    sc = plan["seccomp"]
    if sc:
        by_action = ", ".join(f"{a} {n}" for a, n in sc["syscallsByAction"].items()) or "none"
        lines += ["", f"seccomp: default {sc['defaultAction']}; syscalls by action: {by_action}",
                  f"  architectures: {', '.join(sc['architectures']) or 'native only'}; "
                  f"flags: {', '.join(sc['flags']) or 'none'}; {sc['instructions']} BPF "
                  "instructions" + (f"; listener {sc['listenerPath']}" if sc["listenerPath"] else "")]
    else:
        lines += ["", "seccomp: none"]
    lines += ["", "steps of the init (--debug traces them as `init step N`):"]
    width = len(str(len(plan["steps"])))
    for s in plan["steps"]:
        lines.append(f"  {s['step']:>{width}}. {s['op']:<15} {s['text']}")
    lines += ["", "hooks:"]
    lines += [f"  {h['kind']}: {h['path']} {' '.join(h['args'][1:])}".rstrip()
              + f"  ({h['when']}; {h['where']})" for h in plan["hooks"]] or ["  none"]
    return "\n".join(lines)
