"""Process attributes that become single plan ops: I/O priority, scheduler, CPU
affinity, memory policy, personality, time namespace offsets, LSM labels,
Intel RDT.

Pure functions of the config (the LSM and resctrl checks read /sys and
/proc/self/mountinfo), so they are unit-tested like the rest of the planner. Each raises a
ConfigError naming the field it cannot honour.
"""
from .errors import ConfigError
from .procfs import fstype_mounted

IOPRIO_CLASSES = {"IOPRIO_CLASS_RT": 1, "IOPRIO_CLASS_BE": 2, "IOPRIO_CLASS_IDLE": 3}
IOPRIO_CLASS_SHIFT = 13
SCHED_POLICIES = {"SCHED_OTHER": 0, "SCHED_FIFO": 1, "SCHED_RR": 2, "SCHED_BATCH": 3,
                  "SCHED_ISO": 4, "SCHED_IDLE": 5, "SCHED_DEADLINE": 6}
SCHED_FLAGS = {"SCHED_FLAG_RESET_ON_FORK": 0x01, "SCHED_FLAG_RECLAIM": 0x02,
               "SCHED_FLAG_DL_OVERRUN": 0x04, "SCHED_FLAG_KEEP_POLICY": 0x08,
               "SCHED_FLAG_KEEP_PARAMS": 0x10, "SCHED_FLAG_UTIL_CLAMP_MIN": 0x20,
               "SCHED_FLAG_UTIL_CLAMP_MAX": 0x40}
PERSONALITIES = {"LINUX": 0x0000, "LINUX32": 0x0008}
MAX_CPUS = 8192


def ioprio_value(process: dict, base: str = "/process") -> int | None:
    prio = process.get("ioPriority")
    if prio is None:
        return None
    cls = prio.get("class")
    if cls not in IOPRIO_CLASSES:
        raise ConfigError(f"{base}/ioPriority/class", f"unknown class {cls!r}: expected one of "
                                                      + ", ".join(IOPRIO_CLASSES))
    level = prio.get("priority", 0)
    if not 0 <= level <= 7:
        raise ConfigError(f"{base}/ioPriority/priority", f"{level} is not a level from 0 to 7")
    return IOPRIO_CLASSES[cls] << IOPRIO_CLASS_SHIFT | level


def sched_args(process: dict, base: str = "/process") -> tuple | None:
    """(policy, flags, nice, priority, runtime, deadline, period) for OP_SCHED."""
    sched = process.get("scheduler")
    if sched is None:
        return None
    policy = sched.get("policy")
    if policy not in SCHED_POLICIES:
        raise ConfigError(f"{base}/scheduler/policy", f"unknown policy {policy!r}")
    flags = 0
    for i, name in enumerate(sched.get("flags", [])):
        if name not in SCHED_FLAGS:
            raise ConfigError(f"{base}/scheduler/flags/{i}", f"unknown flag {name!r}")
        flags |= SCHED_FLAGS[name]
    nice = sched.get("nice", 0)
    if not -20 <= nice <= 19:
        raise ConfigError(f"{base}/scheduler/nice", f"{nice} is outside -20..19")
    priority = sched.get("priority", 0)
    realtime = policy in ("SCHED_FIFO", "SCHED_RR")
    if realtime and not 1 <= priority <= 99:
        raise ConfigError(f"{base}/scheduler/priority", f"{policy} needs a priority from 1 to 99")
    if not realtime and priority:
        raise ConfigError(f"{base}/scheduler/priority", f"{policy} takes no priority (only "
                                                        "SCHED_FIFO and SCHED_RR do)")
    times = [sched.get(k, 0) for k in ("runtime", "deadline", "period")]
    if policy != "SCHED_DEADLINE" and any(times):
        raise ConfigError(f"{base}/scheduler", "runtime, deadline and period are for "
                                              "SCHED_DEADLINE only")
    return (SCHED_POLICIES[policy], flags, nice & 0xFFFFFFFF, priority, *times)


def cpu_mask(cpus: str, pointer: str) -> bytes:
    """"0-3,7" → a sched_setaffinity mask (whole 64-bit words)."""
    return _id_mask(cpus, pointer, "CPU")


def _id_mask(cpus: str, pointer: str, what: str) -> bytes:
    """A list of CPUs or memory nodes like 0-3,7 → a bit mask in whole
    64-bit words (as the kernel's unsigned long arrays)."""
    bits = 0
    try:
        for part in cpus.split(","):
            first, dash, last = part.strip().partition("-")
            first, last = first.strip(), (last if dash else first).strip()  # "1-" is no range
            if not (_ascii_digits(first) and _ascii_digits(last)):  # int() takes "1_0", "١"
                raise ValueError
            lo, hi = int(first), int(last)
            if lo > hi or hi >= MAX_CPUS or lo < 0:
                raise ValueError
            for cpu in range(lo, hi + 1):
                bits |= 1 << cpu
    except ValueError:
        raise ConfigError(pointer, f"{cpus!r} is not a {what} list like 0-3,7") from None
    words = max(1, (bits.bit_length() + 63) // 64)
    return bits.to_bytes(words * 8, "little")


def _ascii_digits(text: str) -> bool:
    return text.isascii() and text.isdigit()


def affinity(process: dict, which: str, base: str = "/process") -> bytes | None:
    cpus = process.get("execCPUAffinity", {}).get(which)
    if not cpus:
        return None
    return cpu_mask(cpus, f"{base}/execCPUAffinity/{which}")


MPOL_MODES = {"MPOL_DEFAULT": 0, "MPOL_PREFERRED": 1, "MPOL_BIND": 2, "MPOL_INTERLEAVE": 3,
              "MPOL_LOCAL": 4, "MPOL_PREFERRED_MANY": 5, "MPOL_WEIGHTED_INTERLEAVE": 6}
MPOL_FLAGS = {"MPOL_F_NUMA_BALANCING": 1 << 13, "MPOL_F_RELATIVE_NODES": 1 << 14,
              "MPOL_F_STATIC_NODES": 1 << 15}
MPOL_NO_NODES = ("MPOL_DEFAULT", "MPOL_LOCAL")
MPOL_OPTIONAL_NODES = ("MPOL_PREFERRED",)  # none: the local node


def memory_policy(linux: dict) -> tuple[int, bytes] | None:
    """linux.memoryPolicy → (set_mempolicy mode | flags, node mask)."""
    policy = linux.get("memoryPolicy")
    if policy is None:
        return None
    base = "/linux/memoryPolicy"
    mode = policy.get("mode")
    if mode not in MPOL_MODES:
        raise ConfigError(f"{base}/mode", f"unknown mode {mode!r}")
    nodes = policy.get("nodes", "")
    if nodes and mode in MPOL_NO_NODES:
        raise ConfigError(f"{base}/nodes", f"{mode} takes no nodes")
    if not nodes and mode not in MPOL_NO_NODES + MPOL_OPTIONAL_NODES:
        raise ConfigError(f"{base}/nodes", f"{mode} needs at least one node")
    flags = 0
    for i, name in enumerate(policy.get("flags", [])):
        if name not in MPOL_FLAGS:
            raise ConfigError(f"{base}/flags/{i}", f"unknown flag {name!r}")
        flags |= MPOL_FLAGS[name]
    both = MPOL_FLAGS["MPOL_F_RELATIVE_NODES"] | MPOL_FLAGS["MPOL_F_STATIC_NODES"]
    if flags & both == both:
        raise ConfigError(f"{base}/flags", "MPOL_F_RELATIVE_NODES and MPOL_F_STATIC_NODES "
                                           "exclude each other")
    mask = _id_mask(nodes, f"{base}/nodes", "memory node") if nodes else b""
    return MPOL_MODES[mode] | flags, mask


def personality(linux: dict) -> int | None:
    pers = linux.get("personality")
    if pers is None:
        return None
    domain = pers.get("domain")
    if domain not in PERSONALITIES:
        raise ConfigError("/linux/personality/domain", f"unknown domain {domain!r}: expected "
                                                       "LINUX or LINUX32")
    if pers.get("flags"):
        raise ConfigError("/linux/personality/flags", "personality flags are not supported")
    return PERSONALITIES[domain]


def time_offsets(linux: dict, new_time_ns: bool) -> str | None:
    """Lines for /proc/self/timens_offsets, written before the init enters the
    new time namespace (the kernel refuses them once a process is inside)."""
    offsets = linux.get("timeOffsets")
    if not offsets:
        return None
    if not new_time_ns:
        raise ConfigError("/linux/timeOffsets", "needs a new time namespace in /linux/namespaces")
    lines = []
    for clock, value in offsets.items():
        if clock not in ("monotonic", "boottime"):
            escaped = clock.replace("~", "~0").replace("/", "~1")  # RFC 6901
            raise ConfigError(f"/linux/timeOffsets/{escaped}", "unknown clock: expected "
                                                               "monotonic or boottime")
        nanos = value.get("nanosecs", 0)
        if not 0 <= nanos < 10**9:
            raise ConfigError(f"/linux/timeOffsets/{clock}/nanosecs", f"{nanos} is not below 1e9")
        lines.append(f"{clock} {value.get('secs', 0)} {nanos}")
    return "\n".join(lines) + "\n"


# -- host checks --

def apparmor_enabled() -> bool:
    try:
        with open("/sys/module/apparmor/parameters/enabled") as f:
            return f.read().strip() == "Y"
    except OSError:
        return False


def selinux_enabled() -> bool:
    return fstype_mounted("selinuxfs")


def resctrl_mounted() -> bool:
    return fstype_mounted("resctrl")


def lsm_writes(process: dict, base: str = "/process") -> list[tuple[str, str]]:
    """(file, content) the init writes just before exec: the label applies at execve."""
    writes = []
    profile = process.get("apparmorProfile")
    if profile:
        if not apparmor_enabled():
            raise ConfigError(f"{base}/apparmorProfile", "AppArmor is not enabled on this host")
        writes.append(("/proc/self/attr/apparmor/exec", f"exec {profile}"))
    label = process.get("selinuxLabel")
    if label:
        if not selinux_enabled():
            raise ConfigError(f"{base}/selinuxLabel", "SELinux is not enabled on this host")
        writes.append(("/proc/self/attr/exec", label))
    return writes


def check_intel_rdt(linux: dict) -> None:
    if "intelRdt" not in linux:
        return
    if not resctrl_mounted():
        raise ConfigError("/linux/intelRdt", "not supported on this host: no resctrl filesystem "
                                             "is mounted (Intel RDT needs /sys/fs/resctrl)")
    raise ConfigError("/linux/intelRdt", "Intel RDT is not supported by pyrunc yet")
