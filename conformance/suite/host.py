"""Facts about the host, read once: they decide skips (a host that lacks
something), never what a runtime is expected to do."""
from __future__ import annotations

import functools
import os
import re

from .core import HostSkip

CGROUP_ROOT = "/sys/fs/cgroup"


def read(path: str, default: str | None = None) -> str | None:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return default


def mountinfo(pid: str = "self") -> list[dict]:
    """/proc/PID/mountinfo as dicts (mount_point, root, options, optional,
    fs_type, source, super_options)."""
    out = []
    for line in (read(f"/proc/{pid}/mountinfo") or "").splitlines():
        left, _, right = line.partition(" - ")
        f = left.split()
        r = right.split()

        def unescape(s):
            return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), s)
        out.append({"mount_id": int(f[0]), "parent_id": int(f[1]), "root": unescape(f[3]),
                    "mount_point": unescape(f[4]), "options": f[5],
                    "optional": " ".join(f[6:]), "fs_type": r[0] if r else "",
                    "source": r[1] if len(r) > 1 else "",
                    "super_options": r[2] if len(r) > 2 else ""})
    return out


class Host:
    def __init__(self):
        # The top mount at each mount point (a tmpfs over /sys/fs/cgroup/unified
        # hides the cgroup2 below it).
        top = {}
        for m in mountinfo():
            top.pop(m["mount_point"], None)
            top[m["mount_point"]] = m
        mounts = list(top.values())
        self.v1 = {}            # controller -> mount point (first one)
        self.v2_mount = None    # where cgroup2 is mounted, if anywhere
        for m in mounts:
            if m["fs_type"] == "cgroup":
                for opt in m["super_options"].split(","):
                    if opt not in ("rw", "ro") and "=" not in opt or opt.startswith("name="):
                        self.v1.setdefault(opt, m["mount_point"])
            elif m["fs_type"] == "cgroup2" and m["mount_point"].startswith(CGROUP_ROOT):
                if self.v2_mount is None or m["mount_point"] == CGROUP_ROOT:
                    self.v2_mount = m["mount_point"]
        self.pure_v2 = self.v2_mount == CGROUP_ROOT
        self.v2_controllers = set((read(os.path.join(self.v2_mount, "cgroup.controllers"), "")
                                   if self.v2_mount else "").split())
        self.cgroup_mode = "v2" if self.pure_v2 else ("hybrid" if self.v2_mount and self.v1
                                                      else ("v1" if self.v1 else "none"))
        self.ncpus = len(os.sched_getaffinity(0))
        self.kernel = tuple(int(x) for x in re.findall(r"\d+", os.uname().release)[:2])
        status = read("/proc/self/status", "")
        self.cap_bounding = int(re.search(r"CapBnd:\s*([0-9a-f]+)", status).group(1), 16)
        self.mount_fstypes = {m["fs_type"] for m in mounts}

    # -- cgroups --

    def controller_mount(self, controller: str) -> str | None:
        """The mount holding `controller` for a container: its v1 hierarchy,
        else the cgroup2 one when the controller is there."""
        if self.pure_v2:
            return CGROUP_ROOT if controller in self.v2_controllers | {""} else None
        if controller in self.v1:
            return self.v1[controller]
        if self.v2_mount and (controller in self.v2_controllers or controller == ""):
            return self.v2_mount
        return None

    def cgroup_mounts(self) -> list[str]:
        """Every cgroup mount point (where a runtime may create directories)."""
        mps = set(self.v1.values())
        if self.v2_mount:
            mps.add(self.v2_mount)
        return sorted(mps)

    def has_controller(self, controller: str) -> bool:
        return self.controller_mount(controller) is not None

    def need_controller(self, controller: str) -> str:
        mp = self.controller_mount(controller)
        if mp is None:
            raise HostSkip(f"host has no {controller} cgroup controller")
        return mp

    def need_pure_v2(self) -> None:
        if not self.pure_v2:
            raise HostSkip("host is not pure cgroup v2")

    def need_v1(self, controller: str) -> str:
        if self.pure_v2 or controller not in self.v1:
            raise HostSkip(f"host has no cgroup-v1 {controller} hierarchy")
        return self.v1[controller]

    def kernel_has_v2_file(self, name: str) -> bool:
        """Whether this kernel gives a non-root v2 cgroup the file `name`
        (judged from the kernel, not from a cgroup a runtime made)."""
        if name == "cpu.max.burst":
            return self.kernel >= (5, 14)
        if name == "cpu.idle":
            return self.kernel >= (5, 15)
        if name == "memory.swap.max":
            return "swapaccount=0" not in (read("/proc/cmdline") or "")
        if name == "io.weight":       # blk-iocost: its root-only file shows it is built in
            return bool(self.v2_mount) and os.path.exists(os.path.join(self.v2_mount,
                                                                       "io.cost.model"))
        if name == "io.bfq.weight":
            disk = self.whole_disk
            sched = read(f"/sys/dev/block/{disk[0]}:{disk[1]}/queue/scheduler", "") if disk else ""
            return "bfq" in (sched or "")
        return True

    # -- kernel features --

    @functools.cached_property
    def time_ns(self) -> bool:
        return os.path.exists("/proc/self/ns/time")

    def need_time_ns(self) -> None:
        if not self.time_ns:
            raise HostSkip("kernel lacks time namespaces")

    @functools.cached_property
    def user_ns(self) -> bool:
        return os.path.exists("/proc/self/ns/user") and \
            (read("/proc/sys/user/max_user_namespaces", "0").strip() or "0") != "0"

    def need_user_ns(self) -> None:
        if not self.user_ns:
            raise HostSkip("kernel lacks user namespaces")

    def need_idmap_mounts(self) -> None:
        self.need_user_ns()
        if self.kernel < (5, 12):
            raise HostSkip("kernel older than 5.12 has no id-mapped mounts")

    def need_cpus(self, n: int) -> None:
        if self.ncpus < n:
            raise HostSkip(f"host has fewer than {n} CPUs")

    def lacks_cap(self) -> str | None:
        """A capability name missing from our bounding set, if any."""
        from .caps import CAPS
        for name, bit in CAPS.items():
            if bit <= self.last_cap and not self.cap_bounding & (1 << bit):
                return name
        return None

    @functools.cached_property
    def last_cap(self) -> int:
        return int((read("/proc/sys/kernel/cap_last_cap", "40") or "40").strip())

    @functools.cached_property
    def numa_nodes(self) -> list[int]:
        try:
            return sorted(int(d[4:]) for d in os.listdir("/sys/devices/system/node")
                          if re.fullmatch(r"node\d+", d))
        except OSError:
            return []

    @functools.cached_property
    def whole_disk(self) -> tuple[int, int] | None:
        """major:minor of a whole block device (blkio throttling needs one)."""
        try:
            st = os.stat("/")
            mm = (os.major(st.st_dev), os.minor(st.st_dev))
            base = f"/sys/dev/block/{mm[0]}:{mm[1]}"
            if os.path.exists(base) and not os.path.exists(base + "/partition"):
                return mm
            for name in sorted(os.listdir("/sys/block")):
                if name.startswith(("loop", "ram", "zram", "dm-", "nbd")):
                    continue
                dev = read(f"/sys/block/{name}/dev")
                if dev:
                    a, b = dev.strip().split(":")
                    return int(a), int(b)
        except OSError:
            pass
        return None

    @functools.cached_property
    def resctrl(self) -> bool:
        return "resctrl" in self.mount_fstypes

    @functools.cached_property
    def rdma_devices(self) -> list[str]:
        try:
            return sorted(os.listdir("/sys/class/infiniband"))
        except OSError:
            return []

    @functools.cached_property
    def apparmor(self) -> bool:
        return (read("/sys/module/apparmor/parameters/enabled", "") or "").strip() == "Y" and \
            os.path.exists("/sys/kernel/security/apparmor")

    @functools.cached_property
    def selinux(self) -> bool:
        return os.path.exists("/sys/fs/selinux/enforce")

    @functools.cached_property
    def hugepage_sizes(self) -> list[str]:
        """Page sizes as the spec writes them (2MB, 1GB)."""
        out = []
        try:
            for d in sorted(os.listdir("/sys/kernel/mm/hugepages")):
                kb = int(re.search(r"(\d+)kB", d).group(1))
                for unit, n in (("GB", 1 << 20), ("MB", 1 << 10), ("KB", 1)):
                    if kb % n == 0:
                        out.append(f"{kb // n}{unit}")
                        break
        except OSError:
            pass
        return out
