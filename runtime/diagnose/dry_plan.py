"""The plan create would hand the C init, built without starting anything:
the same spec checks, process preparation, seccomp compilation and planner
(plan.build) as create, from a PlanContext that names no fds. Where create
would clone the init into its cgroup by fd, the dry plan says "the
container's cgroup" instead."""
import os

from .. import plan
from ..caps import last_cap
from ..cgroups import check_systemd_driver, for_container
from ..config import Config
from ..launch import cgroup_mounts_for, compile_seccomp, id_mapped_mounts, mount_label
from ..plan_mounts import rootfs_path
from ..process_setup import prepare_process
from ..userns import denies_setgroups

# Stand-ins for the fd numbers create gives the init: the plan only carries them.
CGROUP_DIR_FD = 1000
TASKS_FD_BASE = 1001
TREE_FD_BASE = 1100


class DryPlan:
    __slots__ = ("ops", "cgroups", "seccomp", "rootfs", "placement", "trees")

    def __init__(self, ops, cgroups, seccomp, rootfs, placement, trees):
        self.ops, self.cgroups, self.seccomp = ops, cgroups, seccomp
        self.rootfs, self.placement, self.trees = rootfs, placement, trees


def build(config: dict, bundle: str, container_id: str, no_pivot: bool = False,
          systemd: bool = False) -> DryPlan:
    """config: loaded and checked (spec.load or diagnose.config_checks); it
    is changed as create changes it (HOME, ungrantable capabilities).
    systemd: --systemd-cgroup, the unit's cgroups (systemd is asked where
    they are, and nothing is started)."""
    view = Config(config)
    rootfs = rootfs_path(config, bundle)
    prepare_process(view.process, "/process", 0, [])
    seccomp = compile_seccomp(view.linux.get("seccomp"), None)  # None: no cache to write
    if systemd:
        check_systemd_driver(os.geteuid() != 0)
    cgroups = for_container(view.linux.get("cgroupsPath"), container_id, systemd,
                            view.annotations)
    placement = cgroups.placement()
    trees = _id_mapped_pointers(view, bundle)
    ctx = plan.PlanContext(
        bundle=bundle, no_pivot=no_pivot, cap_last_cap=last_cap(),
        cgroup_mounts=cgroup_mounts_for(view, cgroups),
        clone_cgroup_fd=CGROUP_DIR_FD if placement.clone_dir else None,
        cgroup_task_fds=[(TASKS_FD_BASE + i, path) for i, path in enumerate(placement.task_files)],
        seccomp=seccomp, mount_label=mount_label(view),
        idmapped={p: TREE_FD_BASE + i for i, p in enumerate(trees)},
        setgroups_denied=denies_setgroups(config),
        dumpable=os.geteuid() != 0 and view.creates("pid"))
    return DryPlan(plan.build(config, ctx), cgroups, seccomp, rootfs, placement, trees)


def _id_mapped_pointers(view: Config, bundle: str) -> list[str]:
    """The mounts create prepares as detached trees (idmap.wanted), by pointer."""
    return [w.pointer for w in id_mapped_mounts(view, bundle)]
