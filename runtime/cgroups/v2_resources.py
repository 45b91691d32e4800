"""OCI linux.resources → cgroup v2 file writes (pure: unit-tested without root).

Each write is (file, value, JSON pointer). The few values that depend on what
the cgroup holds now (cpu.max keeps the half a partial update leaves out; a swap
limit needs the memory limit; bfq or plain io weights) are read through `read`,
which returns a file's content or None when the file does not exist.

v1-only settings have no v2 file: they are errors naming the pointer, never a
silent skip (the spec lets a runtime convert; where a conversion exists it is
done: shares → weight, blkio weight → io.weight, memory+swap → swap alone).
"""
from ..errors import ConfigError

BASE = "/linux/resources"

# Controllers that a threaded cgroup cannot use (cgroup-v2.rst "Threads").
DOMAIN_CONTROLLERS = {"memory", "io", "hugetlb", "rdma", "misc"}


def shares_to_weight(shares: int) -> int:
    """cpu.shares [2, 262144] onto cpu.weight [1, 10000], linearly, as runc 1.1
    does (so 1024 shares, the v1 default, become weight 39)."""
    if shares == 0:
        return 0
    return 1 + ((shares - 2) * 9999) // 262142


def blkio_to_io_weight(weight: int) -> int:
    """blkio.weight [10, 1000] onto io.weight [1, 10000], as runc does."""
    if weight == 0:
        return 0
    return 1 + ((weight - 10) * 9999) // 990


def _max(value: int) -> str:
    return "max" if value < 0 else str(value)


def controllers(resources: dict) -> dict[str, str]:
    """The v2 controllers the resources need, each with the field needing it."""
    need = {}
    for section, controller in (("memory", "memory"), ("pids", "pids"), ("blockIO", "io"),
                                ("hugepageLimits", "hugetlb"), ("rdma", "rdma")):
        if resources.get(section):
            need[controller] = f"{BASE}/{section}"
    cpu = resources.get("cpu") or {}
    for key in ("shares", "quota", "period", "burst", "idle"):
        if key in cpu:
            need.setdefault("cpu", f"{BASE}/cpu/{key}")
    for key in ("cpus", "mems"):
        if cpu.get(key):
            need.setdefault("cpuset", f"{BASE}/cpu/{key}")
    for key in resources.get("unified") or {}:
        prefix = key.split(".", 1)[0]
        if prefix != "cgroup":
            need.setdefault(prefix, f"{BASE}/unified/{_escape(key)}")
    return need


def writes(resources: dict, read=lambda name: None) -> list[tuple[str, str, str]]:
    return (_memory(resources.get("memory") or {}, read)
            + _cpu(resources.get("cpu") or {}, read)
            + _pids(resources.get("pids") or {})
            + _io(resources.get("blockIO") or {}, read)
            + hugetlb_writes(resources.get("hugepageLimits") or [], read)
            + rdma_writes(resources.get("rdma") or {})
            + _unsupported_network(resources.get("network") or {})
            + unified_writes(resources.get("unified") or {}))


def _unsupported(pointer: str, what: str):
    return ConfigError(pointer, f"{what} has no cgroup v2 equivalent (the host runs cgroup v2)")


def _memory(mem: dict, read) -> list:
    p = f"{BASE}/memory"
    for key, what in (("kernel", "kernel memory limit"), ("kernelTCP", "kernel TCP memory limit"),
                      ("swappiness", "swappiness")):
        if key in mem:
            raise _unsupported(f"{p}/{key}", what)
    if mem.get("disableOOMKiller"):
        raise _unsupported(f"{p}/disableOOMKiller", "disabling the OOM killer")
    if mem.get("useHierarchy") is False:
        raise ConfigError(f"{p}/useHierarchy", "cgroup v2 accounting is always hierarchical")
    # 0 means "not set", as runc reads it (a 0 memory.max would kill the container).
    out = []
    if mem.get("swap"):
        out.append(("memory.swap.max", _swap_value(mem, read), f"{p}/swap"))
    elif mem.get("limit", 0) > 0:
        out += _keep_memory_plus_swap(mem["limit"], read)
    if mem.get("limit"):
        out.append(("memory.max", _max(mem["limit"]), f"{p}/limit"))
    if mem.get("reservation"):
        out.append(("memory.low", _max(mem["reservation"]), f"{p}/reservation"))
    return out


def _swap_value(mem: dict, read) -> str:
    """OCI swap is memory+swap (v1's memsw); v2 limits swap alone."""
    swap = mem["swap"]
    if swap < 0:
        return "max"
    limit = mem.get("limit")
    if not limit:  # an update of swap alone: the limit the cgroup has
        current = (read("memory.max") or "max").strip()
        limit = -1 if current == "max" else int(current)
    if limit < 0:
        raise ConfigError(f"{BASE}/memory/swap", "a swap limit needs a memory limit "
                                                 "(swap is memory+swap)")
    if swap < limit:
        raise ConfigError(f"{BASE}/memory/swap", f"memory+swap {swap} is below the memory "
                                                 f"limit {limit}")
    return str(swap - limit)


def _keep_memory_plus_swap(limit: int, read) -> list:
    """A new memory limit alone keeps the memory+swap total a limited swap
    makes, as on v1 (and as runc, which re-applies the saved swap)."""
    old_limit, old_swap = (read("memory.max") or "max").strip(), (read("memory.swap.max") or "max").strip()
    if "max" in (old_limit, old_swap):
        return []
    total = int(old_limit) + int(old_swap)
    if limit > total:
        raise ConfigError(f"{BASE}/memory/limit", f"{limit} is above the memory+swap limit "
                                                  f"{total}: give a new swap limit too")
    return [("memory.swap.max", str(total - limit), f"{BASE}/memory/limit")]


def _cpu(cpu: dict, read) -> list:
    p = f"{BASE}/cpu"
    out = []
    for key in ("realtimeRuntime", "realtimePeriod"):
        if cpu.get(key):
            raise _unsupported(f"{p}/{key}", "realtime CPU scheduling")
    if cpu.get("shares"):
        out.append(("cpu.weight", str(shares_to_weight(cpu["shares"])), f"{p}/shares"))
    if "quota" in cpu or "period" in cpu:
        # cpu.max is "QUOTA PERIOD": keep the half this change leaves out.
        old = (read("cpu.max") or "max 100000").split()
        quota = cpu.get("quota")
        quota_text = _max(quota) if quota else old[0]  # 0: not set, as in runc
        period = cpu.get("period") or int(old[1])
        pointer = f"{p}/quota" if "quota" in cpu else f"{p}/period"
        out.append(("cpu.max", f"{quota_text} {period}", pointer))
    if "burst" in cpu:
        out.append(("cpu.max.burst", str(cpu["burst"]), f"{p}/burst"))
    if "idle" in cpu:
        out.append(("cpu.idle", str(cpu["idle"]), f"{p}/idle"))
    for key in ("cpus", "mems"):
        if cpu.get(key):
            out.append((f"cpuset.{key}", cpu[key], f"{p}/{key}"))
    return out


def _pids(pids: dict) -> list:
    if "limit" not in pids:
        return []
    # The spec: -1 is "max" and 0 is a real limit.
    return [("pids.max", _max(pids["limit"]), f"{BASE}/pids/limit")]


def _io(blkio: dict, read) -> list:
    p = f"{BASE}/blockIO"
    out = []
    if "leafWeight" in blkio:
        raise _unsupported(f"{p}/leafWeight", "blkio leaf weight")
    # With the bfq scheduler io.bfq.weight takes blkio's scale; else io.weight.
    bfq = read("io.bfq.weight") is not None
    if blkio.get("weight"):
        w = blkio["weight"]
        out.append(("io.bfq.weight", str(w), f"{p}/weight") if bfq else
                   ("io.weight", f"default {blkio_to_io_weight(w)}", f"{p}/weight"))
    for i, dev in enumerate(blkio.get("weightDevice") or []):
        if "leafWeight" in dev:
            raise _unsupported(f"{p}/weightDevice/{i}/leafWeight", "blkio leaf weight")
        if "weight" in dev:
            w = dev["weight"]
            out.append(("io.bfq.weight", f"{dev['major']}:{dev['minor']} {w}",
                        f"{p}/weightDevice/{i}/weight") if bfq else
                       ("io.weight", f"{dev['major']}:{dev['minor']} {blkio_to_io_weight(w)}",
                        f"{p}/weightDevice/{i}/weight"))
    for key, name in (("throttleReadBpsDevice", "rbps"), ("throttleWriteBpsDevice", "wbps"),
                      ("throttleReadIOPSDevice", "riops"), ("throttleWriteIOPSDevice", "wiops")):
        for i, dev in enumerate(blkio.get(key) or []):
            rate = dev["rate"]
            out.append(("io.max", f"{dev['major']}:{dev['minor']} {name}={rate or 'max'}",
                        f"{p}/{key}/{i}"))
    return out


def hugetlb_writes(pages: list, read) -> list:
    """The page-fault limit, and the reservation limit where the kernel has it
    (the spec prefers reservations: they fail mmap instead of raising SIGBUS)."""
    out = []
    for i, page in enumerate(pages):
        size, limit = page["pageSize"], str(page["limit"])
        pointer = f"{BASE}/hugepageLimits/{i}"
        out.append((f"hugetlb.{size}.max", limit, pointer))
        if read(f"hugetlb.{size}.rsvd.max") is not None:
            out.append((f"hugetlb.{size}.rsvd.max", limit, pointer))
    return out


def rdma_writes(devices: dict) -> list:
    out = []
    for name, limits in devices.items():
        parts = [name]
        for key, field in (("hcaHandles", "hca_handle"), ("hcaObjects", "hca_object")):
            if key in limits:
                parts.append(f"{field}={limits[key]}")
        out.append(("rdma.max", " ".join(parts), f"{BASE}/rdma/{_escape(name)}"))
    return out


def _unsupported_network(net: dict) -> list:
    for key in ("classID", "priorities"):
        if key in net:
            raise _unsupported(f"{BASE}/network/{key}", "net_cls/net_prio")
    return []


def unified_writes(values: dict) -> list:
    """Written as given; the caller checks that each file exists."""
    out = []
    for key, value in values.items():
        pointer = f"{BASE}/unified/{_escape(key)}"
        if not key or "/" in key or key in (".", ".."):
            raise ConfigError(pointer, f"{key!r} is not a cgroup file name")
        if key.split(".", 1)[0] == "cgroup" and key not in ("cgroup.max.depth",
                                                              "cgroup.max.descendants"):
            raise ConfigError(pointer, f"{key} is the runtime's to manage, not a resource")
        out.append((key, value, pointer))
    return out


def _escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")
