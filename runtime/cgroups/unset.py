"""The zero values runc reads as "not set" in linux.resources.

Go clients (Docker, containerd, CRI) marshal a field they leave unset as its
zero value: `"blockIO": {"weight": 0}`, `"cpu": {"shares": 0}`,
`"memory": {"disableOOMKiller": false}`, and `docker update` sends a cpu
period of 0. runc 1.1.5 skips those (docs/zero-values.md has the table, field
by field, with what runc does). pyrunc does the same, at create and in
update, on both cgroup versions: a zero read as unset changes nothing, and a
field that is set and cannot be honoured stays an error naming its pointer.

Not unset (0 is a value there, as in runc): memory.swappiness, throttle
rates (0 removes the limit), hugepage and rdma limits, net_prio priorities,
unified values, cpu.burst and cpu.idle (spec 1.3 fields runc 1.1 predates).
pids.limit 0 is a real limit, as the spec says ("0 is a valid limit value
... and SHOULD be treated as such"); runc 1.1.5 skips it (see the doc).
"""

# section: fields whose zero ("" for strings, false for booleans) is "not set"
UNSET_WHEN_ZERO = {
    "memory": ("limit", "reservation", "swap", "kernel", "kernelTCP", "disableOOMKiller",
               "useHierarchy"),
    "cpu": ("shares", "quota", "period", "realtimeRuntime", "realtimePeriod", "cpus", "mems"),
    "blockIO": ("weight", "leafWeight"),
    "network": ("classID",),
}
WEIGHT_DEVICE_FIELDS = ("weight", "leafWeight")


def drop_unset(resources: dict | None) -> dict:
    """resources without the fields runc reads as unset (and without the
    sections that leaves empty). The input is not changed."""
    out = {}
    for section, value in (resources or {}).items():
        if section in UNSET_WHEN_ZERO and isinstance(value, dict):
            value = {k: v for k, v in value.items()
                     if not (k in UNSET_WHEN_ZERO[section] and _zero(v))}
            if section == "blockIO" and "weightDevice" in value:
                value["weightDevice"] = _weight_devices(value["weightDevice"])
        elif section == "unified" and value == {}:
            continue
        if value in ({}, None) and section != "devices":
            continue
        out[section] = value
    return out


def _weight_devices(devices: list | None) -> list:
    """Each entry without its zero weights (the entries stay, so that the
    pointers of the others still name them)."""
    return [{k: v for k, v in dev.items() if not (k in WEIGHT_DEVICE_FIELDS and _zero(v))}
            for dev in devices or []]


def _zero(value) -> bool:
    return value is None or value is False or value == 0 or value == ""
