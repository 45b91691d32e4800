"""linux.resources → cgroup file writes, v1 and v2, without root."""
import pytest

from runtime.cgroups import from_dirs, v1_resources, v2_resources
from runtime.errors import ConfigError


def v2(res, files=None):
    files = files or {}
    return [(name, value) for name, value, _ in v2_resources.writes(res, files.get)]


def test_v2_conversions_match_runc():
    assert v2_resources.shares_to_weight(2) == 1
    assert v2_resources.shares_to_weight(1024) == 39
    assert v2_resources.shares_to_weight(262144) == 10000
    assert v2_resources.blkio_to_io_weight(10) == 1
    assert v2_resources.blkio_to_io_weight(500) == 4950
    assert v2_resources.blkio_to_io_weight(1000) == 10000


def test_v2_memory():
    assert v2({"memory": {"limit": 64 << 20, "swap": 96 << 20, "reservation": 32 << 20}}) == [
        ("memory.swap.max", str(32 << 20)), ("memory.max", str(64 << 20)),
        ("memory.low", str(32 << 20))]
    assert v2({"memory": {"limit": -1, "swap": -1}}) == [("memory.swap.max", "max"),
                                                         ("memory.max", "max")]
    # swap == limit: no swap at all.
    assert v2({"memory": {"limit": 100, "swap": 100}})[0] == ("memory.swap.max", "0")
    # 0 is "not set", as runc reads it.
    assert v2({"memory": {"limit": 0, "reservation": 0}}) == []


def test_v2_swap_alone_uses_the_current_limit():
    assert v2({"memory": {"swap": 300}}, {"memory.max": "100\n"}) == [("memory.swap.max", "200")]
    with pytest.raises(ConfigError, match="/linux/resources/memory/swap: a swap limit needs"):
        v2({"memory": {"swap": 300}}, {"memory.max": "max\n"})
    with pytest.raises(ConfigError, match="below the memory limit"):
        v2({"memory": {"limit": 300, "swap": 200}})


@pytest.mark.parametrize("field,value", [("kernel", 1 << 20), ("kernelTCP", 1 << 20),
                                         ("swappiness", 10), ("disableOOMKiller", True),
                                         ("useHierarchy", False)])
def test_v2_memory_v1_only_fields_are_errors(field, value):
    with pytest.raises(ConfigError, match=f"/linux/resources/memory/{field}: "):
        v2({"memory": {field: value}})


def test_v2_cpu():
    res = {"cpu": {"shares": 1024, "quota": 50000, "period": 100000, "burst": 1000, "idle": 1,
                   "cpus": "0-1", "mems": "0"}}
    assert v2(res) == [("cpu.weight", "39"), ("cpu.max", "50000 100000"),
                       ("cpu.max.burst", "1000"), ("cpu.idle", "1"),
                       ("cpuset.cpus", "0-1"), ("cpuset.mems", "0")]
    assert v2({"cpu": {"quota": -1}}, {"cpu.max": "20000 50000\n"}) == [("cpu.max", "max 50000")]


def test_v2_cpu_max_keeps_the_half_an_update_leaves_out():
    assert v2({"cpu": {"period": 200000}}, {"cpu.max": "20000 100000\n"}) == [
        ("cpu.max", "20000 200000")]
    assert v2({"cpu": {"quota": 30000}}, {"cpu.max": "max 50000\n"}) == [("cpu.max", "30000 50000")]


def test_v2_realtime_is_an_error():
    with pytest.raises(ConfigError, match="/linux/resources/cpu/realtimeRuntime: realtime"):
        v2({"cpu": {"realtimeRuntime": 950000}})
    assert v2({"cpu": {"realtimeRuntime": 0}}) == []


def test_pids_minus_one_is_max_and_zero_is_a_limit():
    assert v2({"pids": {"limit": -1}}) == [("pids.max", "max")]
    assert v2({"pids": {"limit": 0}}) == [("pids.max", "0")]
    assert [w[:3] for w in v1_resources.writes({"pids": {"limit": 0}})] == [
        ("pids", "pids.max", "0")]


def test_v2_io():
    res = {"blockIO": {"weight": 500, "weightDevice": [{"major": 8, "minor": 0, "weight": 100}],
                       "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1048576}],
                       "throttleWriteIOPSDevice": [{"major": 8, "minor": 16, "rate": 0}]}}
    assert v2(res) == [("io.weight", "default 4950"), ("io.weight", "8:0 910"),
                       ("io.max", "8:0 rbps=1048576"), ("io.max", "8:16 wiops=max")]
    # bfq takes blkio's own scale.
    assert v2(res, {"io.bfq.weight": "default 100\n"})[:2] == [
        ("io.bfq.weight", "500"), ("io.bfq.weight", "8:0 100")]
    with pytest.raises(ConfigError, match="/linux/resources/blockIO/leafWeight"):
        v2({"blockIO": {"leafWeight": 10}})


def test_v2_hugetlb_with_and_without_reservations():
    pages = {"hugepageLimits": [{"pageSize": "2MB", "limit": 4 << 20}]}
    assert v2(pages) == [("hugetlb.2MB.max", str(4 << 20))]
    assert v2(pages, {"hugetlb.2MB.rsvd.max": "max\n"}) == [
        ("hugetlb.2MB.max", str(4 << 20)), ("hugetlb.2MB.rsvd.max", str(4 << 20))]


def test_rdma_on_both_versions():
    res = {"rdma": {"mlx5_1": {"hcaHandles": 3, "hcaObjects": 10000}, "rxe3": {"hcaObjects": 5}}}
    expected = [("rdma.max", "mlx5_1 hca_handle=3 hca_object=10000"),
                ("rdma.max", "rxe3 hca_object=5")]
    assert v2(res) == expected
    assert [(name, value) for _, name, value, _ in v1_resources.writes(res)] == expected


def test_v2_network_is_an_error():
    with pytest.raises(ConfigError, match="/linux/resources/network/classID: net_cls"):
        v2({"network": {"classID": 1}})


def test_unified_key_checks():
    assert v2({"unified": {"memory.high": "1000000", "io.max": "8:0 rbps=1\n8:16 wbps=2"}}) == [
        ("memory.high", "1000000"), ("io.max", "8:0 rbps=1\n8:16 wbps=2")]
    for bad, why in (("../x", "not a cgroup file"), ("cgroup.procs", "the runtime's"),
                     ("", "not a cgroup file")):
        with pytest.raises(ConfigError, match=why):
            v2({"unified": {bad: "1"}})
    with pytest.raises(ConfigError, match="/linux/resources/unified/a~1b: "):
        v2({"unified": {"a/b": "1"}})
    with pytest.raises(ConfigError, match="/linux/resources/unified: this host has no cgroup v2"):
        v1_resources.writes({"unified": {"memory.high": "1"}})


def test_controllers_needed_name_their_fields():
    need = v2_resources.controllers({"memory": {"limit": 1}, "cpu": {"cpus": "0", "quota": 1},
                                     "unified": {"misc.max": "x 1", "cgroup.max.depth": "3"}})
    assert need == {"memory": "/linux/resources/memory", "cpu": "/linux/resources/cpu/quota",
                    "cpuset": "/linux/resources/cpu/cpus", "misc": "/linux/resources/unified/misc.max"}


def test_hybrid_split_sends_what_v1_lacks_to_the_unified_hierarchy():
    dirs = {"memory": "/m", "cpu,cpuacct": "/c", "unified": "/u"}
    res = {"memory": {"limit": 1}, "hugepageLimits": [{"pageSize": "2MB", "limit": 0}],
           "unified": {"hugetlb.2MB.max": "0"}}
    hybrid = from_dirs(dirs)
    assert hybrid.kind == "hybrid"
    v1_part, v2_part = hybrid.split(res)
    assert v1_part == {"memory": {"limit": 1}}
    assert v2_part == {"hugepageLimits": res["hugepageLimits"], "unified": res["unified"]}
    # With a v1 hugetlb hierarchy, v1 keeps it.
    v1_part, _ = from_dirs({**dirs, "hugetlb": "/h"}).split(res)
    assert "hugepageLimits" in v1_part
    # A legacy host (no unified) is all v1, and v1 refuses `unified`, naming it.
    legacy = from_dirs({"memory": "/m"})
    assert legacy.kind == "v1"
    with pytest.raises(ConfigError, match="^config.json: /linux/resources/unified"):
        legacy.apply({"unified": {"memory.max": "1"}}, creating=False)


def test_v2_memory_limit_alone_keeps_memory_plus_swap():
    files = {"memory.max": "100\n", "memory.swap.max": "50\n"}
    assert v2({"memory": {"limit": 120}}, files) == [("memory.swap.max", "30"),
                                                    ("memory.max", "120")]
    with pytest.raises(ConfigError, match="above the memory\\+swap limit 150"):
        v2({"memory": {"limit": 200}}, files)
    # Unlimited swap stays unlimited.
    assert v2({"memory": {"limit": 120}}, {"memory.max": "100\n", "memory.swap.max": "max\n"}) == [
        ("memory.max", "120")]
