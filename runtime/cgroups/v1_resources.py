"""OCI linux.resources → cgroup v1 file writes (pure: unit-tested without root).

Each write is (controller, file, value, JSON pointer), in the order the kernel
needs them. A setting whose controller or file the host lacks is an error
naming the pointer, never a silent skip.
"""
import os

from .. import log
from ..errors import ConfigError, strerror
from .v2_resources import rdma_writes

# What every container may use whatever its rules say, as runc adds them:
# mknod of any char/block device (creating is not opening), the standard
# character devices, /dev/console, /dev/ptmx and the pts.
DEFAULT_ALLOWED_DEVICES = (
    "c *:* m", "b *:* m", "c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm", "c 1:8 rwm", "c 1:9 rwm",
    "c 5:0 rwm", "c 5:1 rwm", "c 5:2 rwm", "c 136:* rwm",
)


def device_access(rule: dict, pointer: str) -> str:
    """The rule's r, w, m ("" or absent: all three). Other letters are left
    out with a warning, as runc ignores them (runc's own tests send "rwa");
    nothing but other letters is an error."""
    access = rule.get("access") or "rwm"
    known = "".join(c for c in access if c in "rwm")
    if known != access:
        if not known:
            raise ConfigError(f"{pointer}/access", f"{access!r} has none of r, w, m")
        log.warning(f"{pointer}/access: {access!r}: only {known!r} taken (a device access is "
                    "r, w and m)")
    return known


def _device_rule(rule: dict, pointer: str = "/linux/resources/devices") -> str:
    kind = rule.get("type") or "a"  # "" too, as runc
    major = rule.get("major", -1)
    minor = rule.get("minor", -1)
    access = device_access(rule, pointer)
    if kind == "a":
        return "a"
    return f"{kind} {'*' if major in (None, -1) else major}:{'*' if minor in (None, -1) else minor} {access}"


def _limit(value: int) -> str:
    return "-1" if value == -1 else str(value)


def writes(resources: dict) -> list[tuple[str, str, str, str]]:
    out = []
    base = "/linux/resources"

    mem = resources.get("memory", {})
    mp = f"{base}/memory"
    for key, name in (("limit", "memory.limit_in_bytes"), ("swap", "memory.memsw.limit_in_bytes"),
                      ("reservation", "memory.soft_limit_in_bytes"),
                      ("kernel", "memory.kmem.limit_in_bytes"),
                      ("kernelTCP", "memory.kmem.tcp.limit_in_bytes")):
        if mem.get(key):  # 0 means "not set", as runc reads it
            out.append(("memory", name, _limit(mem[key]), f"{mp}/{key}"))
    if "swappiness" in mem:
        out.append(("memory", "memory.swappiness", str(mem["swappiness"]), f"{mp}/swappiness"))
    if mem.get("disableOOMKiller"):
        out.append(("memory", "memory.oom_control", "1", f"{mp}/disableOOMKiller"))
    if "useHierarchy" in mem:
        out.append(("memory", "memory.use_hierarchy", "1" if mem["useHierarchy"] else "0",
                    f"{mp}/useHierarchy"))

    cpu = resources.get("cpu", {})
    cp = f"{base}/cpu"
    # The period before the quota, the rt period before the rt runtime.
    for key, ctrl, name in (("shares", "cpu", "cpu.shares"), ("period", "cpu", "cpu.cfs_period_us"),
                            ("quota", "cpu", "cpu.cfs_quota_us"), ("burst", "cpu", "cpu.cfs_burst_us"),
                            ("realtimePeriod", "cpu", "cpu.rt_period_us"),
                            ("realtimeRuntime", "cpu", "cpu.rt_runtime_us"),
                            ("idle", "cpu", "cpu.idle"),
                            ("cpus", "cpuset", "cpuset.cpus"), ("mems", "cpuset", "cpuset.mems")):
        if key in cpu and cpu[key] != "":
            out.append((ctrl, name, str(cpu[key]), f"{cp}/{key}"))

    pids = resources.get("pids", {})
    if "limit" in pids:
        limit = pids["limit"]
        # The spec: -1 is "max" and 0 is a real limit.
        out.append(("pids", "pids.max", "max" if limit < 0 else str(limit), f"{base}/pids/limit"))

    blkio = resources.get("blockIO", {})
    bp = f"{base}/blockIO"
    for key, name in (("weight", "blkio.weight"), ("leafWeight", "blkio.leaf_weight")):
        if key in blkio:
            out.append(("blkio", name, str(blkio[key]), f"{bp}/{key}"))
    for i, dev in enumerate(blkio.get("weightDevice", [])):
        for key, name in (("weight", "blkio.weight_device"), ("leafWeight", "blkio.leaf_weight_device")):
            if key in dev:
                out.append(("blkio", name, f"{dev['major']}:{dev['minor']} {dev[key]}",
                            f"{bp}/weightDevice/{i}/{key}"))
    for key, name in (("throttleReadBpsDevice", "blkio.throttle.read_bps_device"),
                      ("throttleWriteBpsDevice", "blkio.throttle.write_bps_device"),
                      ("throttleReadIOPSDevice", "blkio.throttle.read_iops_device"),
                      ("throttleWriteIOPSDevice", "blkio.throttle.write_iops_device")):
        for i, dev in enumerate(blkio.get(key, [])):
            out.append(("blkio", name, f"{dev['major']}:{dev['minor']} {dev['rate']}", f"{bp}/{key}/{i}"))

    net = resources.get("network", {})
    if "classID" in net:
        out.append(("net_cls", "net_cls.classid", str(net["classID"]), f"{base}/network/classID"))
    for i, prio in enumerate(net.get("priorities", [])):
        out.append(("net_prio", "net_prio.ifpriomap", f"{prio['name']} {prio['priority']}",
                    f"{base}/network/priorities/{i}"))

    for i, page in enumerate(resources.get("hugepageLimits", [])):
        out.append(("hugetlb", f"hugetlb.{page['pageSize']}.limit_in_bytes", str(page["limit"]),
                    f"{base}/hugepageLimits/{i}"))

    out += [("rdma", name, value, pointer)
            for name, value, pointer in rdma_writes(resources.get("rdma") or {})]
    if resources.get("unified"):
        raise ConfigError(f"{base}/unified", "this host has no cgroup v2 hierarchy")
    out += device_writes(resources.get("devices"))
    return out


def device_writes(rules: list | None) -> list[tuple[str, str, str, str]]:
    """The device rules as devices.allow/deny writes. v1 keeps one list: start
    from deny-all (or allow-all if the first rule allows everything), apply each
    rule in order (later rules win), then runc's always-allowed devices."""
    if rules is None:
        return []
    out = []
    start = 0
    if rules and _device_rule(rules[0]) == "a" and rules[0].get("allow"):
        out.append(("devices", "devices.allow", "a", "/linux/resources/devices/0"))
        start = 1
    else:
        out.append(("devices", "devices.deny", "a", "/linux/resources/devices"))
        if rules and _device_rule(rules[0]) == "a":
            start = 1
    for i, rule in enumerate(rules[start:], start=start):
        name = "devices.allow" if rule.get("allow") else "devices.deny"
        pointer = f"/linux/resources/devices/{i}"
        out.append(("devices", name, _device_rule(rule, pointer), pointer))
    out += [("devices", "devices.allow", rule, "/linux/resources/devices") for rule in
            DEFAULT_ALLOWED_DEVICES]
    return out


# A write the kernel refuses (EINVAL) until its partner is written: a memory
# limit above the current memory+swap one, a CFS period whose quota would
# exceed the parent's. With both in the update, the partner goes first (as
# runc orders them).
PARTNERS = {"memory.limit_in_bytes": "memory.memsw.limit_in_bytes",
            "cpu.cfs_period_us": "cpu.cfs_quota_us"}


def apply(dirs: dict, resources: dict) -> None:
    """Write the resources into the container's v1 directories."""
    resources = _unlimited_memory_unlimits_swap(dirs, resources)
    planned = writes(resources)
    values = {name: value for _c, name, value, _p in planned}
    done = set()
    for controller, name, value, pointer in planned:
        if name in done:
            continue
        directory = dir_for(dirs, controller)
        if directory is None:
            raise ConfigError(pointer, f"this host has no cgroup v1 {controller} controller")
        path = os.path.join(directory, name)
        if not os.path.exists(path):  # cgroupfs says EACCES for a missing file
            raise ConfigError(pointer, f"{name} does not exist on this host "
                                       f"(the kernel does not offer it)")
        try:
            _write(path, value)
        except OSError as e:
            partner = PARTNERS.get(name)
            if e.errno != 22 or partner not in values:
                raise ConfigError(pointer, f"write {value!r} to {path}: "
                                           f"{strerror(e.errno)}") from None
            try:
                _write(os.path.join(directory, partner), values[partner])
                _write(path, value)
            except OSError as e2:
                raise ConfigError(pointer, f"write {value!r} to {path}: "
                                           f"{strerror(e2.errno)}") from None
            done.add(partner)
        if name == "memory.kmem.limit_in_bytes" and value != "-1":
            _check_kmem_applied(path, int(value), pointer)


def _unlimited_memory_unlimits_swap(dirs: dict, resources: dict) -> dict:
    """runc's rule: memory -1 with no swap given also lifts memory+swap
    (else the kernel refuses a memory limit above the swap one)."""
    mem = resources.get("memory") or {}
    directory = dir_for(dirs, "memory")
    if (mem.get("limit") == -1 and not mem.get("swap") and directory
            and os.path.exists(os.path.join(directory, "memory.memsw.limit_in_bytes"))):
        return {**resources, "memory": {**mem, "swap": -1}}
    return resources


def _check_kmem_applied(path: str, limit: int, pointer: str) -> None:
    """Newer kernels accept a kernel memory limit and ignore it (the file then
    still reads "unlimited"): that is an error, not a limit."""
    with open(path) as f:
        now = int(f.read())
    if now != limit - limit % os.sysconf("SC_PAGE_SIZE"):
        raise ConfigError(pointer, f"this kernel accepts but ignores kernel memory limits "
                                   f"({path} still reads {now})")


def dir_for(dirs: dict, controller: str) -> str | None:
    """The container's dir of the hierarchy holding controller (maybe comounted)."""
    for name, directory in dirs.items():
        if controller in name.split(","):
            return directory
    return None


def _write(path: str, value: str) -> None:
    with open(path, "w") as f:
        f.write(value)
