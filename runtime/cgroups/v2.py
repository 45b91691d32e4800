"""V2Manager: a pure cgroup v2 host, one hierarchy with every controller."""
import os

from .delegation import delegate
from .freezer import Freezer
from .manager import Manager
from .oom import OomWatch, V2OomWatch
from .resources import apply_v2
from .stats import collect_v2


class V2Manager(Manager):
    kind = "v2"

    def freezer(self) -> Freezer:
        return Freezer.v2(self._v2_dir())

    def _apply(self, resources: dict, creating: bool) -> None:
        if self._v2_dir():
            apply_v2(self._v2_dir(), resources, creating, every_controller=True)
        else:
            super()._apply(resources, creating)

    def _controls_devices(self) -> bool:
        return self._v2_dir() is not None  # a BPF device program on the cgroup

    def _memory_usage_file(self) -> str:
        return os.path.join(self._v2_dir() or "", "memory.current")

    def stats(self) -> dict:
        return collect_v2(self._v2_dir())

    def oom_watch(self) -> OomWatch:
        return V2OomWatch(self._v2_dir()) if self._v2_dir() else OomWatch()

    def delegate(self, config: dict) -> None:
        if self._v2_dir():
            delegate(self._v2_dir(), config)

    def container_mounts(self, own_namespace: bool, user_namespace: bool, bound_at) -> list:
        """One cgroup2 mount at the destination itself. A fresh one where an
        earlier rbind (runc's rootless spec binds /sys) already shows the
        host's cgroup2 mount there would fail (EBUSY): that one binds."""
        (mount,) = super().container_mounts(own_namespace, user_namespace, bound_at)
        (h,) = self.hierarchies + self.left_out
        if mount.data == "" and bound_at(h.mountpoint):
            mount = mount._replace(data=None)
        return [mount._replace(sub=None)]
