"""events: --stats of a live container against its cgroup files, the stream
(stats every interval, OOM events, the end when the container exits), errors.

On a cgroup-v2-only host (the VM lane) the expected values are read back from
the unified files; v1-only fields are checked only where the host has v1."""
import json
import os
import pathlib
import queue
import subprocess
import threading

import pytest

from conftest import IS_PYRUNC, cgroup_procs, needs_root, wait_for

pytestmark = [needs_root(), pytest.mark.cgroup_v2]

V1 = os.path.isdir("/sys/fs/cgroup/memory")
U64_MAX = 2**64 - 1
STATS_KEYS = ["cpu", "cpuset", "memory", "pids", "blkio", "hugetlb", "intel_rdt", "network_interfaces"]
# The container waits for the test to create these files in its rootfs.
WAIT_FOR = "while [ ! -e /tmp/{0} ]; do sleep 0.05; done"


def cg_path(bundle, controller: str, name: str) -> str:
    cg = bundle.config["linux"]["cgroupsPath"]
    return f"/sys/fs/cgroup/{controller}{cg}/{name}" if V1 else f"/sys/fs/cgroup{cg}/{name}"


def cg_read(bundle, controller: str, name: str) -> str | None:
    try:
        with open(cg_path(bundle, controller, name)) as f:
            return f.read().strip()
    except FileNotFoundError:
        return None


def cg_uint(bundle, controller: str, name: str) -> int:
    """As runc reports a cgroup number: "max" is 2^64-1, a missing file 0."""
    text = cg_read(bundle, controller, name)
    return 0 if text is None else U64_MAX if text == "max" else int(text)


def stats_of(runtime, cid: str) -> dict:
    out = runtime("events", "--stats", cid).stdout
    assert out.endswith("\n") and out.count("\n") == 1, out  # one event, one line
    event = json.loads(out)
    assert list(event) == ["type", "id", "data"] and event["type"] == "stats" and event["id"] == cid
    return event["data"]


def writable(bundle, *args):
    """A private, writable rootfs: the test drops marker files into its /tmp."""
    bundle.private_rootfs()
    bundle.config["root"]["readonly"] = False
    bundle.args(*args)


def mark(bundle, name: str) -> None:
    (bundle.rootfs / "tmp" / name).touch()


class EventStream:
    """`events` running in the background, its stdout read line by line."""

    def __init__(self, runtime, *args):
        self.proc = subprocess.Popen([runtime.binary, "--root", runtime.root, "events", *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def next(self, timeout: float = 60) -> dict | None:
        """The next event, or None at the end of the stream."""
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no event within {timeout} s") from None
        return None if line is None else json.loads(line)

    def until(self, predicate, timeout: float = 60) -> list[dict]:
        """Events up to and including the first one predicate accepts."""
        seen = []
        while True:
            event = self.next(timeout)
            assert event is not None, f"the stream ended first: {seen}, stderr: {self.stderr()}"
            seen.append(event)
            if predicate(event):
                return seen

    def rest(self, timeout: float = 60) -> list[dict]:
        """Every event until the stream ends (it must end by itself)."""
        seen = []
        while (event := self.next(timeout)) is not None:
            seen.append(event)
        return seen

    def stderr(self) -> str:
        self.proc.kill() if self.proc.poll() is None else None
        return self.proc.stderr.read()

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


@pytest.fixture
def stream():
    started = []

    def start(runtime, *args):
        started.append(EventStream(runtime, *args))
        return started[-1]

    yield start
    for s in started:
        s.close()


def test_stats_of_a_running_container(runtime, bundle):
    bundle.config["linux"]["resources"] = {
        "memory": {"limit": 64 << 20, "swap": 128 << 20},
        "pids": {"limit": 42},
        "cpu": {"quota": 50000, "period": 100000},
    }
    busy = "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done"
    bundle.args("/bin/sh", "-c", f"{busy}; exec /ocitest sleep 1000")
    runtime("run", "-d", "-b", bundle.write(), bundle.id)
    procs = cgroup_procs(bundle.config["linux"]["cgroupsPath"])
    wait_for(lambda: comms(procs) == ["ocitest"], "the busy loop to end", timeout=60)
    if V1:  # the CFS period timer counts the busy periods a moment later
        wait_for(lambda: cpu_stat(bundle)["nr_periods"] > 0, "a CFS period")
    data = stats_of(runtime, bundle.id)

    assert list(data) == STATS_KEYS
    assert data["intel_rdt"] == {} and data["network_interfaces"] is None
    assert data["cpu"]["usage"]["total"] > 0
    assert data["pids"]["current"] == 1
    assert data["pids"].get("limit", 0) == cg_uint(bundle, "pids", "pids.max") % U64_MAX
    mem = data["memory"]
    if V1:
        assert data["pids"]["limit"] == 42
        assert mem["usage"]["limit"] == 64 << 20
        assert mem["swap"]["limit"] == 128 << 20
        assert 0 < mem["usage"]["usage"] <= mem["usage"]["max"]
        assert mem["raw"]["hierarchical_memory_limit"] == 64 << 20
        assert 0 < data["cpu"]["throttling"]["periods"] <= cpu_stat(bundle)["nr_periods"]
        cpus = cg_read(bundle, "cpuset", "cpuset.cpus")
        assert data["cpuset"]["cpus"] == expand(cpus)
        assert sum(data["cpu"]["usage"]["percpu"]) <= data["cpu"]["usage"]["total"] + 10**6
    else:
        # cgroup v2: what the files say, whether or not limits are applied yet
        assert mem["usage"]["limit"] == cg_uint(bundle, "memory", "memory.max")
        if cg_read(bundle, "memory", "memory.current") is not None:
            assert mem["usage"]["usage"] > 0 and "anon" in mem["raw"]
        if cg_read(bundle, "memory", "memory.swap.max") is not None:  # reported as memory+swap
            swap = cg_uint(bundle, "memory", "memory.swap.max")
            limit = mem["usage"]["limit"]
            assert mem["swap"]["limit"] == (swap if swap == U64_MAX else (swap + limit) & U64_MAX)
        assert data["cpu"]["usage"]["total"] <= cpu_stat(bundle)["usage_usec"] * 1000
        assert data["cpu"]["usage"]["user"] + data["cpu"]["usage"]["kernel"] > 0


def comms(procs) -> list[str]:
    names = []
    for pid in procs.read_text().split():
        try:
            names.append(pathlib.Path(f"/proc/{pid}/comm").read_text().strip())
        except FileNotFoundError:
            pass
    return names


def cpu_stat(bundle) -> dict[str, int]:
    return {k: int(v) for k, v in (line.split() for line in cg_read(bundle, "cpu", "cpu.stat").splitlines())}


def expand(cpus: str) -> list[int]:
    out = []
    for part in cpus.split(","):
        lo, _, hi = part.partition("-")
        out += range(int(lo), int(hi or lo) + 1)
    return out


def test_stats_of_created_and_paused_containers(runtime, bundle):
    """runc reports on any container that is not stopped."""
    bundle.args("/ocitest", "sleep", "1000")
    runtime("create", "-b", bundle.write(), bundle.id)
    assert stats_of(runtime, bundle.id)["pids"]["current"] >= 1  # tasks: runc's init has threads
    runtime("start", bundle.id)
    runtime("pause", bundle.id)
    assert stats_of(runtime, bundle.id)["pids"]["current"] == 1


@pytest.mark.skipif(not os.path.isdir("/sys/kernel/mm/hugepages/hugepages-2048kB"),
                    reason="the kernel has no 2 MB huge pages")
def test_hugetlb_stats(runtime, bundle, hybrid_unified_restored):
    """A hybrid host has hugetlb on cgroup2 only: it is read from there."""
    if not IS_PYRUNC and V1 and not os.path.isdir("/sys/fs/cgroup/hugetlb"):
        pytest.skip("runc 1.1 cannot set hugetlb limits without a v1 hugetlb controller")
    bundle.config["linux"]["resources"] = {"hugepageLimits": [{"pageSize": "2MB", "limit": 4 << 20}]}
    bundle.args("/ocitest", "sleep", "1000")
    runtime("run", "-d", "-b", bundle.write(), bundle.id)
    hugetlb = stats_of(runtime, bundle.id)["hugetlb"]
    assert hugetlb["2MB"] == {"failcnt": 0}  # nothing used (usage and max are omitempty)
    assert list(hugetlb) == sorted(hugetlb)


def test_stream_ends_when_the_container_exits(runtime, bundle, stream):
    writable(bundle, "/bin/sh", "-c", WAIT_FOR.format("stop"))
    runtime("run", "-d", "-b", bundle.write(), bundle.id)
    events = stream(runtime, "--interval", "200ms", bundle.id)
    first = events.until(lambda e: True) + events.until(lambda e: True)
    assert [e["type"] for e in first] == ["stats", "stats"]
    assert all(e["id"] == bundle.id and list(e["data"]) == STATS_KEYS for e in first)
    mark(bundle, "stop")
    runtime.wait_status(bundle.id, "stopped", timeout=30)
    if not IS_PYRUNC and V1:
        runtime("delete", bundle.id)  # runc 1.1 on v1 streams on until the cgroup is gone
    rest = events.rest(timeout=30)
    assert all(e["type"] == "stats" for e in rest)
    assert events.proc.wait(timeout=30) == 0


def test_oom_event(runtime, bundle, stream):
    bundle.config["linux"]["resources"] = {"memory": {"limit": 32 << 20, "swap": 32 << 20}}
    writable(bundle, "/bin/sh", "-c", f"{WAIT_FOR.format('go')}; dd if=/dev/zero of=/dev/null bs=64M"
             f" count=1 2>/dev/null; echo $? > /tmp/dd; {WAIT_FOR.format('stop')}")
    runtime("run", "-d", "-b", bundle.write(), bundle.id)
    if not V1 and cg_uint(bundle, "memory", "memory.max") != 32 << 20:
        pytest.skip("cgroup v2: the memory limit is not applied to the container (v2 resources "
                    "are under way), so nothing can be OOM-killed")
    events = stream(runtime, "--interval", "500ms", bundle.id)
    events.until(lambda e: e["type"] == "stats")  # it watches now
    mark(bundle, "go")
    seen = events.until(lambda e: e["type"] == "oom")
    assert seen[-1] == {"type": "oom", "id": bundle.id}  # no data, as runc
    wait_for(lambda: (bundle.rootfs / "tmp" / "dd").exists(), "dd's status")
    assert (bundle.rootfs / "tmp" / "dd").read_text().strip() == "137"  # SIGKILLed by the OOM killer
    # The container lives on: stats keep coming.
    assert events.until(lambda e: e["type"] == "stats")[-1]["data"]["memory"]["usage"]["limit"] == 32 << 20
    mark(bundle, "stop")
    runtime.wait_status(bundle.id, "stopped", timeout=30)
    if not IS_PYRUNC and V1:
        runtime("delete", bundle.id)
    events.rest(timeout=30)
    assert events.proc.wait(timeout=30) == 0


def test_errors(runtime, bundle):
    proc = runtime("events", "--stats", "nosuchcontainer", check=False)
    assert proc.returncode == 1 and "container does not exist" in proc.stderr
    proc = runtime("events", "nosuchcontainer", check=False)
    assert proc.returncode == 1 and "container does not exist" in proc.stderr

    bundle.args("/ocitest", "exit", "0")
    runtime("run", "-d", "-b", bundle.write(), bundle.id)
    runtime.wait_status(bundle.id, "stopped")
    for args in (["--stats"], [], ["--interval", "100ms"]):
        proc = runtime("events", *args, bundle.id, check=False)
        assert proc.returncode == 1, proc
        assert f"container with id {bundle.id} is not running" in proc.stderr

    for bad in ("5x", "1", "fast"):
        proc = runtime("events", "--interval", bad, bundle.id, check=False)
        assert proc.returncode == 1 and "invalid value" in proc.stderr and bad in proc.stderr
        if IS_PYRUNC:
            assert proc.stderr.count("\n") == 1, proc.stderr
    for zero in ("0", "0s", "--interval=-1s"):
        args = [zero] if zero.startswith("--") else ["--interval", zero]
        proc = runtime("events", *args, bundle.id, check=False)
        assert proc.returncode == 1 and "duration interval must be greater than 0" in proc.stderr
