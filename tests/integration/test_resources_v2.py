"""linux.resources on a cgroup-v2-only host (the VM lane): the cgroup files from
the host side, the effect from inside, `update`, and the v2 tree rules
(controllers delegated down the ancestors, threaded subtrees, busy parents)."""
import json
import os
import subprocess

import pytest

from conftest import CGROUP_PARENT, IS_PYRUNC, V2_ONLY, block_device, needs_root, wait_for

pytestmark = [needs_root(), pytest.mark.cgroup_v2,
              pytest.mark.skipif(not V2_ONLY, reason="needs a cgroup-v2-only host: these run in "
                                                     "the VM lane (tests/vm), this host is not one")]


def cg_dir(bundle) -> str:
    return f"/sys/fs/cgroup{bundle.config['linux']['cgroupsPath']}"


def cg_file(bundle, name: str) -> str:
    with open(os.path.join(cg_dir(bundle), name)) as f:
        return f.read().strip()


def sleeper(runtime, bundle, resources: dict):
    bundle.config["linux"]["resources"] = resources
    bundle.args("/ocitest", "sleep", "1000")
    runtime("run", "-d", "-b", bundle.write(), bundle.id)


def test_limits_on_the_host(runtime, bundle):
    resources = {
        "memory": {"limit": 64 << 20, "reservation": 32 << 20, "swap": 96 << 20},
        "cpu": {"shares": 1024, "quota": 50000, "period": 100000, "burst": 10000, "idle": 0,
                "cpus": "0", "mems": "0"},
        "pids": {"limit": 42},
        "unified": {"memory.high": str(60 << 20)},
    }
    if os.path.exists("/sys/fs/cgroup/hugetlb.2MB.current") or "hugetlb" in open(
            "/sys/fs/cgroup/cgroup.controllers").read():
        resources["hugepageLimits"] = [{"pageSize": "2MB", "limit": 4 << 20}]
    sleeper(runtime, bundle, resources)
    assert cg_file(bundle, "memory.max") == str(64 << 20)
    assert cg_file(bundle, "memory.low") == str(32 << 20)
    assert cg_file(bundle, "memory.swap.max") == str(32 << 20)  # OCI swap is memory+swap
    assert cg_file(bundle, "memory.high") == str(60 << 20)
    assert cg_file(bundle, "cpu.weight") == "39"  # runc's shares → weight
    assert cg_file(bundle, "cpu.max") == "50000 100000"
    if IS_PYRUNC:  # runc 1.1.5 predates cpu burst
        assert cg_file(bundle, "cpu.max.burst") == "10000"
    assert cg_file(bundle, "cpu.idle") == "0"
    assert cg_file(bundle, "cpuset.cpus") == "0"
    assert cg_file(bundle, "cpuset.mems") == "0"
    assert cg_file(bundle, "pids.max") == "42"
    if "hugepageLimits" in resources:
        assert cg_file(bundle, "hugetlb.2MB.max") == str(4 << 20)
        if IS_PYRUNC and os.path.exists(os.path.join(cg_dir(bundle), "hugetlb.2MB.rsvd.max")):
            assert cg_file(bundle, "hugetlb.2MB.rsvd.max") == str(4 << 20)
    # Every ancestor delegates the controllers; the container's own dir does not.
    for ancestor in ("/sys/fs/cgroup", f"/sys/fs/cgroup{CGROUP_PARENT}"):
        with open(f"{ancestor}/cgroup.subtree_control") as f:
            assert {"cpu", "cpuset", "memory", "pids"} <= set(f.read().split())
    assert cg_file(bundle, "cgroup.subtree_control") == ""


def test_io_limits(runtime, bundle):
    major, minor = block_device()
    dev = {"major": major, "minor": minor}
    sleeper(runtime, bundle, {"blockIO": {
        "throttleReadBpsDevice": [{**dev, "rate": 1 << 20}],
        "throttleWriteIOPSDevice": [{**dev, "rate": 400}]}})
    assert cg_file(bundle, "io.max") == f"{major}:{minor} rbps={1 << 20} wbps=max riops=max wiops=400"
    # io.weight exists only with the iocost controller (or bfq: io.bfq.weight).
    if os.path.exists(os.path.join(cg_dir(bundle), "io.bfq.weight")):
        runtime("update", "--blkio-weight", "500", bundle.id)
        assert cg_file(bundle, "io.bfq.weight").split()[-1] == "500"
    elif os.path.exists(os.path.join(cg_dir(bundle), "io.weight")):
        runtime("update", "--blkio-weight", "500", bundle.id)
        assert cg_file(bundle, "io.weight").startswith("default 4950")
    elif IS_PYRUNC:
        proc = runtime("update", "--blkio-weight", "500", bundle.id, check=False)
        assert proc.returncode == 1 and "io.weight does not exist" in proc.stderr, proc.stderr


def test_update_live_container(runtime, bundle, tmp_path):
    sleeper(runtime, bundle, {"memory": {"limit": 64 << 20}, "pids": {"limit": 20},
                              "cpu": {"quota": 20000, "period": 100000}})
    resources = tmp_path / "r.json"
    resources.write_text(json.dumps({"memory": {"limit": 96 << 20}, "cpu": {"shares": 2048},
                                     "unified": {"pids.max": "25"}}))
    runtime("update", "--resources", resources, bundle.id)
    assert cg_file(bundle, "memory.max") == str(96 << 20)
    assert cg_file(bundle, "cpu.weight") == "79"
    assert cg_file(bundle, "pids.max") == "25"
    # runc's flags; a period alone keeps the quota, a quota alone keeps the period
    runtime("update", "--cpu-period", "50000", bundle.id)
    if IS_PYRUNC:  # runc 1.1.5 drops the quota here ("max 50000")
        assert cg_file(bundle, "cpu.max") == "20000 50000"
    runtime("update", "--cpu-quota", "-1", "--memory", "128m", "--pids-limit", "-1",
            "--memory-swap", "256m", bundle.id)
    assert cg_file(bundle, "cpu.max") == "max 50000"
    assert cg_file(bundle, "memory.max") == str(128 << 20)
    assert cg_file(bundle, "memory.swap.max") == str(128 << 20)
    assert cg_file(bundle, "pids.max") == "max"


@pytest.mark.skipif(not IS_PYRUNC, reason="runc 1.1.5 predates checkBeforeUpdate: on v2 it sets "
                                          "the limit below the usage")
def test_check_before_update(runtime, bundle):
    bundle.private_rootfs()
    bundle.config["root"]["readonly"] = False
    bundle.config["linux"]["resources"] = {"memory": {"limit": 64 << 20, "checkBeforeUpdate": True}}
    # 16 MiB in a tmpfs stays charged to the container.
    bundle.args("/bin/sh", "-c", "dd if=/dev/zero of=/dev/shm/ballast bs=1M count=16 2>/dev/null;"
                " exec /ocitest sleep 1000")
    runtime("run", "-d", "-b", bundle.write(), bundle.id)
    wait_for(lambda: int(cg_file(bundle, "memory.current")) > 16 << 20, "the ballast")
    proc = runtime("update", "--memory", "4m", bundle.id, check=False)
    assert proc.returncode == 1 and "rejecting memory limit 4194304 below the current usage" \
        in proc.stderr, proc.stderr
    assert cg_file(bundle, "memory.max") == str(64 << 20)
    assert runtime.state(bundle.id)["status"] == "running"  # not OOM-killed
    runtime("update", "--memory", "48m", bundle.id)
    assert cg_file(bundle, "memory.max") == str(48 << 20)


@pytest.mark.parametrize("resources, pointer, words", [
    ({"memory": {"swappiness": 10}}, "/linux/resources/memory/swappiness", "no cgroup v2 equivalent"),
    ({"memory": {"kernel": 1 << 20}}, "/linux/resources/memory/kernel", "no cgroup v2 equivalent"),
    ({"cpu": {"realtimeRuntime": 1000}}, "/linux/resources/cpu/realtimeRuntime", "realtime"),
    ({"network": {"classID": 1}}, "/linux/resources/network/classID", "net_cls"),
    ({"blockIO": {"leafWeight": 10}}, "/linux/resources/blockIO/leafWeight", "leaf weight"),
    ({"unified": {"memory.bogus": "1"}}, "/linux/resources/unified/memory.bogus", "does not exist"),
    ({"unified": {"nosuch.max": "1"}}, "/linux/resources/unified/nosuch.max", "no nosuch controller"),
    ({"cpu": {"cpus": "999"}}, "/linux/resources/cpu/cpus", "write '999'"),
    # The guest has the rdma controller but no RDMA device: the kernel's answer.
    ({"rdma": {"mlx5_1": {"hcaHandles": 3}}}, "/linux/resources/rdma/mlx5_1",
     "rdma.max: no such device"),
])
@pytest.mark.skipif(not IS_PYRUNC, reason="runc 1.1.5 silently ignores v1-only fields on v2 "
                                          "(swappiness, kernel, realtime, net_cls, leafWeight) "
                                          "and words the other errors differently")
def test_unavailable_settings_are_errors(runtime, bundle, inventory, resources, pointer, words):
    before = inventory()
    bundle.config["linux"]["resources"] = resources
    proc = runtime("create", "-b", bundle.write(), bundle.id, check=False)
    assert proc.returncode == 1
    line = proc.stderr.strip()
    assert f"config.json: {pointer}: " in line and words in line, line
    assert inventory() == before


@pytest.fixture
def threaded_parent(bundle):
    """A threaded subtree: .../domain (domain threaded) / thr (threaded)."""
    parent = f"/sys/fs/cgroup{CGROUP_PARENT}/{bundle.id}-domain"
    os.makedirs(f"{parent}/thr")
    with open(f"{parent}/thr/cgroup.type", "w") as f:
        f.write("threaded")
    yield f"{CGROUP_PARENT}/{bundle.id}-domain/thr"
    for d in (f"{parent}/thr", parent):
        for sub in sorted((os.path.join(d, e) for e in os.listdir(d)
                           if os.path.isdir(os.path.join(d, e))), reverse=True):
            os.rmdir(sub)
        os.rmdir(d)


def test_threaded_subtree(runtime, bundle, threaded_parent, inventory):
    bundle.config["linux"]["cgroupsPath"] = f"{threaded_parent}/ctr"
    bundle.config["linux"]["resources"] = {"memory": {"limit": 64 << 20}}
    proc = runtime("create", "-b", bundle.write(), bundle.id, check=False)
    assert proc.returncode == 1
    if IS_PYRUNC:  # runc: "cannot enter cgroupv2 ... it is in domain threaded mode"
        assert ("config.json: /linux/resources/memory: cgroup " in proc.stderr
                and "\"domain invalid\"" in proc.stderr), proc.stderr
    # Thread-aware controllers only: the container's cgroup becomes threaded.
    bundle.config["linux"]["resources"] = {"pids": {"limit": 10}}
    bundle.args("/ocitest", "sleep", "1000")
    runtime("run", "-d", "-b", bundle.write(), bundle.id)
    with open(f"/sys/fs/cgroup{threaded_parent}/ctr/cgroup.type") as f:
        assert f.read().strip() == "threaded"
    with open(f"/sys/fs/cgroup{threaded_parent}/ctr/pids.max") as f:
        assert f.read().strip() == "10"
    runtime("delete", "--force", bundle.id)


def test_parent_with_processes_is_a_clear_error(runtime, bundle, inventory):
    busy = f"/sys/fs/cgroup{CGROUP_PARENT}/{bundle.id}-busy"
    os.makedirs(busy)
    holder = subprocess.Popen(["sleep", "1000"])
    try:
        with open(f"{busy}/cgroup.procs", "w") as f:
            f.write(str(holder.pid))
        before = inventory()
        bundle.config["linux"]["cgroupsPath"] = f"{CGROUP_PARENT}/{bundle.id}-busy/ctr"
        bundle.config["linux"]["resources"] = {"memory": {"limit": 64 << 20}}
        proc = runtime("create", "-b", bundle.write(), bundle.id, check=False)
        assert proc.returncode == 1
        if IS_PYRUNC:  # runc: "cannot enter cgroupv2 ... it is in an invalid state"
            assert "has processes of its own" in proc.stderr, proc.stderr
        assert inventory() == before
    finally:
        holder.kill()
        holder.wait()
        os.rmdir(busy)


def test_pids_limit_zero(runtime, bundle):
    """config-linux.md: 0 is a valid pids limit. The init still gets into its
    cgroup (pids.max is written once it is there: a clone into the cgroup
    would count as a fork) and can fork nothing."""
    bundle.config["linux"]["resources"] = {"pids": {"limit": 0}}
    bundle.args("/ocitest", "sleep", "1000")
    runtime("run", "-d", "-b", bundle.write(), bundle.id)
    assert cg_file(bundle, "pids.max") == "0"
    assert runtime.state(bundle.id)["status"] == "running"


def test_cgroup_ownership_for_a_container_that_manages_its_cgroup(runtime, bundle, reachable):
    """config-linux.md "Cgroup ownership": own cgroup namespace, read-write
    /sys/fs/cgroup: the cgroup and its delegatable files belong to the host
    uid of process.user.uid; read-only: left to root."""
    from test_userns import mapped  # a user namespace mapping 0 to 100000
    mapped(bundle, reachable)
    cgroupfs = next(m for m in bundle.config["mounts"] if m["destination"] == "/sys/fs/cgroup")
    cgroupfs["options"] = [o for o in cgroupfs["options"] if o != "ro"]
    bundle.args("/ocitest", "sleep", "1000")
    runtime("run", "-d", "-b", bundle.write(), bundle.id)
    assert os.stat(cg_dir(bundle)).st_uid == 100000
    assert os.stat(os.path.join(cg_dir(bundle), "cgroup.procs")).st_uid == 100000
    assert os.stat(os.path.join(cg_dir(bundle), "memory.max")).st_uid == 0  # not delegatable
    runtime("delete", "--force", bundle.id)
    cgroupfs["options"].append("ro")
    runtime("run", "-d", "-b", bundle.write(), bundle.id)
    assert os.stat(cg_dir(bundle)).st_uid == 0


def test_go_zero_values_are_not_set(runtime, bundle):
    """Go clients' zero values (Docker's "blockIO": {"weight": 0}, "cpu":
    {"shares": 0}, swappiness-free memory, net_cls classID 0, which v2 has no
    file for) are "not set", as runc reads them: nothing is written for them,
    at create and in update."""
    zeros = {"memory": {"limit": 0, "reservation": 0, "swap": 0, "kernel": 0, "kernelTCP": 0,
                        "disableOOMKiller": False},
             "cpu": {"shares": 0, "quota": 0, "period": 0, "realtimeRuntime": 0,
                     "realtimePeriod": 0, "cpus": "", "mems": ""},
             "blockIO": {"weight": 0, "leafWeight": 0}, "network": {"classID": 0}}
    sleeper(runtime, bundle, json.loads(json.dumps(zeros)))
    assert cg_file(bundle, "cpu.weight") == "100"  # the default, untouched
    assert cg_file(bundle, "memory.max") == "max"
    runtime("update", "--memory", "64m", bundle.id)
    runtime("update", "--resources", "-", bundle.id, input=json.dumps(zeros))
    assert cg_file(bundle, "memory.max") == str(64 << 20)
