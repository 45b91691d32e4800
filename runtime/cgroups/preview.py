"""What a container's Manager would write for linux.resources, and what of it
this host lacks, found without writing anything: `pyrunc check` and
`pyrunc plan` (runtime/diagnose/) ask here, as only this package knows
which kind of host this is and where each limit goes."""
import os

from .manager import Manager
from .v2_tree import available, hierarchy_root


class Write(tuple):
    """One file write: its path, value, the config's pointer, and whether the
    file is a cgroup2 one. (A tuple: see plan_ops.Op.)"""
    __slots__ = ()

    def __new__(cls, path: str, value: str, pointer: str, v2: bool):
        return tuple.__new__(cls, (path, value, pointer, v2))

    path = property(lambda self: self[0])
    value = property(lambda self: self[1])
    pointer = property(lambda self: self[2])
    v2 = property(lambda self: self[3])


def planned_writes(manager: Manager, resources: dict) -> list[Write]:
    """Each file create would write, in order (ConfigError for a setting no
    file of this kind of host takes). A missing hierarchy shows as
    "<no X hierarchy>" in the path."""
    from .unset import drop_unset
    resources = drop_unset(resources)  # Go clients' zero values, as Manager.apply
    if not resources:
        return []
    from . import v1_resources, v2_resources  # as Manager.apply: only with limits
    v1_part, v2_part = manager.split(resources)  # each kind (and its systemd form) knows
    out = []
    for controller, name, value, pointer in (v1_resources.writes(v1_part) if v1_part else []):
        directory = manager.controller_dir(controller) or f"<no {controller} hierarchy>"
        out.append(Write(os.path.join(directory, name), value, pointer, False))
    v2_dir = manager._v2_dir() or "<no cgroup2 hierarchy>"
    for name, value, pointer in (v2_resources.writes(v2_part) if v2_part else []):
        out.append(Write(os.path.join(v2_dir, name), value, pointer, True))
    return out


def unavailable(writes: list[Write]) -> list[tuple[str, str]]:
    """(pointer, why) for each write this host cannot take: a v1 file missing
    from the nearest existing cgroup above the container's (the kernel does
    not offer it), a cgroup2 controller its hierarchy does not have."""
    out = []
    for w in writes:
        directory, name = os.path.split(w.path)
        if directory.startswith("<"):
            out.append((w.pointer, f"this host has {directory[1:-1]} for {name}"))
        elif w.v2:
            controller = name.split(".")[0]
            root = hierarchy_root(_existing(directory))
            if controller != "cgroup" and controller not in available(root):
                out.append((w.pointer, f"{name}: this host's cgroup v2 hierarchy offers no "
                                       f"{controller} controller"))
        elif not os.path.exists(os.path.join(_existing(directory), name)):
            out.append((w.pointer, f"{name} does not exist on this host (the kernel does not "
                                   "offer it)"))
    return out


def _existing(directory: str) -> str:
    while not os.path.isdir(directory):
        directory = os.path.dirname(directory)
    return directory
