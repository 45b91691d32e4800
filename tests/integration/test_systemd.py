"""--systemd-cgroup with systemd as PID 1 (#16): the container's cgroup is a
transient scope of systemd's, with the limits asked for as unit properties,
and nothing is left after delete. runc 1.1.5 runs the same configs beside
pyrunc, and the unit properties each gets are compared.

Runs where systemd runs (tests/vm/run_v2_lane.py --systemd boots such a
guest on pure cgroup v2, --systemd --hybrid on systemd's hybrid layout); on
the CI host, which has no systemd, it is skipped, and test_errors.py checks
the one-line refusal instead.
"""
import json
import os
import pathlib
import subprocess
import uuid

import pytest

from conftest import needs_systemd, wait_for

SLICE = "pyrunctest.slice"
CGROUP2 = pathlib.Path("/sys/fs/cgroup")
RUNC = "/usr/sbin/runc"
V2 = (CGROUP2 / "cgroup.controllers").exists()  # else systemd's hybrid (or legacy) layout
v2_only = pytest.mark.skipif(not V2, reason="v2 file names; the v1 ones: test_v1_limits_...")
v1_only = pytest.mark.skipif(V2, reason="v1 file names; the v2 ones: test_limits_...")

pytestmark = needs_systemd()


def show(unit: str, *props: str) -> dict:
    """systemctl show's NAME=VALUE lines; a property shown on several lines
    (DeviceAllow) has them joined with ", "."""
    out = subprocess.run(["systemctl", "show", unit, *(f"--property={p}" for p in props)],
                         check=True, capture_output=True, text=True).stdout
    found: dict = {}
    for line in out.splitlines():
        if "=" in line:
            name, value = line.split("=", 1)
            found[name] = f"{found[name]}, {value}" if name in found else value
    return found


@pytest.fixture(scope="module", autouse=True)
def test_slice():
    yield
    subprocess.run(["systemctl", "stop", SLICE], capture_output=True)


def unit_cgroups(unit: str) -> list[pathlib.Path]:
    """The unit's directories in every hierarchy (one on cgroup v2); the
    links for comounted controllers (cpu -> cpu,cpuacct) count once."""
    found = [p for p in [CGROUP2 / SLICE / unit, *CGROUP2.glob(f"*/{SLICE}/{unit}")]
             if p.is_dir()]
    return sorted({p.resolve() for p in found})


@pytest.fixture
def sd(runtime, bundle):
    """The bundle with a systemd cgroupsPath; its unit name and its cgroup
    dir (v2), or freezer dir (v1)."""
    bundle.config["linux"]["cgroupsPath"] = f"{SLICE}:pyrunc-test:{bundle.id}"
    unit = f"pyrunc-test-{bundle.id}.scope"
    yield unit, CGROUP2 / ("" if V2 else "freezer") / SLICE / unit
    runtime("--systemd-cgroup", "delete", "--force", bundle.id, check=False)
    subprocess.run(["systemctl", "stop", unit], capture_output=True)
    subprocess.run(["systemctl", "reset-failed", unit], capture_output=True)


def assert_unit_gone(unit: str, cgroup: pathlib.Path) -> None:
    """systemd unloads a stopped transient unit in its next loop iteration."""
    wait_for(lambda: show(unit, "LoadState")["LoadState"] == "not-found", f"{unit} unloaded")
    assert not cgroup.exists() and unit_cgroups(unit) == []


def sh(bundle, script: str):
    return bundle.args("/bin/sh", "-c", script)


def test_lifecycle_in_a_scope(runtime, bundle, sd):
    unit, cgroup = sd
    sh(bundle, "exec sleep 600")
    runtime("--systemd-cgroup", "create", "-b", bundle.write(), bundle.id)
    props = show(unit, "ActiveState", "ControlGroup", "Delegate", "Slice")
    assert props == {"ActiveState": "active", "ControlGroup": f"/{SLICE}/{unit}",
                     "Delegate": "yes", "Slice": SLICE}
    pid = runtime.state(bundle.id)["pid"]
    # In the unit in every hierarchy (v1: systemd's, and those the init joined)
    lines = pathlib.Path(f"/proc/{pid}/cgroup").read_text().splitlines()
    assert lines and all(line.endswith(f":/{SLICE}/{unit}") for line in lines), lines
    if not V2:
        assert len(unit_cgroups(unit)) == len(lines)
    runtime("start", bundle.id)
    assert runtime.wait_status(bundle.id, "running") == "running"
    # exec joins the unit's cgroups: the root of the container's cgroup
    # namespace in each hierarchy (the default spec has one), else the host's paths
    out = runtime("exec", bundle.id, "sh", "-c", "cat /proc/self/cgroup; sleep 0.1").stdout
    if "cgroup" in [ns["type"] for ns in bundle.config["linux"]["namespaces"]]:
        assert out.splitlines() == [line.rsplit(":", 1)[0] + ":/" for line in lines]
    else:
        assert out.splitlines() == lines
    assert (cgroup / "cgroup.procs").read_text().split() == [str(pid)]  # the exec is gone
    runtime("pause", bundle.id)
    assert runtime.state(bundle.id)["status"] == "paused"
    if V2:
        assert (cgroup / "cgroup.freeze").read_text() == "1\n"
    else:
        assert (cgroup / "freezer.state").read_text() == "FROZEN\n"
    runtime("resume", bundle.id)
    assert runtime.state(bundle.id)["status"] == "running"
    # stats read the unit's cgroup as any other (events --stats: one JSON event)
    stats = json.loads(runtime("events", "--stats", bundle.id).stdout)["data"]
    assert stats["pids"]["current"] == 1 and stats["memory"]["usage"]["usage"] > 0
    runtime("kill", bundle.id, "KILL")
    assert runtime.wait_status(bundle.id, "stopped") == "stopped"
    runtime("delete", bundle.id)
    assert_unit_gone(unit, cgroup)


@v2_only
def test_limits_become_unit_properties_and_files(runtime, bundle, sd):
    unit, cgroup = sd
    sh(bundle, "exec sleep 600")
    bundle.config["linux"]["resources"] = {
        "memory": {"limit": 64 << 20, "swap": 96 << 20, "reservation": 16 << 20},
        "pids": {"limit": 100},
        "cpu": {"shares": 2048, "quota": 50000, "period": 100000, "cpus": "0", "mems": "0"},
    }
    runtime("--systemd-cgroup", "run", "-d", "-b", bundle.write(), bundle.id)
    props = show(unit, "MemoryMax", "MemorySwapMax", "MemoryLow", "TasksMax", "CPUWeight",
                 "CPUQuotaPerSecUSec", "CPUQuotaPeriodUSec", "AllowedCPUs",
                 "AllowedMemoryNodes")
    assert props == {"MemoryMax": str(64 << 20), "MemorySwapMax": str(32 << 20),
                     "MemoryLow": str(16 << 20), "TasksMax": "100", "CPUWeight": "79",
                     "CPUQuotaPerSecUSec": "500ms", "CPUQuotaPeriodUSec": "100ms",
                     "AllowedCPUs": "0", "AllowedMemoryNodes": "0"}
    files = {name: (cgroup / name).read_text().strip()
             for name in ("memory.max", "memory.swap.max", "memory.low", "pids.max",
                          "cpu.weight", "cpu.max", "cpuset.cpus")}
    assert files == {"memory.max": str(64 << 20), "memory.swap.max": str(32 << 20),
                     "memory.low": str(16 << 20), "pids.max": "100", "cpu.weight": "79",
                     "cpu.max": "50000 100000", "cpuset.cpus": "0"}
    # update: the unit's property and the file
    runtime("update", "--memory", str(128 << 20), "--memory-swap", str(160 << 20),
            "--pids-limit", "200", bundle.id)
    assert show(unit, "MemoryMax", "TasksMax") == {"MemoryMax": str(128 << 20),
                                                   "TasksMax": "200"}
    assert (cgroup / "memory.max").read_text().strip() == str(128 << 20)
    assert (cgroup / "pids.max").read_text().strip() == "200"


@v1_only
def test_v1_limits_become_unit_properties_and_files(runtime, bundle, sd):
    unit, _freezer = sd
    sh(bundle, "exec sleep 600")
    bundle.config["linux"]["resources"] = {
        "memory": {"limit": 64 << 20},
        "pids": {"limit": 100},
        "cpu": {"shares": 512, "quota": 50000, "period": 100000, "cpus": "0"},
    }
    runtime("--systemd-cgroup", "run", "-d", "-b", bundle.write(), bundle.id)
    props = show(unit, "MemoryLimit", "TasksMax", "CPUShares", "CPUQuotaPerSecUSec",
                 "CPUQuotaPeriodUSec", "AllowedCPUs")
    assert props == {"MemoryLimit": str(64 << 20), "TasksMax": "100", "CPUShares": "512",
                     "CPUQuotaPerSecUSec": "500ms", "CPUQuotaPeriodUSec": "100ms",
                     "AllowedCPUs": "0"}

    def v1(controller, name):
        return (CGROUP2 / controller / SLICE / unit / name).read_text().strip()
    assert [v1("memory", "memory.limit_in_bytes"), v1("pids", "pids.max"),
            v1("cpu,cpuacct", "cpu.shares"), v1("cpu,cpuacct", "cpu.cfs_quota_us"),
            v1("cpuset", "cpuset.cpus")] == [str(64 << 20), "100", "512", "50000", "0"]
    runtime("update", "--memory", str(128 << 20), bundle.id)
    assert show(unit, "MemoryLimit") == {"MemoryLimit": str(128 << 20)}
    assert v1("memory", "memory.limit_in_bytes") == str(128 << 20)


def test_annotations_set_unit_properties(runtime, bundle, sd):
    unit, _cgroup = sd
    sh(bundle, "exec sleep 600")
    bundle.config["annotations"] = {
        "org.systemd.property.CollectMode": "'inactive-or-failed'",
        "org.systemd.property.TimeoutStopUSec": "uint64 123456789",
    }
    runtime("--systemd-cgroup", "run", "-d", "-b", bundle.write(), bundle.id)
    assert show(unit, "CollectMode", "TimeoutStopUSec") == {
        "CollectMode": "inactive-or-failed", "TimeoutStopUSec": "2min 3.456789s"}


def test_device_rules_as_unit_properties(runtime, bundle, sd):
    unit, _cgroup = sd
    sh(bundle, "exec sleep 600")
    runtime("--systemd-cgroup", "run", "-d", "-b", bundle.write(), bundle.id)
    props = show(unit, "DevicePolicy", "DeviceAllow")
    assert props["DevicePolicy"] == "strict"
    allowed = props["DeviceAllow"].split(", ")
    assert {"/dev/char/1:3 rwm", "char-pts rwm", "char-* m", "block-* m"} <= set(allowed)
    # the container still opens what it may, and not what it may not
    assert runtime("exec", bundle.id, "sh", "-c", "echo x > /dev/null && echo ok").stdout == "ok\n"


def test_killed_mid_create_leaves_no_unit_after_delete_force(runtime, bundle, sd):
    unit, cgroup = sd
    sh(bundle, "exec sleep 600")
    proc = runtime("--systemd-cgroup", "create", "-b", bundle.write(), bundle.id, check=False,
                   env={**os.environ, "PYRUNC_FAULT": "spawned"})
    assert proc.returncode == -9
    runtime("--systemd-cgroup", "delete", "--force", bundle.id)
    assert_unit_gone(unit, cgroup)
    assert bundle.id not in runtime.ids()


def test_bad_cgroups_path_is_one_line_naming_the_field(runtime, bundle):
    bundle.config["linux"]["cgroupsPath"] = "/not/systemd/style"
    proc = runtime("--systemd-cgroup", "create", "-b", bundle.write(), bundle.id, check=False)
    assert proc.returncode == 1
    assert proc.stderr.count("\n") == 1 and "/linux/cgroupsPath" in proc.stderr
    assert bundle.id not in runtime.ids()


@pytest.mark.skipif(not os.path.exists(RUNC), reason=f"no {RUNC} to compare with")
def test_same_properties_as_runc(runtime, bundle, tmp_path):
    """The same config through runc 1.1.5 and pyrunc, each in its own scope:
    the unit properties systemd reports are the same."""
    sh(bundle, "exec sleep 600")
    bundle.config["linux"]["resources"] = {
        "memory": {"limit": 64 << 20, "reservation": 16 << 20, "swap": 128 << 20},
        "pids": {"limit": 50},
        "cpu": {"shares": 512, "quota": 33333, "period": 100000, "cpus": "0"},
    }
    names = ("MemoryMax", "MemoryLow", "MemorySwapMax", "TasksMax", "CPUWeight",
             "MemoryLimit", "CPUShares", "BlockIOWeight", "IOWeight",
             "CPUQuotaPerSecUSec", "CPUQuotaPeriodUSec", "AllowedCPUs", "Delegate", "Slice",
             "DevicePolicy", "MemoryAccounting", "CPUAccounting", "TasksAccounting",
             "IOAccounting", "BlockIOAccounting", "DefaultDependencies")
    got = {}
    for name, binary in (("runc", RUNC), ("pyrunc", runtime.binary)):
        cid = f"{name}-{uuid.uuid4().hex[:8]}"
        bundle.config["linux"]["cgroupsPath"] = f"{SLICE}:cmp:{cid}"
        root = str(tmp_path / f"root-{name}")
        # (no pipes: the container inherits stdio, and would hold them open)
        subprocess.run([binary, "--root", root, "--systemd-cgroup", "run", "-d", "-b",
                        bundle.write(), cid], check=True, stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)
        try:
            got[name] = show(f"cmp-{cid}.scope", *names)
        finally:
            subprocess.run([binary, "--root", root, "--systemd-cgroup", "delete", "--force", cid],
                           capture_output=True, timeout=120)
    assert got["pyrunc"] == got["runc"]


def test_check_and_plan_with_the_systemd_driver(runtime, bundle, sd):
    """plan names the unit and its cgroup; check finds no error; neither
    starts the unit."""
    unit, cgroup = sd
    bundle.config["linux"]["resources"]["pids"] = {"limit": 40}
    path = bundle.write()
    proc = runtime("--systemd-cgroup", "check", "--bundle", path, "--format", "json", check=False)
    assert proc.returncode == 0 and not [f for f in json.loads(proc.stdout)
                                         if f["severity"] == "error"], proc.stdout
    plan = json.loads(runtime("--systemd-cgroup", "plan", "--bundle", path, "--format", "json",
                              bundle.id).stdout)
    assert plan["cgroups"]["systemdUnit"] == unit
    assert any(w["file"].endswith("pids.max") and f"/{SLICE}/{unit}/" in w["file"]
               for w in plan["cgroups"]["writes"])
    assert show(unit, "LoadState")["LoadState"] == "not-found" and not cgroup.exists()
