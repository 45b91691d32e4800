"""Process attributes in real containers (runtime-spec 1.3 config.md):
process.ioPriority, process.scheduler, process.execCPUAffinity,
linux.personality, linux.timeOffsets, linux.intelRdt.

Each effect is read where the kernel keeps it: ioprio_get(2) / ionice(1),
sched_getscheduler(2) and /proc/PID/stat, sched_getaffinity(2), uname -m in the
container, /proc/PID/timens_offsets and /proc/uptime inside.

runc 1.1.5 (runtime-spec 1.0.2) predates all of these fields: it ignores them
(the container runs with the caller's settings), and it has no "time"
namespace. Under PYRUNC_TEST_RUNTIME=runc the tests check that instead (the
time namespace tests skip, and one checks runc's refusal)."""
import ctypes
import json
import os
import pathlib
import platform
import shutil
import subprocess
import time

import pytest

from conftest import CGROUP_PARENT, IS_PYRUNC, needs_root

pytestmark = [needs_root(), pytest.mark.cgroup_v2]

YEAR = 86400 * 365
IOPRIO_CLASS = {1: "IOPRIO_CLASS_RT", 2: "IOPRIO_CLASS_BE", 3: "IOPRIO_CLASS_IDLE"}
SCHED_DEADLINE = 6  # the os module has no constant for it
RUNC_IGNORES = "runc 1.1.5 predates the field (runtime-spec 1.1+) and ignores it"
x86_64_only = pytest.mark.skipif(platform.machine() != "x86_64",
                                 reason="LINUX32 shows as i686 only on an x86_64 kernel")
two_cpus = pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2,
                              reason="affinity tests need two CPUs to pin to one of them")


# -- reading the host's view of a process --

def ioprio_of(pid: int) -> tuple[int, int]:
    """(class, level) from ioprio_get(IOPRIO_WHO_PROCESS, pid)."""
    nr = {"x86_64": 252, "aarch64": 31}[platform.machine()]
    libc = ctypes.CDLL(None, use_errno=True)
    value = libc.syscall(nr, 1, pid)
    if value < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return value >> 13, value & 0x1FFF


def ionice_of(pid: int) -> str | None:
    if not shutil.which("ionice"):
        return None
    return subprocess.run(["ionice", "-p", str(pid)], capture_output=True, text=True,
                          check=True).stdout.strip()


def nice_of(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        stat = f.read()
    # Fields after "(comm)" start at field 3 (state); nice is field 19.
    return int(stat[stat.rindex(")") + 2:].split()[19 - 3])


def uptime() -> float:
    """The host's CLOCK_BOOTTIME, in seconds."""
    with open("/proc/uptime") as f:
        return float(f.read().split()[0])


# -- running containers --

def start(runtime, bundle, *args) -> int:
    """A detached container running args (default: sleep); its init's host pid."""
    bundle.args(*(args or ("/ocitest", "sleep", "1000")))
    runtime("run", "-d", "-b", bundle.write(), bundle.id)
    return runtime.state(bundle.id)["pid"]


def sh(runtime, bundle, script: str) -> str:
    bundle.args("/bin/sh", "-c", script)
    return runtime("run", "-b", bundle.write(), bundle.id).stdout


def exec_detached(runtime, bundle, tmp_path, *args) -> int:
    """`exec -d --pid-file` of args; the new process's host pid."""
    pid_file = tmp_path / f"exec-{time.monotonic_ns()}.pid"
    runtime("exec", "-d", "--pid-file", pid_file, *args)
    return int(pid_file.read_text())


def process_file(tmp_path, bundle, **fields) -> pathlib.Path:
    """An OCI process for `exec --process`: the container's own, with fields."""
    process = {"terminal": False, "args": ["/ocitest", "sleep", "1000"], "cwd": "/",
               "env": bundle.config["process"]["env"], "user": {"uid": 0, "gid": 0},
               **fields}
    path = tmp_path / f"process-{time.monotonic_ns()}.json"
    path.write_text(json.dumps(process))
    return path


def assert_one_line_failure(runtime, inventory, args, expected: str, exact: bool = True):
    """Exit 1 (exec: 255, as runc), one line on stderr (exactly `expected`, or
    containing it), and nothing left on the host: no state dir, cgroup, mount
    or init."""
    before = inventory()
    proc = runtime(*args, check=False)
    assert proc.returncode == (255 if args[0] == "exec" else 1), proc
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    if exact:
        assert lines[0] == expected
    else:
        assert expected in lines[0], lines[0]
    assert inventory() == before
    return lines[0]


# -- ioPriority --

@pytest.mark.parametrize("cls, level, ionice", [
    ("IOPRIO_CLASS_IDLE", 0, "idle"),
    ("IOPRIO_CLASS_BE", 5, "best-effort: prio 5"),
    ("IOPRIO_CLASS_RT", 3, "realtime: prio 3"),
])
def test_io_priority(runtime, bundle, cls, level, ionice):
    ours = ioprio_of(os.getpid())
    bundle.config["process"]["ioPriority"] = {"class": cls, "priority": level}
    pid = start(runtime, bundle)
    got = ioprio_of(pid)
    if not IS_PYRUNC:  # RUNC_IGNORES: the container has the caller's I/O priority
        assert got == ours
        return
    assert (IOPRIO_CLASS.get(got[0]), got[1]) == (cls, level)
    if ionice_of(pid) is not None:
        assert ionice_of(pid) == ionice


# -- scheduler --

def test_scheduler_batch_with_nice(runtime, bundle):
    bundle.config["process"]["scheduler"] = {"policy": "SCHED_BATCH", "nice": 5}
    pid = start(runtime, bundle)
    if not IS_PYRUNC:  # RUNC_IGNORES
        assert (os.sched_getscheduler(pid), nice_of(pid)) == (os.SCHED_OTHER, os.getpriority(
            os.PRIO_PROCESS, 0))
        return
    assert os.sched_getscheduler(pid) == os.SCHED_BATCH
    assert nice_of(pid) == 5
    assert os.getpriority(os.PRIO_PROCESS, pid) == 5


def test_scheduler_other_with_negative_nice(runtime, bundle):
    # A negative nice travels as a u32 and must arrive as -3 (sched_attr's s32);
    # raising the priority needs CAP_SYS_NICE, so it is set before the
    # credentials change (the process runs as uid 1000).
    bundle.config["process"]["scheduler"] = {"policy": "SCHED_OTHER", "nice": -3}
    bundle.config["process"]["user"] = {"uid": 1000, "gid": 1000}
    pid = start(runtime, bundle)
    if not IS_PYRUNC:  # RUNC_IGNORES
        assert nice_of(pid) == os.getpriority(os.PRIO_PROCESS, 0)
        return
    assert os.sched_getscheduler(pid) == os.SCHED_OTHER
    assert nice_of(pid) == -3


def test_scheduler_idle(runtime, bundle):
    # (The kernel keeps nice only for SCHED_OTHER and SCHED_BATCH.)
    bundle.config["process"]["scheduler"] = {"policy": "SCHED_IDLE"}
    pid = start(runtime, bundle)
    assert os.sched_getscheduler(pid) == (os.SCHED_IDLE if IS_PYRUNC else os.SCHED_OTHER)


def give_realtime_budget(bundle) -> None:
    """With RT group scheduling (CONFIG_RT_GROUP_SCHED) the kernel refuses a
    realtime policy in a cgroup whose cpu.rt_runtime_us is 0, the default of
    every new v1 cpu cgroup: give the session parent a budget and the container
    a share of it (linux.resources.cpu.realtimeRuntime)."""
    root = pathlib.Path("/sys/fs/cgroup/cpu")
    if not (root / "cpu.rt_runtime_us").exists():
        return
    parent = pathlib.Path(f"{root}{CGROUP_PARENT}")
    parent.mkdir(exist_ok=True)
    budget = parent / "cpu.rt_runtime_us"
    if int(budget.read_text()) < 100000:
        budget.write_text("100000")
    bundle.config["linux"].setdefault("resources", {})["cpu"] = {"realtimeRuntime": 50000}


def test_scheduler_fifo_with_priority(runtime, bundle):
    give_realtime_budget(bundle)
    bundle.config["process"]["scheduler"] = {"policy": "SCHED_FIFO", "priority": 10}
    v1_cpu = os.path.exists("/sys/fs/cgroup/cpu/cpu.rt_runtime_us")
    bundle.args("/ocitest", "sleep", "1000")
    proc = runtime("run", "-d", "-b", bundle.write(), bundle.id,
                   check=not (IS_PYRUNC and not v1_cpu))
    if proc.returncode != 0:
        # A cgroup-v2 host with RT group scheduling has no knob to give the
        # container a realtime budget: the kernel refuses, and pyrunc says so.
        line = proc.stderr.strip()
        assert line.endswith("set the scheduler (sched_setattr policy 1): "
                             "operation not permitted"), line
        assert len(proc.stderr.strip().splitlines()) == 1
        return
    pid = runtime.state(bundle.id)["pid"]
    if not IS_PYRUNC:  # RUNC_IGNORES
        assert os.sched_getscheduler(pid) == os.SCHED_OTHER
        return
    assert os.sched_getscheduler(pid) == os.SCHED_FIFO
    assert os.sched_getparam(pid).sched_priority == 10


def test_scheduler_deadline(runtime, bundle, inventory):
    """SCHED_DEADLINE has admission control (root domain, bandwidth): the
    kernel may refuse it here. Either it runs with that policy or pyrunc's one
    line names sched_setattr, and nothing is left behind."""
    bundle.config["process"]["scheduler"] = {
        "policy": "SCHED_DEADLINE", "runtime": 10_000_000, "deadline": 30_000_000,
        "period": 30_000_000}
    bundle.args("/ocitest", "sleep", "1000")
    before = inventory()
    proc = runtime("run", "-d", "-b", bundle.write(), bundle.id, check=False)
    if not IS_PYRUNC:  # RUNC_IGNORES
        assert proc.returncode == 0, proc
        assert os.sched_getscheduler(runtime.state(bundle.id)["pid"]) == os.SCHED_OTHER
        return
    if proc.returncode == 0:
        assert os.sched_getscheduler(runtime.state(bundle.id)["pid"]) == SCHED_DEADLINE
        return
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert lines[0].startswith("pyrunc: ")
    assert "set the scheduler (sched_setattr policy 6): " in lines[0]
    assert inventory() == before


def test_scheduler_refused_by_the_kernel_names_sched_setattr(runtime, bundle, inventory):
    # SCHED_ISO is in the spec, never in mainline Linux: always EINVAL.
    bundle.config["process"]["scheduler"] = {"policy": "SCHED_ISO"}
    if not IS_PYRUNC:  # RUNC_IGNORES: never asks the kernel
        assert os.sched_getscheduler(start(runtime, bundle)) == os.SCHED_OTHER
        return
    assert_one_line_failure(runtime, inventory, ["run", "-d", "-b", bundle.write(), bundle.id],
                            "pyrunc: set the scheduler (sched_setattr policy 4): invalid argument",
                            exact=False)


# -- execCPUAffinity --

@two_cpus
@pytest.mark.parametrize("affinity, want", [
    ({"final": "0"}, {0}),
    ({"final": "1"}, {1}),
    ({"initial": "1", "final": "0"}, {0}),
    ({"initial": "0", "final": "0-1"}, {0, 1}),
])
def test_exec_cpu_affinity(runtime, bundle, tmp_path, affinity, want):
    """config.md: it "is not applicable to the container's init process":
    the init runs on every CPU its cgroup has; an exec'd process (which
    starts from the container's process, as runc's exec) is pinned."""
    bundle.config["process"]["execCPUAffinity"] = affinity
    init = start(runtime, bundle)
    assert os.sched_getaffinity(init) == os.sched_getaffinity(0)
    pid = exec_detached(runtime, bundle, tmp_path, bundle.id, "/ocitest", "sleep", "1000")
    if not IS_PYRUNC:  # RUNC_IGNORES: all of the cgroup's CPUs
        assert os.sched_getaffinity(pid) == os.sched_getaffinity(0)
        return
    assert os.sched_getaffinity(pid) == want


@two_cpus
def test_exec_cpu_affinity_seen_inside(runtime, bundle):
    bundle.config["process"]["execCPUAffinity"] = {"final": "1"}
    start(runtime, bundle)
    out = runtime("exec", bundle.id, "grep", "Cpus_allowed_list", "/proc/self/status").stdout
    assert out.split() == ["Cpus_allowed_list:", "1" if IS_PYRUNC else "0-1"]


@two_cpus
def test_exec_process_file_with_attributes(runtime, bundle, tmp_path):
    init = start(runtime, bundle)
    path = process_file(tmp_path, bundle, execCPUAffinity={"initial": "1", "final": "0"},
                        ioPriority={"class": "IOPRIO_CLASS_IDLE", "priority": 0},
                        scheduler={"policy": "SCHED_BATCH", "nice": 7})
    pid = exec_detached(runtime, bundle, tmp_path, "--process", path, bundle.id)
    assert os.sched_getaffinity(init) == os.sched_getaffinity(0)  # the init is not touched
    if not IS_PYRUNC:  # RUNC_IGNORES
        assert os.sched_getaffinity(pid) == os.sched_getaffinity(0)
        assert os.sched_getscheduler(pid) == os.SCHED_OTHER
        return
    assert os.sched_getaffinity(pid) == {0}
    assert ioprio_of(pid) == (3, 0)
    assert (os.sched_getscheduler(pid), nice_of(pid)) == (os.SCHED_BATCH, 7)


@two_cpus
def test_exec_inherits_the_containers_attributes(runtime, bundle, tmp_path):
    """exec without --process runs the container's process with new args, as
    runc does: its execCPUAffinity, ioPriority and scheduler come along."""
    bundle.config["process"]["execCPUAffinity"] = {"final": "1"}
    bundle.config["process"]["ioPriority"] = {"class": "IOPRIO_CLASS_BE", "priority": 6}
    bundle.config["process"]["scheduler"] = {"policy": "SCHED_BATCH", "nice": 2}
    start(runtime, bundle)
    pid = exec_detached(runtime, bundle, tmp_path, bundle.id, "/ocitest", "sleep", "1000")
    if not IS_PYRUNC:  # RUNC_IGNORES
        assert os.sched_getaffinity(pid) == os.sched_getaffinity(0)
        return
    assert os.sched_getaffinity(pid) == {1}
    assert ioprio_of(pid) == (2, 6)
    assert (os.sched_getscheduler(pid), nice_of(pid)) == (os.SCHED_BATCH, 2)


# -- personality --

@x86_64_only
@pytest.mark.parametrize("domain, machine, persona", [
    ("LINUX32", "i686", "00000008"), ("LINUX", "x86_64", "00000000")])
def test_personality(runtime, bundle, domain, machine, persona):
    bundle.config["linux"]["personality"] = {"domain": domain, "flags": []}
    out = sh(runtime, bundle, "uname -m; cat /proc/self/personality").split()
    if not IS_PYRUNC:  # RUNC_IGNORES
        assert out == ["x86_64", "00000000"]
        return
    assert out == [machine, persona]


@x86_64_only
def test_personality_applies_to_exec(runtime, bundle):
    """runc 1.2+ sets linux.personality in exec'd processes too (its setns
    init calls setupPersonality; its bats test "runc run personality with exec
    for i686")."""
    bundle.config["linux"]["personality"] = {"domain": "LINUX32"}
    start(runtime, bundle)
    out = runtime("exec", bundle.id, "uname", "-m").stdout.strip()
    if not IS_PYRUNC:  # RUNC_IGNORES
        assert out == "x86_64"
        return
    assert out == "i686"


# -- timeOffsets --

time_ns = pytest.mark.skipif(not os.path.exists("/proc/self/ns/time"),
                             reason="kernel without time namespaces")


@time_ns
@pytest.mark.skipif(not IS_PYRUNC, reason="runc 1.1.5 has no time namespace: it refuses "
                    "{\"type\": \"time\"} ('namespace {\"time\" \"\"} does not exist', checked by "
                    "test_runc_refuses_the_time_namespace)")
def test_time_offsets(runtime, bundle):
    offsets = {"monotonic": {"secs": YEAR, "nanosecs": 5}, "boottime": {"secs": 2 * YEAR}}
    bundle.config["linux"]["namespaces"].append({"type": "time"})
    bundle.config["linux"]["timeOffsets"] = offsets
    host_before = uptime()
    pid = start(runtime, bundle)
    # The kernel's view of the container's namespace: exactly our offsets.
    with open(f"/proc/{pid}/timens_offsets") as f:
        lines = sorted(line.split() for line in f.read().splitlines())
    assert lines == [["boottime", str(2 * YEAR), "0"], ["monotonic", str(YEAR), "5"]]
    assert os.readlink(f"/proc/{pid}/ns/time") != os.readlink("/proc/self/ns/time")
    # /proc/uptime is CLOCK_BOOTTIME: inside it is two years ahead.
    inside = float(runtime("exec", bundle.id, "cat", "/proc/uptime").stdout.split()[0])
    host_after = uptime()
    assert host_before + 2 * YEAR - 1 <= inside <= host_after + 2 * YEAR + 1


@time_ns
@pytest.mark.skipif(not IS_PYRUNC, reason="runc 1.1.5 has no time namespace (see "
                    "test_runc_refuses_the_time_namespace)")
def test_time_offsets_seen_by_the_init(runtime, bundle):
    bundle.config["linux"]["namespaces"].append({"type": "time"})
    bundle.config["linux"]["timeOffsets"] = {"boottime": {"secs": YEAR}}
    before = uptime()
    inside = float(sh(runtime, bundle, "cat /proc/uptime").split()[0])
    after = uptime()
    assert before + YEAR - 1 <= inside <= after + YEAR + 1


@time_ns
@pytest.mark.skipif(IS_PYRUNC, reason="checks runc 1.1.5 itself: pyrunc runs time "
                    "namespaces (test_time_offsets)")
def test_runc_refuses_the_time_namespace(runtime, bundle, inventory):
    bundle.config["linux"]["namespaces"].append({"type": "time"})
    bundle.config["linux"]["timeOffsets"] = {"boottime": {"secs": YEAR}}
    before = inventory()
    proc = runtime("run", "-d", "-b", bundle.write(), bundle.id, check=False)
    assert proc.returncode != 0, proc
    assert 'namespace {\\"time\\" \\"\\"} does not exist' in proc.stderr, proc.stderr
    assert inventory() == before


# -- intelRdt --

@pytest.mark.skipif(os.path.isdir("/sys/fs/resctrl/info"),
                    reason="this host has resctrl: the test is for hosts without it")
@pytest.mark.parametrize("rdt, runc_refuses", [
    ({"closID": "c1"}, None),
    ({"closID": "c1", "l3CacheSchema": "L3:0=ff"},
     "intelRdt.l3CacheSchema is specified in config, but Intel RDT/CAT is not enabled"),
    ({"memBwSchema": "MB:0=50"},
     "intelRdt.memBwSchema is specified in config, but Intel RDT/MBA is not enabled"),
])
def test_intel_rdt_without_resctrl(runtime, bundle, inventory, rdt, runc_refuses):
    bundle.config["linux"]["intelRdt"] = rdt
    bundle.args("/ocitest", "sleep", "1000")
    args = ["run", "-d", "-b", bundle.write(), bundle.id]
    if not IS_PYRUNC:
        # runc 1.1.5 refuses a schema it cannot write, in its own words, and
        # runs a container whose intelRdt has a closID only.
        before = inventory()
        proc = runtime(*args, check=False)
        if runc_refuses is None:
            assert proc.returncode == 0, proc
            return
        assert proc.returncode != 0 and runc_refuses in proc.stderr, proc
        assert inventory() == before
        return
    assert_one_line_failure(runtime, inventory, args,
                            "pyrunc: config.json: /linux/intelRdt: not supported on this host: "
                            "no resctrl filesystem is mounted (Intel RDT needs /sys/fs/resctrl)")


# -- bad values: exit 1, one line naming the field, nothing left --

def _set(path: str, value):
    def mutate(config):
        *parents, last = path.split("/")
        node = config
        for key in parents:
            node = node.setdefault(key, {})
        node[last] = value
    return mutate


BAD = [
    (_set("process/ioPriority", {"class": "IOPRIO_CLASS_NONE", "priority": 0}),
     "/process/ioPriority/class: \"IOPRIO_CLASS_NONE\" is not one of 'IOPRIO_CLASS_RT', "
     "'IOPRIO_CLASS_BE', 'IOPRIO_CLASS_IDLE'"),
    (_set("process/ioPriority", {"class": "IOPRIO_CLASS_BE", "priority": 8}),
     "/process/ioPriority/priority: 8 is out of range (maximum 7)"),
    (_set("process/scheduler", {"policy": "SCHED_FIFO"}),
     "/process/scheduler/priority: SCHED_FIFO needs a priority from 1 to 99"),
    (_set("process/scheduler", {"policy": "SCHED_OTHER", "nice": 20}),
     "/process/scheduler/nice: 20 is outside -20..19"),
    (_set("process/scheduler", {"policy": "SCHED_BATCH", "priority": 3}),
     "/process/scheduler/priority: SCHED_BATCH takes no priority (only SCHED_FIFO and "
     "SCHED_RR do)"),
    (_set("process/execCPUAffinity", {"final": "3-1"}),
     "/process/execCPUAffinity/final: '3-1' is not a CPU list like 0-3,7"),
    (_set("process/execCPUAffinity", {"initial": "0-9999"}),
     "/process/execCPUAffinity/initial: '0-9999' is not a CPU list like 0-3,7"),
    (_set("linux/personality", {"domain": "LINUX", "flags": ["ADDR_NO_RANDOMIZE"]}),
     "/linux/personality/flags: personality flags are not supported"),
    (_set("linux/timeOffsets", {"monotonic": {"secs": 10}}),
     "/linux/timeOffsets: needs a new time namespace in /linux/namespaces"),
]


@pytest.mark.parametrize("mutate, message", BAD, ids=[m.split(":")[0] + "-" + str(i)
                                                       for i, (_, m) in enumerate(BAD)])
def test_bad_values_are_refused(runtime, bundle, inventory, mutate, message):
    mutate(bundle.config)
    bundle.args("/ocitest", "sleep", "1000")
    args = ["run", "-d", "-b", bundle.write(), bundle.id]
    if not IS_PYRUNC:
        # RUNC_IGNORES: whatever the value, the container runs.
        proc = runtime(*args, check=False)
        assert proc.returncode == 0, proc
        assert runtime.state(bundle.id)["status"] == "running"
        return
    assert_one_line_failure(runtime, inventory, args, "pyrunc: config.json: " + message)


@pytest.mark.parametrize("fields, message", [
    ({"execCPUAffinity": {"final": "3-1"}}, "/execCPUAffinity/final: '3-1' is not a CPU list "
                                            "like 0-3,7"),
    ({"scheduler": {"policy": "SCHED_RR", "priority": 0}},
     "/scheduler/priority: SCHED_RR needs a priority from 1 to 99"),
    ({"ioPriority": {"class": "IOPRIO_CLASS_BE", "priority": -1}},
     "/ioPriority/priority: -1 is out of range (minimum 0)"),
])
def test_bad_values_in_a_process_file_are_refused(runtime, bundle, inventory, tmp_path, fields,
                                                  message):
    start(runtime, bundle)
    path = process_file(tmp_path, bundle, **fields)
    path_args = ["exec", "-d", "--process", path, bundle.id]
    if not IS_PYRUNC:  # RUNC_IGNORES: the process runs
        assert runtime(*path_args, check=False).returncode == 0
        return
    assert_one_line_failure(runtime, inventory, path_args, f"pyrunc: {path}: {message}")


# -- linux.memoryPolicy --

@pytest.mark.skipif(not IS_PYRUNC, reason="runc 1.1.5 predates linux.memoryPolicy (spec 1.3)")
def test_memory_policy_for_the_container_and_exec(runtime, bundle, tmp_path):
    """set_mempolicy(2) for the init, inherited by its children, and given to
    exec'd processes (which start from pyrunc, not from the init)."""
    bundle.config["linux"]["memoryPolicy"] = {"mode": "MPOL_BIND", "nodes": "0",
                                              "flags": ["MPOL_F_STATIC_NODES"]}
    want = {"mode": 2, "flags": 1 << 15, "nodes": [0]}
    assert json.loads(sh(runtime, bundle, "/ocitest mempolicy")) == want  # a child of the init
    start(runtime, bundle)
    assert json.loads(runtime("exec", bundle.id, "/ocitest", "mempolicy").stdout) == want


@pytest.mark.skipif(not IS_PYRUNC, reason="runc 1.1.5 ignores linux.memoryPolicy")
def test_memory_policy_the_kernel_refuses(runtime, bundle, inventory):
    bundle.config["linux"]["memoryPolicy"] = {"mode": "MPOL_BIND", "nodes": "1000"}
    assert_one_line_failure(runtime, inventory, ["run", "-d", "-b", bundle.write(), bundle.id],
                            "set the memory policy (set_mempolicy mode 0x2)", exact=False)
