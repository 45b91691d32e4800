"""V1Manager: a host with cgroup v1 hierarchies only (one per controller set,
comounted ones such as "cpu,cpuacct" sharing a directory)."""
import os

from . import v1_resources
from .freezer import Freezer
from .manager import V2_NAME, Manager
from .oom import OomWatch, V1OomWatch
from .stats import collect_v1


class V1Manager(Manager):
    kind = "v1"

    def controller_dir(self, controller: str) -> str | None:
        """The container's dir of the hierarchy holding controller."""
        return v1_resources.dir_for(self._v1_dirs(), controller)

    def _v1_dirs(self) -> dict[str, str]:
        return {name: d for name, d in self.dirs.items() if name != V2_NAME}

    def freezer(self) -> Freezer:
        return Freezer.v1(self.controller_dir("freezer"))

    def _apply(self, resources: dict, creating: bool) -> None:
        if resources:
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
        return collect_v1(controllers, self._v2_dir())

    def oom_watch(self) -> OomWatch:
        memory = self.controller_dir("memory")
        return V1OomWatch(memory) if memory else OomWatch()
