"""The plan's vocabulary: an Op is one step for the C init (its name and
payload signature come from csrc/plan.h's PLAN_OPS, through the generated
runtime/_consts.py), a PlanContext is what the planner needs besides
config.json, and encode() lays a plan out as the init reads it."""
import os
import struct

from . import _consts as lib
from . import caps
from .procfs import mounts

NO_FD = 0xFFFFFFFF

# Every op's number and payload signature come from csrc/plan.h's PLAN_OPS
# (runtime/_consts.py): I = u32, Q = u64, s = string, b = bytes, L = u32
# count followed by that many u32.
SIGNATURES = {name: sig for name, (_number, sig) in lib.OPS.items()}


class Op(tuple):
    """One step for the C init: a name from SIGNATURES and its arguments.
    (A tuple, not a namedtuple: creating one costs ~0.2 ms on every create.)"""
    __slots__ = ()

    def __new__(cls, name: str, args: tuple = ()):
        return tuple.__new__(cls, (name, args))

    name = property(lambda self: self[0])
    args = property(lambda self: self[1])

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
                 seccomp_fd: int | None = None,
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
        # The init's fd of the memfd a program still compiling goes to
        # (seccomp.PendingProgram): then the plan loads it from there.
        self.seccomp_fd = seccomp_fd
        # linux.mountLabel, only where SELinux is enabled: elsewhere the kernel
        # refuses a context= option (runc passes it and fails with EINVAL).
        self.mount_label = mount_label
        self.no_pivot = no_pivot
        self.preserve_fds = preserve_fds
        self.cap_last_cap = cap_last_cap
        # The "cgroup" mount's filesystems: cgroups.CgroupMount, from the Manager.
        self.cgroup_mounts = cgroup_mounts or []
        self.probe = probe or HostProbe()
        # Cgroup placement without the kernel's global lock: the init is cloned
        # into the cgroup2 dir (fd number in the init) and writes "0" to each
        # v1 tasks file [(fd number, path)] itself.
        self.clone_cgroup_fd = clone_cgroup_fd
        self.cgroup_task_fds = cgroup_task_fds or []


def clean(path: str) -> str:
    """Lexically clean an absolute container path ('..' cannot climb above /)."""
    return os.path.normpath("/" + path).replace("//", "/")




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
