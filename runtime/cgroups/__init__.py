"""A container's cgroups, behind one interface: the Manager (manager.py).

    for_container(path, id)  the Manager for a new container on this host
                             (with systemd=True, systemd's: systemd.py)
    from_dirs(saved)         the Manager of an existing one, from its state
    check_systemd_driver()   --systemd-cgroup can work here (before create
                             makes anything)

The kind of host (v1, v2 or hybrid) is decided here, once, and known only
inside this package.
"""
import os

from ..errors import PyruncError
from .hierarchy import discover
from .kinds import HybridManager, V1Manager, V2Manager
from .manager import UNIT_KEY, V2_NAME, CgroupMount, Manager, default_spec_has_cgroup_namespace

__all__ = ["UNIT_KEY", "CgroupMount", "Manager", "check_systemd_driver",
           "default_spec_has_cgroup_namespace", "for_container", "from_dirs"]


def check_systemd_driver(rootless: bool) -> None:
    """--systemd-cgroup asks for cgroups that systemd makes and owns (a
    transient unit over D-Bus). Fails, before create makes anything, where
    that cannot work: no systemd; rootless (the user's own systemd), where
    the host is not pure cgroup v2 (a user's systemd is given no v1
    hierarchies, as runc says)."""
    if not os.path.isdir("/run/systemd/system"):  # sd_booted(3)'s test
        raise PyruncError("--systemd-cgroup: systemd is not running on this host (no "
                          "/run/systemd/system); leave the flag out and pyrunc manages the "
                          "cgroups itself")
    if rootless and [h.name for h in discover()] != [V2_NAME]:
        raise PyruncError("--systemd-cgroup, rootless: the user's systemd manages cgroups "
                          "only on a pure cgroup v2 host; leave the flag out")


def for_container(cgroups_path: str | None, container_id: str, systemd: bool = False,
                  annotations: dict | None = None) -> Manager:
    """The Manager for a new container: its directories on every hierarchy
    of this host. runc's default path: the id, below the caller's own cgroup.
    With systemd, the unit runc would make (systemd_units.py)."""
    hierarchies = discover()
    if systemd:
        from .systemd import for_unit
        from .systemd_props import annotation_properties
        from .systemd_units import unit_for
        unit = unit_for(cgroups_path, container_id, rootless=os.geteuid() != 0)
        return for_unit(unit, hierarchies, container_id, annotation_properties(annotations))
    path = cgroups_path or container_id
    dirs = {h.name: h.container_dir(path) for h in hierarchies}
    return _kind(dirs)(dirs, hierarchies)


def from_dirs(saved: dict[str, str]) -> Manager:
    """The Manager of an existing container, from what its state saved
    (Manager.saved())."""
    if UNIT_KEY in saved:
        from .systemd import for_dirs
        dirs = {k: v for k, v in saved.items() if k != UNIT_KEY}
        return for_dirs(dirs)(dirs, unit_name=saved[UNIT_KEY])
    return _kind(saved)(saved)


def _kind(dirs: dict) -> type:
    if not dirs:
        return Manager
    if V2_NAME not in dirs:
        return V1Manager
    return V2Manager if len(dirs) == 1 else HybridManager
