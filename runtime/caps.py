"""Capability names and numbers (the kernel ABI, linux/capability.h)."""
from . import log

NAMES = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
    "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW",
    "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
    "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",
    "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
)
NUMBERS = {name: num for num, name in enumerate(NAMES)}
SETS = ("bounding", "effective", "permitted", "inheritable", "ambient")


def last_cap() -> int:
    """The highest capability this kernel knows."""
    try:
        with open("/proc/sys/kernel/cap_last_cap") as f:
            return int(f.read())
    except OSError:
        return len(NAMES) - 1


def mask(names) -> int:
    """Bitmask of known names; unknown names are the validator's business."""
    value = 0
    for name in names:
        value |= 1 << NUMBERS[name]
    return value


def own_bounding() -> int | None:
    """Our bounding set: no process we start can hold a capability beyond it."""
    return own_set("CapBnd")


def own_set(field: str) -> int | None:
    """One of our capability sets from /proc/self/status (CapBnd, CapEff, ...)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1], 16)
    except (OSError, ValueError):
        pass
    return None


def drop_ungrantable(process: dict, pointer: str) -> list[str]:
    """config.md "Linux Process": a capability that cannot be granted is
    logged as a warning, and runtimes SHOULD NOT fail for it. Leaves out of
    every set those this kernel lacks or our bounding set does not hold (a
    host without CAP_SYS_RESOURCE); returns their names for the warning."""
    bounding = own_bounding()
    sets = process.get("capabilities") or {}
    if bounding is None or not sets:
        return []
    grantable = bounding & ((1 << (last_cap() + 1)) - 1)
    dropped = set()
    for name in SETS:
        if name not in sets:
            continue
        keep = [c for c in sets[name] if c not in NUMBERS or grantable >> NUMBERS[c] & 1]
        dropped |= set(sets[name]) - set(keep)
        sets[name] = keep
    if dropped:
        log.warning(f"{pointer}/capabilities: {', '.join(sorted(dropped))} cannot be granted "
                    "(this host's bounding set lacks them): left out")
    return sorted(dropped)
