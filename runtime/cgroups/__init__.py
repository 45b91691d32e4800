"""A container's cgroups, behind one interface: the Manager (manager.py).

    for_container(path, id)  the Manager for a new container on this host
    from_dirs(dirs)          the Manager of an existing one, from its state

The kind of host (v1, v2 or hybrid) is decided here, once, and known only
inside this package.
"""
from .hierarchy import discover
from .kinds import HybridManager, V1Manager, V2Manager
from .manager import V2_NAME, CgroupMount, Manager, default_spec_has_cgroup_namespace

__all__ = ["CgroupMount", "Manager", "default_spec_has_cgroup_namespace", "for_container",
           "from_dirs"]


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
