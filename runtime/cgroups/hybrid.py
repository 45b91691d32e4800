"""HybridManager: v1 controllers plus a cgroup2 hierarchy at
/sys/fs/cgroup/unified (this project's CI host), as runc handles it: the
container goes into every v1 hierarchy and into the unified one. The v1
controllers take what they have; the unified hierarchy takes what v1 lacks
(hugetlb and rdma where they are cgroup2's only) and the `unified` keys."""
import os

from .freezer import Freezer
from .resources import apply_v2
from .v1 import V1Manager

# Sections the unified hierarchy takes when v1 lacks their controller.
V2_FALLBACK = {"hugepageLimits": "hugetlb", "rdma": "rdma"}


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
            apply_v2(self._v2_dir(), v2_part, creating, every_controller=False)
        super()._apply(v1_part, creating)

    def _memory_usage_file(self) -> str:
        return (super()._memory_usage_file()
                or os.path.join(self._v2_dir() or "", "memory.current"))
