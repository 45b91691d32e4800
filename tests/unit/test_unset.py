"""The zero values runc reads as "not set" (runtime/cgroups/unset.py,
docs/zero-values.md): each field both ways, zero and set."""
import pytest

from runtime.cgroups import v1_resources, v2_resources
from runtime.cgroups.unset import drop_unset

UNSET = [("memory", "limit", 0), ("memory", "reservation", 0), ("memory", "swap", 0),
         ("memory", "kernel", 0), ("memory", "kernelTCP", 0),
         ("memory", "disableOOMKiller", False), ("memory", "useHierarchy", False),
         ("cpu", "shares", 0), ("cpu", "quota", 0), ("cpu", "period", 0),
         ("cpu", "realtimeRuntime", 0), ("cpu", "realtimePeriod", 0), ("cpu", "cpus", ""),
         ("cpu", "mems", ""), ("blockIO", "weight", 0), ("blockIO", "leafWeight", 0),
         ("network", "classID", 0)]
SET = [("memory", "limit", 64 << 20), ("memory", "reservation", 1 << 20),
       ("memory", "swap", -1), ("memory", "disableOOMKiller", True),
       ("memory", "swappiness", 0), ("cpu", "shares", 512), ("cpu", "quota", -1),
       ("cpu", "period", 100000), ("cpu", "realtimeRuntime", -1), ("cpu", "cpus", "0"),
       ("cpu", "idle", 0), ("cpu", "burst", 0), ("blockIO", "weight", 10),
       ("network", "classID", 1), ("pids", "limit", 0), ("pids", "limit", -1)]


@pytest.mark.parametrize("section, field, value", UNSET)
def test_zero_is_not_set(section, field, value):
    assert drop_unset({section: {field: value}}) == {}


@pytest.mark.parametrize("section, field, value", SET)
def test_set_values_stay(section, field, value):
    assert drop_unset({section: {field: value}}) == {section: {field: value}}


def test_lists_keep_their_zeros_and_their_places():
    """Throttle rates (0 removes a limit), hugepage limits: values; a weight
    device entry keeps its place (pointers name the others) without zeros."""
    res = {"blockIO": {"throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 0}],
                       "weightDevice": [{"major": 8, "minor": 0, "weight": 0},
                                        {"major": 8, "minor": 16, "weight": 300}]},
           "hugepageLimits": [{"pageSize": "2MB", "limit": 0}], "unified": {}}
    assert drop_unset(res) == {
        "blockIO": {"throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 0}],
                    "weightDevice": [{"major": 8, "minor": 0},
                                     {"major": 8, "minor": 16, "weight": 300}]},
        "hugepageLimits": [{"pageSize": "2MB", "limit": 0}]}


def test_a_docker_config_writes_nothing_it_did_not_set():
    """What Docker sends for `docker run` without limits: no write on either
    version (the v1 writer used to write cpu.shares=0, blkio.weight=0, ...)."""
    docker = {"devices": [{"allow": False, "access": "rwm"}],
              "memory": {"disableOOMKiller": False}, "cpu": {"shares": 0},
              "blockIO": {"weight": 0}, "network": {"classID": 0}}
    left = drop_unset(docker)
    assert left == {"devices": [{"allow": False, "access": "rwm"}]}
    assert [w for w in v1_resources.writes(left) if w[0] != "devices"] == []
    assert v2_resources.writes({k: v for k, v in left.items() if k != "devices"}) == []


def test_docker_update_zeros_leave_the_kernel_values():
    """`docker update --cpus 1.5` sends the other limits as zeros: only the
    quota and period it means are written."""
    update = {"cpu": {"shares": 0, "quota": 150000, "period": 100000, "cpus": "", "mems": ""},
              "memory": {"limit": 0, "reservation": 0, "swap": 0}, "blockIO": {"weight": 0}}
    writes = v1_resources.writes(drop_unset(update))
    assert [(w[1], w[2]) for w in writes] == [("cpu.cfs_period_us", "100000"),
                                              ("cpu.cfs_quota_us", "150000")]


def test_device_rule_type_empty_is_all():
    assert v1_resources._device_rule({"type": "", "allow": False, "access": "rwm"}) == "a"
