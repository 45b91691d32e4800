"""linux.resources on cgroup v1 (this host is hybrid): the host's cgroup files,
and the effect from inside. `update` changes them on a live container."""
import json
import os

import pytest

from conftest import needs_root

pytestmark = [needs_root(),
              pytest.mark.skipif(not os.path.isdir("/sys/fs/cgroup/memory"),
                                 reason="no cgroup v1 memory controller: the v1 lane needs a "
                                        "legacy or hybrid host (v2 runs in the VM lane)")]


def cg_file(bundle, controller: str, name: str) -> str:
    path = f"/sys/fs/cgroup/{controller}{bundle.config['linux']['cgroupsPath']}/{name}"
    with open(path) as f:
        return f.read().strip()


def test_limits_on_the_host(runtime, bundle):
    bundle.config["linux"]["resources"] = {
        "devices": [{"allow": False, "access": "rwm"}],
        "memory": {"limit": 64 << 20, "reservation": 32 << 20, "swap": 128 << 20, "swappiness": 10},
        "cpu": {"shares": 512, "quota": 50000, "period": 100000, "cpus": "0", "mems": "0"},
        "pids": {"limit": 42},
    }
    bundle.args("/ocitest", "sleep", "1000")
    runtime("run", "-d", "-b", bundle.write(), bundle.id)
    assert cg_file(bundle, "memory", "memory.limit_in_bytes") == str(64 << 20)
    assert cg_file(bundle, "memory", "memory.soft_limit_in_bytes") == str(32 << 20)
    assert cg_file(bundle, "memory", "memory.memsw.limit_in_bytes") == str(128 << 20)
    assert cg_file(bundle, "memory", "memory.swappiness") == "10"
    assert cg_file(bundle, "cpu", "cpu.shares") == "512"
    assert cg_file(bundle, "cpu", "cpu.cfs_quota_us") == "50000"
    assert cg_file(bundle, "cpu", "cpu.cfs_period_us") == "100000"
    assert cg_file(bundle, "cpuset", "cpuset.cpus") == "0"
    assert cg_file(bundle, "pids", "pids.max") == "42"
    devices = cg_file(bundle, "devices", "devices.list").splitlines()
    assert "a *:* rwm" not in devices and "c 1:3 rwm" in devices


def test_memory_limit_oom_kills(runtime, bundle):
    bundle.config["linux"]["resources"] = {"memory": {"limit": 32 << 20, "swap": 32 << 20}}
    bundle.args("/bin/sh", "-c", "dd if=/dev/zero of=/dev/null bs=64M count=1 2>/dev/null; echo $?;"
                " dd if=/dev/zero of=/dev/null bs=1M count=1 2>/dev/null; echo $?")
    out = runtime("run", "-b", bundle.write(), bundle.id).stdout.split()
    assert out == ["137", "0"]  # the 64 MiB buffer is OOM-killed, 1 MiB is fine


def test_pids_limit_stops_forks(runtime, bundle):
    bundle.config["linux"]["resources"] = {"pids": {"limit": 4}}
    bundle.args("/bin/sh", "-c", "for i in 1 2 3 4 5 6 7 8; do /ocitest sleep 5 & done")
    proc = runtime("run", "-b", bundle.write(), bundle.id, check=False)
    assert "can't fork: Resource temporarily unavailable" in proc.stderr


def test_devices_deny_all_but_defaults(runtime, bundle):
    bundle.config["linux"]["devices"] = [{"path": "/dev/hostdisk", "type": "b", "major": 254, "minor": 0},
                                         {"path": "/dev/allowed", "type": "c", "major": 1, "minor": 3}]
    bundle.config["linux"]["resources"] = {"devices": [
        {"allow": False, "access": "rwm"}, {"allow": True, "type": "c", "major": 1, "minor": 3,
                                            "access": "r"}]}
    bundle.args("/bin/sh", "-c", "/ocitest open-write /dev/hostdisk; cat /dev/allowed && echo read-ok;"
                " /ocitest open-write /dev/null; true")
    out = runtime("run", "-b", bundle.write(), bundle.id).stdout.splitlines()
    assert out[0] == "error: Operation not permitted"
    assert out[1] == "read-ok"
    assert out[2] == "ok"  # the always-allowed defaults come after the config's rules


@pytest.mark.parametrize("resources, pointer, words", [
    ({"blockIO": {"weight": 500}}, "/linux/resources/blockIO/weight", "does not exist on this host"),
    ({"network": {"classID": 1}}, "/linux/resources/network/classID", "no cgroup v1 net_cls"),
    ({"cpu": {"cpus": "999"}}, "/linux/resources/cpu/cpus", "out of range"),
])
def test_unavailable_settings_are_errors(runtime, bundle, inventory, resources, pointer, words):
    before = inventory()
    bundle.config["linux"]["resources"] = resources
    proc = runtime("create", "-b", bundle.write(), bundle.id, check=False)
    assert proc.returncode == 1
    line = proc.stderr.strip()
    assert f"config.json: {pointer}: " in line and words in line, line
    assert inventory() == before


def test_update_live_container(runtime, bundle, tmp_path):
    bundle.config["linux"]["resources"] = {"memory": {"limit": 64 << 20}, "pids": {"limit": 20}}
    bundle.args("/ocitest", "sleep", "1000")
    runtime("run", "-d", "-b", bundle.write(), bundle.id)
    resources = tmp_path / "r.json"
    resources.write_text(json.dumps({"memory": {"limit": 96 << 20}, "cpu": {"shares": 256}}))
    runtime("update", "--resources", resources, bundle.id)
    assert cg_file(bundle, "memory", "memory.limit_in_bytes") == str(96 << 20)
    assert cg_file(bundle, "cpu", "cpu.shares") == "256"
    # stdin, as containerd sends it, and runc's flags
    runtime("update", "--resources", "-", bundle.id, input=json.dumps({"pids": {"limit": 30}}))
    assert cg_file(bundle, "pids", "pids.max") == "30"
    runtime("update", "--memory", "128m", "--pids-limit", "-1", "--cpu-quota", "20000", bundle.id)
    assert cg_file(bundle, "memory", "memory.limit_in_bytes") == str(128 << 20)
    assert cg_file(bundle, "pids", "pids.max") == "max"
    assert cg_file(bundle, "cpu", "cpu.cfs_quota_us") == "20000"


def test_update_errors(runtime, bundle, tmp_path):
    bundle.args("/ocitest", "sleep", "1000")
    runtime("run", "-d", "-b", bundle.write(), bundle.id)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"memory": {"limit": "lots"}}))
    proc = runtime("update", "--resources", bad, bundle.id, check=False)
    assert proc.returncode == 1 and f"{bad}: /memory/limit: expected integer" in proc.stderr
    proc = runtime("update", "--memory", "a lot", bundle.id, check=False)
    assert proc.returncode == 1 and "--memory" in proc.stderr
    proc = runtime("update", bundle.id, check=False)
    assert proc.returncode == 1 and "nothing to change" in proc.stderr
    runtime("kill", bundle.id, "KILL")
    runtime.wait_status(bundle.id, "stopped")
    proc = runtime("update", "--memory", "64m", bundle.id, check=False)
    assert proc.returncode == 1 and "container not running" in proc.stderr
