"""events: Go duration parsing, and cgroup files (fixture text in a temporary
directory laid out like a cgroup) turned into runc's stats shape."""
import json

import pytest

from runtime.cgroups import from_dirs, stats
from runtime.cli import main
from runtime.errors import PyruncError
from runtime.commands.events import parse_duration

S, MS = 10**9, 10**6


@pytest.mark.parametrize("text, ns", [
    ("5s", 5 * S), ("100ms", 100 * MS), ("1m30s", 90 * S), ("1.5h", 5400 * S), ("0", 0),
    ("-2s", -2 * S), ("+3s", 3 * S), (".5s", S // 2), ("1.s", S), ("2h45m0.5s", 9900 * S + S // 2),
    ("10us", 10_000), ("10\u00b5s", 10_000), ("10\u03bcs", 10_000), ("7ns", 7), ("0s", 0),
    ("1.0000000005s", S),  # Go truncates below a nanosecond
])
def test_go_durations(text, ns):
    assert parse_duration(text) == ns


@pytest.mark.parametrize("text", ["", "5", "1", "5x", "s", ".s", "5 s", "1.5.3s", "-", "1h-2m",
                                  "5S", "3d", "9999999999999999999s", "ms5"])
def test_bad_durations(text):
    with pytest.raises(ValueError):
        parse_duration(text)


def test_bad_interval_is_one_line(tmp_path, capsys):
    assert main(["--root", str(tmp_path), "events", "--interval", "5x", "someid"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and 'invalid value "5x" for flag --interval' in err


def cgroup(path, files: dict) -> str:
    path.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (path / name).write_text(text)
    return str(path)


V2_FILES = {
    "cpu.stat": "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\nnr_periods 10\n"
                "nr_throttled 3\nthrottled_usec 250\nnr_bursts 0\nburst_usec 0\n",
    "memory.current": "1048576\n",
    "memory.max": "67108864\n",
    "memory.peak": "2097152\n",
    "memory.swap.current": "4096\n",
    "memory.swap.max": "max\n",
    "memory.stat": "anon 65536\nfile 8192\nkernel 4096\npgfault 12\n",
    "memory.events": "low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\n",
    "pids.current": "3\n",
    "pids.max": "42\n",
    "io.stat": "8:0 rbytes=4096 wbytes=512 rios=2 wios=1 dbytes=0 dios=0\n"
               "253:1 rbytes=0 wbytes=1024 rios=0 wios=3 dbytes=0 dios=0\n",
    "hugetlb.2MB.current": "2097152\n",
    "hugetlb.2MB.events": "max 2\n",
    "hugetlb.2MB.rsvd.current": "0\n",
    "hugetlb.1GB.current": "0\n",
    "hugetlb.1GB.events": "max 0\n",
    "cgroup.procs": "1\n2\n3\n",
}


def test_v2_conversion(tmp_path):
    data = from_dirs({"unified": cgroup(tmp_path / "c", V2_FILES)}).stats()
    assert data["cpu"] == {"usage": {"total": 1_500_000, "kernel": 500_000, "user": 1_000_000},
                           "throttling": {"periods": 10, "throttledPeriods": 3, "throttledTime": 250_000}}
    mem = data["memory"]
    assert mem["cache"] == 8192  # v2's "file"
    assert mem["usage"] == {"limit": 64 << 20, "usage": 1 << 20, "max": 2 << 20, "failcnt": 0}
    # v1 compatibility: swap is memory+swap; an unlimited swap stays unlimited
    assert mem["swap"] == {"limit": 2**64 - 1, "usage": (1 << 20) + 4096, "failcnt": 0}
    assert mem["kernel"] == {"limit": 0, "failcnt": 0} and mem["kernelTCP"] == {"limit": 0, "failcnt": 0}
    assert mem["raw"] == {"anon": 65536, "file": 8192, "kernel": 4096, "pgfault": 12}
    assert data["pids"] == {"current": 3, "limit": 42}
    assert data["blkio"] == {
        "ioServiceBytesRecursive": [{"major": 8, "op": "Read", "value": 4096},
                                    {"major": 8, "op": "Write", "value": 512},
                                    {"major": 253, "minor": 1, "op": "Read"},
                                    {"major": 253, "minor": 1, "op": "Write", "value": 1024}],
        "ioServicedRecursive": [{"major": 8, "op": "Read", "value": 2}, {"major": 8, "op": "Write", "value": 1},
                                {"major": 253, "minor": 1, "op": "Read"},
                                {"major": 253, "minor": 1, "op": "Write", "value": 3}]}
    assert data["hugetlb"] == {"1GB": {"failcnt": 0}, "2MB": {"usage": 2 << 20, "failcnt": 2}}
    # cpuset: runc reads none on v2; the non-omitempty fields stay, at zero
    assert data["cpuset"]["sched_load_balance"] == 0 and "cpus" not in data["cpuset"]
    assert data["intel_rdt"] == {} and data["network_interfaces"] is None


def test_v2_limited_swap_and_no_controllers(tmp_path):
    files = dict(V2_FILES, **{"memory.swap.max": "1048576\n", "pids.max": "max\n"})
    data = from_dirs({"unified": cgroup(tmp_path / "a", files)}).stats()
    assert data["memory"]["swap"]["limit"] == (64 << 20) + (1 << 20)
    assert data["pids"] == {"current": 3}  # "max" is reported as no limit (0, omitted)
    # A cgroup without the pids/memory/io controllers: pids counted from cgroup.procs
    bare = from_dirs({"unified": cgroup(tmp_path / "b", {"cgroup.procs": "7\n8\n",
                                                              "cpu.stat": "usage_usec 0\n"})}).stats()
    assert bare["pids"] == {"current": 2}
    assert bare["cpu"] == {"usage": {"kernel": 0, "user": 0}, "throttling": {}}
    assert bare["memory"] == {"usage": {"limit": 0, "failcnt": 0}, "swap": {"limit": 0, "failcnt": 0},
                              "kernel": {"limit": 0, "failcnt": 0}, "kernelTCP": {"limit": 0, "failcnt": 0}}
    assert bare["blkio"] == {} and bare["hugetlb"] == {}


def test_v1_files(tmp_path):
    dirs = {
        "cpu": cgroup(tmp_path / "cpu", {"cpu.stat": "nr_periods 7\nnr_throttled 4\nthrottled_time 2015\n"}),
        "cpuacct": cgroup(tmp_path / "cpuacct", {
            "cpuacct.usage": "221859336\n", "cpuacct.usage_percpu": "5943722 215915614 \n",
            "cpuacct.usage_all": "cpu user system\n0 0 4000000\n1 227943715 0\n",
            "cpuacct.stat": "user 21\nsystem 3\n"}),
        "cpuset": cgroup(tmp_path / "cpuset", {
            "cpuset.cpus": "0-2,5\n", "cpuset.mems": "0\n", "cpuset.sched_load_balance": "1\n",
            "cpuset.sched_relax_domain_level": "-1\n", "cpuset.cpu_exclusive": "0\n"}),
        "memory": cgroup(tmp_path / "memory", {
            "memory.usage_in_bytes": "434176\n", "memory.max_usage_in_bytes": "2785280\n",
            "memory.limit_in_bytes": "67108864\n", "memory.failcnt": "2\n",
            "memory.kmem.tcp.usage_in_bytes": "0\n", "memory.kmem.tcp.max_usage_in_bytes": "0\n",
            "memory.kmem.tcp.limit_in_bytes": "9223372036854771712\n", "memory.kmem.tcp.failcnt": "0\n",
            "memory.stat": "cache 4096\nrss 53248\ntotal_cache 4096\n"}),
        "pids": cgroup(tmp_path / "pids", {"pids.current": "1\n", "pids.max": "42\n"}),
        "blkio": cgroup(tmp_path / "blkio", {
            "blkio.throttle.io_service_bytes_recursive": "8:0 Read 4096\n8:0 Write 0\nTotal 4096\n",
            "blkio.throttle.io_serviced_recursive": "8:0 Read 1\nTotal 1\n"}),
        "name=systemd": str(tmp_path / "systemd"),
        "unified": cgroup(tmp_path / "unified", {"hugetlb.2MB.current": "0\n", "hugetlb.2MB.events": "max 1\n"}),
    }
    data = from_dirs(dirs).stats()
    assert data["cpu"] == {
        "usage": {"total": 221859336, "percpu": [5943722, 215915614], "percpu_kernel": [4000000, 0],
                  "percpu_user": [0, 227943715], "kernel": 30_000_000, "user": 210_000_000},
        "throttling": {"periods": 7, "throttledPeriods": 4, "throttledTime": 2015}}
    assert data["cpuset"]["cpus"] == [0, 1, 2, 5] and data["cpuset"]["mems"] == [0]
    assert data["cpuset"]["sched_relax_domain_level"] == -1 and data["cpuset"]["sched_load_balance"] == 1
    mem = data["memory"]
    assert mem["cache"] == 4096
    assert mem["usage"] == {"limit": 67108864, "usage": 434176, "max": 2785280, "failcnt": 2}
    assert mem["swap"] == {"limit": 0, "failcnt": 0}  # no memsw files: swap accounting is off
    assert mem["kernelTCP"] == {"limit": 9223372036854771712, "failcnt": 0}
    assert list(mem["raw"]) == ["cache", "rss", "total_cache"]
    assert data["pids"] == {"current": 1, "limit": 42}
    assert data["blkio"] == {"ioServiceBytesRecursive": [{"major": 8, "op": "Read", "value": 4096},
                                                         {"major": 8, "op": "Write"}],
                             "ioServicedRecursive": [{"major": 8, "op": "Read", "value": 1}]}
    # hybrid host: hugetlb comes from the unified hierarchy
    assert data["hugetlb"] == {"2MB": {"failcnt": 1}}


def test_json_is_runcs(tmp_path):
    """Go's field order, no spaces: the same line runc writes for the same files."""
    data = from_dirs({"unified": cgroup(tmp_path / "c", {"pids.current": "1\n", "pids.max": "max\n"})}).stats()
    line = json.dumps({"type": "stats", "id": "x", "data": data}, separators=(",", ":"))
    assert list(data) == ["cpu", "cpuset", "memory", "pids", "blkio", "hugetlb", "intel_rdt",
                          "network_interfaces"]
    assert line.startswith('{"type":"stats","id":"x","data":{"cpu":{"usage":{"kernel":0,"user":0},'
                           '"throttling":{}},"cpuset":{"cpu_exclusive":0,')
    assert line.endswith('"pids":{"current":1},"blkio":{},"hugetlb":{},"intel_rdt":{},'
                         '"network_interfaces":null}}')


def test_v1_blkio_source_order(tmp_path):
    """runc takes the first source with data (bfq before throttle) and stops
    at the first empty table of it."""
    d = cgroup(tmp_path / "blkio", {
        "blkio.bfq.io_serviced_recursive": "8:0 Read 5\n",
        "blkio.bfq.io_service_bytes_recursive": "8:0 Read 512\n",
        "blkio.throttle.io_serviced_recursive": "8:0 Read 9\n",
        "blkio.throttle.io_service_bytes_recursive": "8:0 Read 9999\n",
    })
    assert from_dirs({"blkio": d}).stats()["blkio"] == {
        "ioServicedRecursive": [{"major": 8, "op": "Read", "value": 5}],
        "ioServiceBytesRecursive": [{"major": 8, "op": "Read", "value": 512}]}


@pytest.mark.parametrize("name, text", [("pids.current", "lots\n"), ("memory.stat", "anon\n"),
                                        ("cpu.stat", "usage_usec 1 2\n")])
def test_unparsable_file_is_named(tmp_path, name, text):
    d = cgroup(tmp_path / "c", {name: text})
    with pytest.raises(PyruncError, match=f"{name}: cannot parse"):
        from_dirs({"unified": d}).stats()


@pytest.mark.parametrize("text, cpus", [("0", [0]), ("0-3", [0, 1, 2, 3]), ("1,3-4\n", [1, 3, 4])])
def test_cpu_lists(text, cpus):
    assert stats.parse_cpu_list(text) == cpus


def test_uints():
    assert stats.parse_uint("max\n") == 2**64 - 1
    assert stats.parse_uint("-1") == 0  # as runc: a negative value is 0
    with pytest.raises(ValueError):
        stats.parse_uint("1e3")
