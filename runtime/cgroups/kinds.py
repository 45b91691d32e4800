"""The three kinds of cgroup host, each a Manager (manager.py):

    V1Manager      v1 hierarchies only, one per controller set (comounted ones
                   such as "cpu,cpuacct" share a directory)
    HybridManager  v1 controllers plus cgroup2 at /sys/fs/cgroup/unified (this
                   project's CI host), as runc handles it: the container goes
                   into every v1 hierarchy and into the unified one; the v1
                   controllers take what they have, the unified hierarchy what
                   v1 lacks (hugetlb and rdma where they are cgroup2's only)
                   and the `unified` keys
    V2Manager      a pure cgroup v2 host, one hierarchy with every controller

The modules behind resources, stats, OOM watches and delegation are imported
by the methods that use them (see Manager.apply).
"""
import os

from .freezer import Freezer
from .manager import V2_NAME, Manager

# Sections the unified hierarchy takes on a hybrid host when v1 lacks their controller.
V2_FALLBACK = {"hugepageLimits": "hugetlb", "rdma": "rdma"}

class V1Manager(Manager):
    kind = "v1"

    def controller_dir(self, controller: str) -> str | None:
        """The container's dir of the hierarchy holding controller (maybe
        comounted: "cpu,cpuacct")."""
        own = self.dirs.get(controller)  # the usual case, and `list` asks per container
        if own is not None and controller != V2_NAME:
            return own
        for name, d in self.dirs.items():
            if name != V2_NAME and (name == controller or controller in name.split(",")):
                return d
        return None

    def _v1_dirs(self) -> dict[str, str]:
        return {name: d for name, d in self.dirs.items() if name != V2_NAME}

    def freezer(self) -> Freezer:
        return Freezer.v1(self.controller_dir("freezer"))

    def _apply(self, resources: dict, creating: bool) -> None:
        if resources:
            from . import v1_resources  # deferred: see Manager.apply
            v1_resources.apply(self._v1_dirs(), resources)

    def _controls_devices(self) -> bool:
        return self.controller_dir("devices") is not None

    def _memory_usage_file(self) -> str:
        memory = self.controller_dir("memory")
        return os.path.join(memory, "memory.usage_in_bytes") if memory else ""

    def stats(self) -> dict:
        controllers = {}
        for name, path in self._v1_dirs().items():
            if not name.startswith("name="):  # named hierarchies hold no controller
                for controller in name.split(","):
                    controllers[controller] = path
        from .stats import collect_v1  # deferred: see Manager.apply
        return collect_v1(controllers, self._v2_dir())

    def oom_watch(self):
        from .oom import OomWatch, V1OomWatch  # deferred: see Manager.apply
        memory = self.controller_dir("memory")
        return V1OomWatch(memory) if memory else OomWatch()


class HybridManager(V1Manager):
    kind = "hybrid"

    def freezer(self) -> Freezer:
        if self.controller_dir("freezer"):
            return super().freezer()
        return Freezer.v2(self._v2_dir())

    def split(self, resources: dict) -> tuple[dict, dict]:
        """(what v1 takes, what the unified hierarchy takes)."""
        v1_part, v2_part = dict(resources), {}
        if self._v2_dir():  # else v1 refuses what it lacks, naming the field
            for section, controller in V2_FALLBACK.items():
                if section in v1_part and self.controller_dir(controller) is None:
                    v2_part[section] = v1_part.pop(section)
            if "unified" in v1_part:
                v2_part["unified"] = v1_part.pop("unified")
        return v1_part, v2_part

    def _apply(self, resources: dict, creating: bool) -> None:
        v1_part, v2_part = self.split(resources)
        if self._v2_dir() and (v2_part or creating):
            # Only the controllers this container asks of cgroup2.
            from .resources import apply_v2  # deferred: see Manager.apply
            apply_v2(self._v2_dir(), v2_part, creating, every_controller=False)
        super()._apply(v1_part, creating)

    def _memory_usage_file(self) -> str:
        return (super()._memory_usage_file()
                or os.path.join(self._v2_dir() or "", "memory.current"))


class V2Manager(Manager):
    kind = "v2"
    every_controller = True  # enable all the host has in the ancestors (see apply_v2)

    def split(self, resources: dict) -> tuple[dict, dict]:
        return {}, dict(resources)

    def freezer(self) -> Freezer:
        return Freezer.v2(self._v2_dir())

    def _apply(self, resources: dict, creating: bool) -> None:
        if self._v2_dir():
            from .resources import apply_v2  # deferred: see Manager.apply
            apply_v2(self._v2_dir(), resources, creating, self.every_controller)
        else:
            super()._apply(resources, creating)

    def _controls_devices(self) -> bool:
        return self._v2_dir() is not None  # a BPF device program on the cgroup

    def _memory_usage_file(self) -> str:
        return os.path.join(self._v2_dir() or "", "memory.current")

    def stats(self) -> dict:
        from .stats import collect_v2  # deferred: see Manager.apply
        return collect_v2(self._v2_dir())

    def oom_watch(self):
        from .oom import OomWatch, V2OomWatch  # deferred: see Manager.apply
        return V2OomWatch(self._v2_dir()) if self._v2_dir() else OomWatch()

    def delegate(self, config: dict) -> None:
        if self._v2_dir():
            from .delegation import delegate  # deferred: see Manager.apply
            delegate(self._v2_dir(), config)

    def container_mounts(self, own_namespace: bool, user_namespace: bool, bound_at) -> list:
        """One cgroup2 mount at the destination itself. A fresh one where an
        earlier rbind (runc's rootless spec binds /sys) already shows the
        host's cgroup2 mount there would fail (EBUSY): that one binds."""
        (mount,) = super().container_mounts(own_namespace, user_namespace, bound_at)
        (h,) = self.hierarchies + self.left_out
        if mount.data == "" and bound_at(h.mountpoint):
            mount = mount.replace(data=None)
        return [mount.replace(sub=None)]
