"""A container's cgroups, behind one interface: the Manager (manager.py).

    for_container(path, id)  the Manager for a new container on this host
    from_dirs(dirs)          the Manager of an existing one, from its state
    refuse_systemd_driver()  --systemd-cgroup: no systemd driver yet (#16)

The kind of host (v1, v2 or hybrid) is decided here, once, and known only
inside this package.
"""
import os

from ..errors import PyruncError
from .hierarchy import discover
from .kinds import HybridManager, V1Manager, V2Manager
from .manager import V2_NAME, CgroupMount, Manager, default_spec_has_cgroup_namespace

__all__ = ["CgroupMount", "Manager", "default_spec_has_cgroup_namespace", "for_container",
           "from_dirs", "refuse_systemd_driver"]


def refuse_systemd_driver(asked: bool) -> None:
    """`--systemd-cgroup` asks for cgroups that systemd makes and owns (a
    transient scope over D-Bus). pyrunc has no systemd driver yet: a create
    that asks for one fails before it makes anything, rather than make
    cgroupfs directories named "slice:prefix:name" that systemd knows nothing of."""
    if not asked:
        return
    running = os.path.isdir("/run/systemd/system")  # sd_booted(3)'s test
    raise PyruncError("--systemd-cgroup: pyrunc has no systemd cgroup driver yet"
                      + ("" if running else
                         " (and systemd is not running on this host: no /run/systemd/system)")
                      + "; leave the flag out and pyrunc manages the cgroups itself")


def for_container(cgroups_path: str | None, container_id: str) -> Manager:
    """The Manager for a new container: its directories on every hierarchy
    of this host. runc's default path: the id, below the caller's own cgroup."""
    hierarchies = discover()
    path = cgroups_path or container_id
    dirs = {h.name: h.container_dir(path) for h in hierarchies}
    return _kind(dirs)(dirs, hierarchies)


def from_dirs(dirs: dict[str, str]) -> Manager:
    """The Manager of an existing container, from the dirs its state saved."""
    return _kind(dirs)(dirs)


def _kind(dirs: dict) -> type:
    if not dirs:
        return Manager
    if V2_NAME not in dirs:
        return V1Manager
    return V2Manager if len(dirs) == 1 else HybridManager
