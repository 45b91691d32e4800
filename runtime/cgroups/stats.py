"""A container's resource usage in the shape of runc's `events` data (runc's
types.Stats), read from its cgroup files.

Which files, and how v2 values become v1-shaped ones, follows runc 1.1: on a
host with v1 controllers (legacy or hybrid) every controller is read from its
v1 directory; on a cgroup-v2-only host everything comes from the unified one
(cpu.stat's usec * 1000, io.stat as the blkio tables, swap reported as
memory+swap). Hugetlb on a hybrid host lives on the unified hierarchy, so it is
read there when the host has no v1 hugetlb. A file the host or kernel lacks
leaves its values at zero; an unparsable one is an error naming it.
"""
import os
import re

from ..errors import PyruncError, strerror

U64_MAX = 2**64 - 1
CLOCK_TICKS = 100  # USER_HZ of cpuacct.stat: fixed at 100 on Linux (runc hardcodes it too)

BLKIO_TABLES = ("ioServiceBytesRecursive", "ioServicedRecursive", "ioQueueRecursive",
                "ioServiceTimeRecursive", "ioWaitTimeRecursive", "ioMergedRecursive",
                "ioTimeRecursive", "sectorsRecursive")
# runc's v1 blkio sources, best first: the first group whose first file has
# data fills the tables, in order, until a file is missing or empty.
_RECURSIVE = (("sectors_recursive", "sectorsRecursive"),
              ("io_service_time_recursive", "ioServiceTimeRecursive"),
              ("io_wait_time_recursive", "ioWaitTimeRecursive"),
              ("io_merged_recursive", "ioMergedRecursive"),
              ("io_queued_recursive", "ioQueueRecursive"),
              ("time_recursive", "ioTimeRecursive"),
              ("io_serviced_recursive", "ioServicedRecursive"),
              ("io_service_bytes_recursive", "ioServiceBytesRecursive"))
_BLKIO_V1_GROUPS = tuple(tuple((prefix + f, t) for f, t in files) for prefix, files in (
    ("blkio.bfq.", _RECURSIVE),              # bfq with CONFIG_BFQ_CGROUP_DEBUG
    ("blkio.bfq.", _RECURSIVE[-2:]),         # bfq
    ("blkio.", _RECURSIVE),                  # cfq (kernels before 5.0)
    ("blkio.throttle.", _RECURSIVE[-2:]),    # no io scheduler stats
    ("blkio.throttle.", (("io_serviced", "ioServicedRecursive"),
                         ("io_service_bytes", "ioServiceBytesRecursive"))),
))
_CPUSET_FLAGS = ("cpu_exclusive", "mem_hardwall", "mem_exclusive", "memory_migrate",
                 "memory_spread_page", "memory_spread_slab", "memory_pressure",
                 "sched_load_balance")
_IO_STAT_OPS = {"rbytes": ("ioServiceBytesRecursive", "Read"), "wbytes": ("ioServiceBytesRecursive", "Write"),
                "rios": ("ioServicedRecursive", "Read"), "wios": ("ioServicedRecursive", "Write")}
_HUGETLB_FILE = re.compile(r"hugetlb\.([0-9]+[KMG]B)\.(usage_in_bytes|current)")


# -- parsing: text in, numbers out (ValueError on bad input) --

def parse_uint(text: str) -> int:
    """A cgroup number as runc reads it: "max" is 2^64-1, a negative value is 0."""
    text = text.strip()
    if text == "max":
        return U64_MAX
    value = int(text, 10)
    if value > U64_MAX:
        raise ValueError(f"{text!r} out of range")
    return max(value, 0)


def parse_keyed(text: str) -> dict[str, int]:
    """"key value" lines (memory.stat, cpu.stat, memory.events, ...)."""
    out = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 2:
            raise ValueError(f"line {line!r} is not in key value format")
        out[parts[0]] = parse_uint(parts[1])
    return out


def parse_cpu_list(text: str) -> list[int]:
    """cpuset.cpus/mems: "0-3,5" -> [0, 1, 2, 3, 5]."""
    out = []
    for part in text.strip().split(","):
        lo, dash, hi = part.partition("-")
        if dash:
            lo, hi = int(lo, 10), int(hi, 10)
            if lo > hi:
                raise ValueError(f"{part!r}: min > max")
            out.extend(range(lo, hi + 1))
        else:
            out.append(int(part, 10))
    return out


def parse_blkio_v1(text: str) -> list[dict]:
    """blkio.* tables: "MAJ:MIN [Op] VALUE" lines; the Total line is skipped."""
    out = []
    for line in text.splitlines():
        fields = line.replace(":", " ").split()
        if not fields:
            continue
        if len(fields) == 2 and fields[0] == "Total":
            continue
        if len(fields) not in (3, 4):
            raise ValueError(f"malformed line {line!r}")
        op = fields[2] if len(fields) == 4 else ""
        out.append(_blkio_entry(int(fields[0]), int(fields[1]), op, int(fields[-1])))
    return out


def parse_io_stat(text: str) -> dict[str, list[dict]]:
    """cgroup v2 io.stat ("MAJ:MIN rbytes=N wbytes=N rios=N wios=N ...") as
    runc maps it onto v1's tables: bytes -> ioServiceBytesRecursive, ios ->
    ioServicedRecursive, with ops Read/Write. Other keys are ignored."""
    tables: dict[str, list[dict]] = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 2:
            continue
        dev = parts[0].split(":")
        if len(dev) != 2:
            continue
        major, minor = int(dev[0]), int(dev[1])
        for item in parts[1:]:
            key, eq, value = item.partition("=")
            if not eq or key not in _IO_STAT_OPS:
                continue
            table, op = _IO_STAT_OPS[key]
            tables.setdefault(table, []).append(_blkio_entry(major, minor, op, int(value)))
    return tables


def parse_cpuacct_usage_all(text: str) -> tuple[list[int], list[int]]:
    """cpuacct.usage_all ("cpu user system" header, then a line per cpu):
    (per-cpu kernel ns, per-cpu user ns)."""
    kernel, user = [], []
    for line in text.splitlines()[1:]:
        fields = line.split(" ")
        if len(fields) != 3:
            continue
        kernel.append(parse_uint(fields[2]))
        user.append(parse_uint(fields[1]))
    return kernel, user


def _blkio_entry(major: int, minor: int, op: str, value: int) -> dict:
    return {"major": major, "minor": minor, "op": op, "value": value}


# -- reading a cgroup directory --

class _Dir:
    def __init__(self, path: str | None):
        self.path = path

    def text(self, name: str) -> str | None:
        """The file's text, or None if this cgroup has no such file."""
        if not self.path:
            return None
        path = os.path.join(self.path, name)
        try:
            with open(path) as f:
                return f.read()
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as e:
            raise PyruncError(f"read {path}: {strerror(e)}") from None

    def parse(self, name: str, parser, default=None):
        text = self.text(name)
        if text is None:
            return default
        try:
            return parser(text)
        except ValueError as e:
            raise PyruncError(f"{os.path.join(self.path, name)}: cannot parse: {e}") from None

    def uint(self, name: str, default: int = 0) -> int:
        return self.parse(name, parse_uint, default)

    def keyed(self, name: str) -> dict[str, int]:
        return self.parse(name, parse_keyed, {})

    def names(self) -> list[str]:
        try:
            return sorted(os.listdir(self.path)) if self.path else []
        except OSError:
            return []


def _empty() -> dict:
    """runc's Stats with every value zero (omitempty is applied by shape())."""
    def entry():
        return {"limit": 0, "usage": 0, "max": 0, "failcnt": 0}
    return {
        "cpu": {"usage": {"total": 0, "percpu": [], "percpu_kernel": [], "percpu_user": [],
                          "kernel": 0, "user": 0},
                "throttling": {"periods": 0, "throttledPeriods": 0, "throttledTime": 0}},
        "cpuset": {"cpus": [], "cpu_exclusive": 0, "mems": [], "mem_hardwall": 0, "mem_exclusive": 0,
                   "memory_migrate": 0, "memory_spread_page": 0, "memory_spread_slab": 0,
                   "memory_pressure": 0, "sched_load_balance": 0, "sched_relax_domain_level": 0},
        "memory": {"cache": 0, "usage": entry(), "swap": entry(), "kernel": entry(),
                   "kernelTCP": entry(), "raw": {}},
        "pids": {"current": 0, "limit": 0},
        "blkio": {t: [] for t in BLKIO_TABLES},
        "hugetlb": {},
        "intel_rdt": {},
        "network_interfaces": None,
    }


def collect_v1(controllers: dict[str, str], unified: str | None) -> dict:
    """From v1 directories ({controller: dir}); hugetlb from the unified
    hierarchy when v1 has none (a hybrid host like this project's CI)."""
    v1 = {name: _Dir(path) for name, path in controllers.items()}
    none = _Dir(None)
    s = _empty()
    _cpu_v1(s, v1.get("cpu", none), v1.get("cpuacct", none))
    _cpuset_v1(s["cpuset"], v1.get("cpuset", none))
    _memory_v1(s["memory"], v1.get("memory", none))
    _pids(s["pids"], v1.get("pids", none), v2=False)
    _blkio_v1(s["blkio"], v1.get("blkio", none))
    if "hugetlb" in v1:
        _hugetlb(s["hugetlb"], v1["hugetlb"], v2=False)
    else:
        _hugetlb(s["hugetlb"], _Dir(unified), v2=True)
    return shape(s)


def collect_v2(directory: str) -> dict:
    """Everything from the one cgroup2 directory, in v1's shape."""
    unified = _Dir(directory)
    s = _empty()
    _cpu_v2(s["cpu"], unified.keyed("cpu.stat"))
    _memory_v2(s["memory"], unified)
    _pids(s["pids"], unified, v2=True)
    s["blkio"].update(unified.parse("io.stat", parse_io_stat, {}))
    _hugetlb(s["hugetlb"], unified, v2=True)
    return shape(s)


def _cpu_v1(s: dict, cpu: _Dir, cpuacct: _Dir) -> None:
    stat = cpu.keyed("cpu.stat")
    _throttling(s["cpu"]["throttling"], stat.get("nr_periods", 0), stat.get("nr_throttled", 0),
                stat.get("throttled_time", 0))
    usage = s["cpu"]["usage"]
    times = cpuacct.keyed("cpuacct.stat")
    usage["user"] = times.get("user", 0) * 10**9 // CLOCK_TICKS
    usage["kernel"] = times.get("system", 0) * 10**9 // CLOCK_TICKS
    usage["total"] = cpuacct.uint("cpuacct.usage")
    usage["percpu"] = cpuacct.parse("cpuacct.usage_percpu", lambda t: [parse_uint(v) for v in t.split()], [])
    usage["percpu_kernel"], usage["percpu_user"] = cpuacct.parse(
        "cpuacct.usage_all", parse_cpuacct_usage_all, ([], []))


def _cpu_v2(cpu: dict, stat: dict) -> None:
    usage = cpu["usage"]
    usage["total"] = stat.get("usage_usec", 0) * 1000
    usage["user"] = stat.get("user_usec", 0) * 1000
    usage["kernel"] = stat.get("system_usec", 0) * 1000
    _throttling(cpu["throttling"], stat.get("nr_periods", 0), stat.get("nr_throttled", 0),
                stat.get("throttled_usec", 0) * 1000)


def _throttling(t: dict, periods: int, throttled: int, ns: int) -> None:
    t.update(periods=periods, throttledPeriods=throttled, throttledTime=ns)


def _cpuset_v1(cpuset: dict, d: _Dir) -> None:
    cpuset["cpus"] = d.parse("cpuset.cpus", parse_cpu_list, [])
    cpuset["mems"] = d.parse("cpuset.mems", parse_cpu_list, [])
    for flag in _CPUSET_FLAGS:
        cpuset[flag] = d.uint("cpuset." + flag)
    level = d.parse("cpuset.sched_relax_domain_level", lambda t: int(t.strip()), 0)
    cpuset["sched_relax_domain_level"] = level


def _memory_v1(memory: dict, d: _Dir) -> None:
    memory["raw"] = d.keyed("memory.stat")
    memory["cache"] = memory["raw"].get("cache", 0)
    for key, prefix in (("usage", "memory"), ("swap", "memory.memsw"), ("kernel", "memory.kmem"),
                        ("kernelTCP", "memory.kmem.tcp")):
        memory[key] = {"limit": d.uint(prefix + ".limit_in_bytes"),
                       "usage": d.uint(prefix + ".usage_in_bytes"),
                       "max": d.uint(prefix + ".max_usage_in_bytes"),
                       "failcnt": d.uint(prefix + ".failcnt")}


def _memory_v2(memory: dict, d: _Dir) -> None:
    """v2 has no kmem files; swap is reported as memory+swap, as v1's memsw
    (runc). Max usage comes from memory.peak (kernel 5.19+, newer runc)."""
    memory["raw"] = d.keyed("memory.stat")
    memory["cache"] = memory["raw"].get("file", 0)
    usage = {"limit": d.uint("memory.max"), "usage": d.uint("memory.current"),
             "max": d.uint("memory.peak"), "failcnt": 0}
    swap = {"limit": d.uint("memory.swap.max"), "usage": d.uint("memory.swap.current"),
            "max": 0, "failcnt": 0}
    swap["usage"] += usage["usage"]
    if swap["limit"] != U64_MAX:
        swap["limit"] = (swap["limit"] + usage["limit"]) & U64_MAX  # Go's uint64 wraps
    memory["usage"], memory["swap"] = usage, swap


def _pids(pids: dict, d: _Dir, v2: bool) -> None:
    current = d.text("pids.current")
    if current is None and v2:
        # pids controller not enabled: count the processes instead (runc)
        procs = d.text("cgroup.procs") or ""
        pids["current"] = procs.count("\n")
        return
    pids["current"] = d.uint("pids.current")
    limit = d.uint("pids.max")
    pids["limit"] = 0 if limit == U64_MAX else limit  # "max": runc says 0, no limit


def _blkio_v1(blkio: dict, d: _Dir) -> None:
    for group in _BLKIO_V1_GROUPS:
        for i, (name, table) in enumerate(group):
            entries = d.parse(name, parse_blkio_v1, [])
            if not entries:
                if i == 0:
                    break  # this source has nothing: try the next one
                return
            blkio[table] = entries
        else:
            return


def _hugetlb(hugetlb: dict, d: _Dir, v2: bool) -> None:
    sizes = sorted({m.group(1) for m in map(_HUGETLB_FILE.fullmatch, d.names()) if m})
    for size in sizes:
        prefix = f"hugetlb.{size}."
        if v2:
            # v2 keeps no max usage; failcnt is the "max" count of .events
            hugetlb[size] = {"usage": d.uint(prefix + "current"), "max": 0,
                             "failcnt": d.keyed(prefix + "events").get("max", 0)}
        else:
            hugetlb[size] = {"usage": d.uint(prefix + "usage_in_bytes"),
                             "max": d.uint(prefix + "max_usage_in_bytes"),
                             "failcnt": d.uint(prefix + "failcnt")}


# -- runc's JSON: Go's omitempty drops zero numbers and empty lists/maps --

def _omit(d: dict, *keys: str) -> dict:
    return {k: v for k, v in d.items() if k not in keys or v}


def shape(s: dict) -> dict:
    cpu = s["cpu"]
    mem = s["memory"]
    return {
        "cpu": {"usage": _omit(cpu["usage"], "total", "percpu", "percpu_kernel", "percpu_user"),
                "throttling": _omit(cpu["throttling"], "periods", "throttledPeriods", "throttledTime")},
        "cpuset": _omit(s["cpuset"], "cpus", "mems"),
        "memory": _omit({
            "cache": mem["cache"],
            **{k: _omit(mem[k], "usage", "max") for k in ("usage", "swap", "kernel", "kernelTCP")},
            "raw": dict(sorted(mem["raw"].items())),  # Go writes map keys sorted
        }, "cache", "raw"),
        "pids": _omit(s["pids"], "current", "limit"),
        "blkio": {t: [_omit(e, "major", "minor", "op", "value") for e in entries]
                  for t, entries in s["blkio"].items() if entries},
        "hugetlb": {k: _omit(v, "usage", "max") for k, v in sorted(s["hugetlb"].items())},
        "intel_rdt": s["intel_rdt"],
        "network_interfaces": s["network_interfaces"],
    }
