"""Kubernetes lane: containerd's CRI plugin running pods through two runtime
handlers, ``runc`` and ``pyrunc`` (issue #18).

One private containerd for this module (cri_env.CriEnv: own root, state,
sockets and log under a temp dir, the CRI plugin enabled, a pause image built
from cri/pause.c, the busybox image of containerd_env, a CNI plugin that only
brings up the pod's lo, the streaming server on 127.0.0.1), driven by a CRI
client compiled from cri/cri_api.proto.  Every scenario runs with both
handlers; each records what it observed, and test_handlers_agree (last)
compares runc's results with pyrunc's.  The duration of each CRI call is
collected per handler and shown in the terminal summary, with the
StopContainer times of containers that leave a child behind (reported, not
asserted).

The pyrunc handler's binary is $PYRUNC_TEST_RUNTIME (default
/usr/local/bin/pyrunc); if it is missing the tests fail.  They skip (loudly)
when not root or when containerd, runc, gcc, busybox-static or the Python gRPC
packages are missing (scripts/setup.sh installs them).  Everything created is
removed afterwards (containerd_env.ContainerdEnv.teardown, plus the pods
through CRI and the pods' cgroup parent); PYRUNC_TEST_KEEP_TMP=1 keeps the
temp dir (containerd log, config, pod logs).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import socket
import statistics
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import containerd_env as ce  # noqa: E402
import cri_env  # noqa: E402

HANDLERS = cri_env.HANDLERS
CriCallFailed = cri_env.CriCallFailed

_missing = cri_env.missing_tools()
pytestmark = [
    pytest.mark.skipif(
        os.geteuid() != 0,
        reason="!!! CRI (Kubernetes) integration test NOT RUN: it needs root !!!"),
    pytest.mark.skipif(
        bool(_missing),
        reason="!!! CRI (Kubernetes) integration test NOT RUN: missing "
               + ", ".join(_missing)
               + " (scripts/setup.sh installs them) !!!"),
]

# scenario -> handler -> what the scenario observed (compared at the end)
RESULTS: dict[str, dict[str, object]] = {}
# scenario -> handler -> StopContainer seconds of a container that leaves a child
STOP_TIMES: dict[str, dict[str, float]] = {}
# handler -> CRI method -> durations (copied from the client at module teardown)
TIMINGS: dict[str, dict[str, list[float]]] = {}
REPORTED_CALLS = ("RunPodSandbox", "CreateContainer", "StartContainer", "ExecSync",
                  "Exec", "StopContainer", "RemoveContainer", "StopPodSandbox",
                  "RemovePodSandbox", "ContainerStats", "UpdateContainerResources")

CRI_LOG_LINE = re.compile(
    r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)) (stdout|stderr) ([FP]) (.*)$")
TYPED = "tty; echo marker-$((6*7)); exit 5\n"
MARKER = "marker-42"


def record(scenario: str, handler: str, observed) -> None:
    RESULTS.setdefault(scenario, {})[handler] = observed


# --------------------------------------------------------------------------
# the summary at the end of the run

class _Summary:
    """A plugin registered by the module fixture: its terminal summary shows
    the per-call CRI timings of both handlers."""

    def pytest_terminal_summary(self, terminalreporter):
        if not TIMINGS and not STOP_TIMES:
            return
        tr = terminalreporter
        tr.section("CRI call durations per runtime handler (test_cri.py)")
        methods = [m for m in REPORTED_CALLS if any(m in TIMINGS.get(h, {}) for h in HANDLERS)]
        methods += sorted({m for h in HANDLERS for m in TIMINGS.get(h, {})} - set(methods)
                          - {"ContainerStatus", "PodSandboxStatus", "ListPodSandbox",
                             "ListContainers", "Status", "ImageStatus"})
        head = f"{'call':<26}" + "".join(f"{h + ': n  median    max':>26}" for h in HANDLERS)
        tr.write_line(head)
        for m in methods:
            row = f"{m:<26}"
            for h in HANDLERS:
                ds = TIMINGS.get(h, {}).get(m, [])
                row += (f"{len(ds):>13} {statistics.median(ds):6.3f}s {max(ds):5.2f}s" if ds
                        else f"{'-':>26}")
            tr.write_line(row)
        for scenario, by_handler in STOP_TIMES.items():
            tr.write_line(f"StopContainer, {scenario}: " + ", ".join(
                f"{h} {by_handler[h]:.3f}s" for h in HANDLERS if h in by_handler))


# --------------------------------------------------------------------------
# fixtures

@pytest.fixture(scope="module")
def env(request):
    path, problem = ce.runtime_path()
    if problem:
        pytest.fail(problem, pytrace=False)
    pm = request.config.pluginmanager
    if not pm.has_plugin("pyrunc-cri-summary"):
        pm.register(_Summary(), "pyrunc-cri-summary")
    e = cri_env.CriEnv(runtime=path)
    try:
        try:
            e.start()
            e.import_images()
        except (RuntimeError, CriCallFailed) as err:
            pytest.fail(f"cannot set up containerd with its CRI plugin: {err}", pytrace=False)
        yield e
    finally:
        if e.cri is not None:
            for h, methods in e.cri.timings.items():
                TIMINGS[h] = {m: list(ds) for m, ds in methods.items()}
        e.teardown()


class Handler:
    """The CRI calls of one test, all through one runtime handler (timed
    under its name)."""

    def __init__(self, env: cri_env.CriEnv, name: str):
        self.env = env
        self.name = name

    def call(self, method: str, fields: dict | None = None, *, timeout: float = 60.0,
             expect_error: bool = False):
        try:
            return self.env.cri.call(method, fields, tag=self.name, timeout=timeout)
        except CriCallFailed as e:
            if not expect_error:
                e.args = (f"[{self.name}] {e}\n" + self.env.containerd_log_tail(6000),)
            raise

    def run_pod(self, name: str, **opts) -> cri_env.Pod:
        return self.env.run_pod(self.name, name, **opts)

    def container(self, pod: cri_env.Pod, name: str, command: list[str], *,
                  start: bool = True, **opts) -> str:
        cid = self.env.create_container(pod, name, command, **opts)
        if start:
            self.call("StartContainer", {"container_id": cid})
        return cid

    def status(self, cid: str):
        """(ContainerStatus, its verbose info) of a container."""
        r = self.call("ContainerStatus", {"container_id": cid, "verbose": True})
        return r.status, json.loads(r.info.get("info") or "{}")

    def state(self, cid: str) -> str:
        return self.env.cri.pb.ContainerState.Name(self.status(cid)[0].state)

    def pid(self, cid: str) -> int:
        return int(self.status(cid)[1]["pid"])

    def pod_state(self, pod_id: str) -> str:
        st = self.call("PodSandboxStatus", {"pod_sandbox_id": pod_id}).status
        return self.env.cri.pb.PodSandboxState.Name(st.state)

    def pause_pid(self, pod_id: str) -> int:
        r = self.call("PodSandboxStatus", {"pod_sandbox_id": pod_id, "verbose": True})
        return int(json.loads(r.info["info"])["pid"])

    def exec_sync(self, cid: str, *cmd: str, timeout: int = 30) -> tuple[str, str, int]:
        r = self.call("ExecSync", {"container_id": cid, "cmd": list(cmd), "timeout": timeout},
                      timeout=timeout + 30)
        return r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace"), r.exit_code

    def sh(self, cid: str, script: str) -> tuple[str, str, int]:
        return self.exec_sync(cid, "sh", "-c", script)

    def stop(self, cid: str, timeout: int) -> float:
        start = time.monotonic()
        self.call("StopContainer", {"container_id": cid, "timeout": timeout},
                  timeout=timeout + 60)
        return time.monotonic() - start

    def wait_state(self, cid: str, state: str, timeout: float = 30.0) -> bool:
        return bool(ce.poll(lambda: self.state(cid) == state, timeout=timeout))

    def why(self, *ids: str) -> str:
        return f"\n[handler {self.name}]\n" + self.env.diagnostics(*ids)


@pytest.fixture(params=HANDLERS)
def h(request, env):
    handler = Handler(env, request.param)
    before = set(env.pods)
    yield handler
    problems = env.remove_pods([p for p in list(env.pods) if p not in before],
                               tag=request.param)
    if problems:
        pytest.fail(f"[{request.param}] removing the test's pods failed: {problems}\n"
                    + env.containerd_log_tail(), pytrace=False)


# --------------------------------------------------------------------------
# helpers

def read_cri_log(path: str) -> list[tuple[str, str, str]]:
    """(stream, tag, text) of each line of a CRI log file; a line not in the
    CRI format is returned as ("?", "?", line)."""
    out = []
    try:
        with open(path) as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        return out
    for line in lines:
        m = CRI_LOG_LINE.match(line)
        out.append((m.group(2), m.group(3), m.group(4)) if m else ("?", "?", line))
    return out


def by_stream(entries) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for stream, tag, text in entries:
        out.setdefault(stream, []).append(text if tag == "F" else f"{text} [{tag}]")
    return out


def wait_log(path: str, *texts: str, timeout: float = 20.0) -> list:
    """The log's entries once every text is in it (or whatever is there at the timeout)."""
    ce.poll(lambda: all(any(t == e[2] for e in read_cri_log(path)) for t in texts),
            timeout=timeout)
    return read_cri_log(path)


def cgroup_procs(pid: int) -> list[int]:
    """Host pids in the cgroup of pid (a v1 hierarchy's or the v2 one's)."""
    for d in ce.cgroup_dirs_of(pid):
        try:
            with open(os.path.join(d, "cgroup.procs")) as f:
                pids = [int(x) for x in f.read().split()]
        except (OSError, ValueError):
            continue
        if pid in pids:
            return pids
    return []


def cgroup_file(pid: int, *names: str) -> str | None:
    for d in ce.cgroup_dirs_of(pid):
        for n in names:
            try:
                with open(os.path.join(d, n)) as f:
                    return f.read().strip()
            except OSError:
                continue
    return None


def alive(pid: int) -> bool:
    return ce._pid_alive(pid)


def host_interfaces() -> list[str]:
    with open("/proc/net/dev") as f:
        return parse_net_dev(f.read())


def parse_net_dev(text: str) -> list[str]:
    return sorted(line.split(":", 1)[0].strip() for line in text.splitlines()[2:] if ":" in line)


def runtime_state_entries(env: cri_env.CriEnv) -> list[str]:
    """What the runtimes keep under the handlers' Roots (<Root>/k8s.io/<id>)."""
    out = []
    for root in env.roots.values():
        d = os.path.join(root, env.namespace)
        if os.path.isdir(d):
            out += [os.path.join(d, e) for e in sorted(os.listdir(d))]
    return out


def ps_args(h: Handler, cid: str) -> list[str]:
    """The command lines `ps` shows inside a container."""
    out, _err, code = h.exec_sync(cid, "ps", "-o", "args")
    assert code == 0, f"ps failed in {cid}: {out!r} {_err!r}" + h.why(cid)
    return [ln.strip() for ln in out.splitlines()[1:]]


# --------------------------------------------------------------------------
# scenarios

def test_pod_and_container_lifecycle(h):
    env = h.env
    pod = h.run_pod("lifecycle")
    assert h.pod_state(pod.id) == "SANDBOX_READY", h.why(pod.id)
    pause_cmdline = ce.cmdline(h.pause_pid(pod.id))
    other = [x for x in HANDLERS if x != h.name][0]
    in_root = os.path.isdir(env.runtime_state(h.name, pod.id))
    in_other_root = os.path.isdir(env.runtime_state(other, pod.id))
    with open(os.path.join(env.bundle(pod.id), "options.json")) as f:
        binary = json.load(f).get("binary_name")

    script = 'trap "echo stopping; exit 0" TERM; echo started; sleep 1000 & wait'
    cid = h.container(pod, "main", ["sh", "-c", script], start=False)
    created = h.state(cid)
    h.call("StartContainer", {"container_id": cid})
    running = h.state(cid)
    init_cmdline = ce.cmdline(h.pid(cid))[:2]
    log = env.container_log(pod, "main")
    wait_log(log, "started")  # the trap is set
    stop_s = h.stop(cid, 10)
    st, _info = h.status(cid)
    entries = wait_log(log, "started", "stopping", timeout=5)
    h.call("RemoveContainer", {"container_id": cid})
    try:
        h.call("ContainerStatus", {"container_id": cid}, expect_error=True)
        removed = "still listed"
    except CriCallFailed as e:
        removed = e.code.name
    h.call("StopPodSandbox", {"pod_sandbox_id": pod.id})
    stopped_pod = h.pod_state(pod.id)
    h.call("RemovePodSandbox", {"pod_sandbox_id": pod.id})
    env.pods.pop(pod.id, None)
    try:
        h.call("PodSandboxStatus", {"pod_sandbox_id": pod.id}, expect_error=True)
        pod_removed = "still listed"
    except CriCallFailed as e:
        pod_removed = e.code.name

    observed = {
        "the shim runs the handler's binary": binary == env.binaries[h.name],
        "sandbox state dir under the handler's Root": in_root,
        "sandbox state dir under the other Root": in_other_root,
        "pause cmdline": pause_cmdline,
        "container init": init_cmdline,
        "states": [created, running, env.cri.pb.ContainerState.Name(st.state)],
        "exit code": st.exit_code, "reason": st.reason,
        "stopped within the grace period": stop_s < 10,
        "log": by_stream(entries),
        "after RemoveContainer": removed,
        "pod after StopPodSandbox": stopped_pod,
        "after RemovePodSandbox": pod_removed,
    }
    record("lifecycle", h.name, observed)
    print(f"[{h.name}] lifecycle: StopContainer (SIGTERM, trapped) {stop_s:.3f}s")
    assert observed == {
        "the shim runs the handler's binary": True,
        "sandbox state dir under the handler's Root": True,
        "sandbox state dir under the other Root": False,
        "pause cmdline": ["/pause"],
        "container init": ["sh", "-c"],
        "states": ["CONTAINER_CREATED", "CONTAINER_RUNNING", "CONTAINER_EXITED"],
        "exit code": 0, "reason": "Completed",
        "stopped within the grace period": True,
        "log": {"stdout": ["started", "stopping"]},
        "after RemoveContainer": "NOT_FOUND",
        "pod after StopPodSandbox": "SANDBOX_NOTREADY",
        "after RemovePodSandbox": "NOT_FOUND",
    }, h.why(pod.id, cid)


def test_host_network_pod(h):
    pod = h.run_pod("hostnet", network="NODE")
    cid = h.container(pod, "main", ["sleep", "1000"])
    netns, _, c1 = h.exec_sync(cid, "readlink", "/proc/self/ns/net")
    devs, _, c2 = h.exec_sync(cid, "cat", "/proc/net/dev")
    name, _, c3 = h.exec_sync(cid, "hostname")
    observed = {
        "exit codes": [c1, c2, c3],
        "host's netns": netns.strip() == os.readlink("/proc/self/ns/net"),
        "host's interfaces": parse_net_dev(devs) == host_interfaces(),
        "host's hostname": name.strip() == socket.gethostname(),
    }
    record("host-network pod", h.name, observed)
    assert observed == {"exit codes": [0, 0, 0], "host's netns": True,
                        "host's interfaces": True, "host's hostname": True}, (
        f"{observed}\nnetns {netns!r}, hostname {name!r}, /proc/net/dev:\n{devs}"
        + h.why(pod.id, cid))


def test_pod_network_pod(h):
    host_before = host_interfaces()
    pod = h.run_pod("podnet")
    cid = h.container(pod, "main", ["sleep", "1000"])
    netns, _, c1 = h.exec_sync(cid, "readlink", "/proc/self/ns/net")
    links, _, c2 = h.exec_sync(cid, "ip", "-o", "link", "show")
    addrs, _, c3 = h.exec_sync(cid, "ip", "-o", "-4", "addr", "show")
    name, _, c4 = h.exec_sync(cid, "hostname")
    ip = h.call("PodSandboxStatus", {"pod_sandbox_id": pod.id}).status.network.ip
    link_names = sorted(ln.split(":")[1].strip().split("@")[0] for ln in links.splitlines()
                        if ln.strip())
    lo_up = any(ln.split(":")[1].strip() == "lo" and ",UP" in ln for ln in links.splitlines()
                if ln.strip())
    inet = sorted(re.findall(r"inet (\S+)", addrs))
    observed = {
        "exit codes": [c1, c2, c3, c4],
        "own netns": netns.strip() != os.readlink("/proc/self/ns/net"),
        "interfaces": link_names, "lo up": lo_up, "addresses": inet,
        "pod IP": ip, "hostname": name.strip(),
        "host interfaces unchanged": host_interfaces() == host_before,
    }
    record("pod-network pod", h.name, observed)
    assert observed == {"exit codes": [0, 0, 0, 0], "own netns": True,
                        "interfaces": ["lo"], "lo up": True, "addresses": ["127.0.0.1/8"],
                        "pod IP": "127.0.0.1", "hostname": "podnet",
                        "host interfaces unchanged": True}, (
        f"{observed}\nip link:\n{links}\nip addr:\n{addrs}" + h.why(pod.id, cid))


def test_exec_sync(h):
    pod = h.run_pod("execsync")
    cid = h.container(pod, "main", ["sleep", "1000"])
    observed = {
        "out/err/exit 7": h.sh(cid, "echo out; echo err >&2; exit 7"),
        "true": h.exec_sync(cid, "true"),
        "id": h.exec_sync(cid, "id", "-u"),
        "cwd and env": h.sh(cid, 'pwd; echo "$PATH"'),
    }
    try:
        missing = h.exec_sync(cid, "/no/such/binary")
        observed["missing binary"] = ("exit code", missing[2])
    except CriCallFailed as e:
        observed["missing binary"] = ("error", e.code.name)
    record("ExecSync", h.name, observed)
    assert observed["out/err/exit 7"] == ("out\n", "err\n", 7), h.why(pod.id, cid)
    assert observed["true"] == ("", "", 0), h.why(pod.id, cid)
    assert observed["id"] == ("0\n", "", 0), h.why(pod.id, cid)
    assert observed["cwd and env"][0].startswith("/\n/usr/local/sbin:"), h.why(pod.id, cid)


@pytest.mark.parametrize("tty", [False, True], ids=["no-tty", "tty"])
def test_streaming_exec(h, tty):
    if importlib.util.find_spec("websocket") is None:
        pytest.skip("streaming Exec needs the Python package websocket-client "
                    "(scripts/setup.sh installs it)")
    pod = h.run_pod("stream")
    cid = h.container(pod, "main", ["sleep", "1000"])
    if tty:
        url = h.call("Exec", {"container_id": cid, "cmd": ["sh"], "tty": True, "stdin": True,
                              "stdout": True, "stderr": False}).url
        res = cri_env.stream_exec(url, stdin=TYPED.encode(), send_after=ce.SH_PROMPT,
                                  resize=(80, 24))
        out = res["stdout"].decode(errors="replace")
        observed = {"terminal": bool(re.search(r"/dev/pts/\d+", out)),
                    "marker": MARKER in out, "stderr": res["stderr"],
                    "exit code": res["exit_code"], "timed out": res["timed_out"]}
        expected = {"terminal": True, "marker": True, "stderr": b"", "exit code": 5,
                    "timed out": False}
    else:
        url = h.call("Exec", {"container_id": cid,
                              "cmd": ["sh", "-c", 'read line; echo "got $line"; echo err >&2; '
                                                  'exit 3'],
                              "stdin": True, "stdout": True, "stderr": True}).url
        res = cri_env.stream_exec(url, stdin=b"hello\n")
        observed = {"stdout": res["stdout"], "stderr": res["stderr"],
                    "exit code": res["exit_code"], "timed out": res["timed_out"]}
        expected = {"stdout": b"got hello\n", "stderr": b"err\n", "exit code": 3,
                    "timed out": False}
    observed["URL on 127.0.0.1"] = url.startswith("http://127.0.0.1:")
    expected["URL on 127.0.0.1"] = True
    record(f"streaming Exec ({'tty' if tty else 'no tty'})", h.name, observed)
    assert observed == expected, f"{url}\n{res}" + h.why(pod.id, cid)


def test_container_logs(h):
    pod = h.run_pod("logs")
    cid = h.container(pod, "talker", ["sh", "-c",
                                      "echo line-1; echo err-1 >&2; echo line-2; sleep 1000"])
    path = h.env.container_log(pod, "talker")
    entries = wait_log(path, "line-1", "err-1", "line-2")
    st, _ = h.status(cid)
    observed = {"log_path": st.log_path == path, "entries": by_stream(entries),
                "all in CRI format": all(e[0] != "?" for e in entries)}
    record("logs", h.name, observed)
    assert observed == {"log_path": True, "all in CRI format": True,
                        "entries": {"stdout": ["line-1", "line-2"], "stderr": ["err-1"]}}, (
        f"{observed}\n{path}:\n{ce.tail(path)}" + h.why(pod.id, cid))


def test_container_that_exits_by_itself(h):
    pod = h.run_pod("oneshot")
    failing = h.container(pod, "failing", ["sh", "-c", "echo bye; echo oops >&2; exit 3"])
    done = h.container(pod, "done", ["echo", "done"])
    observed = {}
    for name, cid in (("failing", failing), ("done", done)):
        h.wait_state(cid, "CONTAINER_EXITED")
        st, _ = h.status(cid)
        observed[name] = {
            "state": h.env.cri.pb.ContainerState.Name(st.state), "exit code": st.exit_code,
            "reason": st.reason, "times": st.started_at > 0 and st.finished_at > 0,
            "log": by_stream(read_cri_log(h.env.container_log(pod, name))),
        }
    record("container that exits by itself", h.name, observed)
    assert observed == {
        "failing": {"state": "CONTAINER_EXITED", "exit code": 3, "reason": "Error",
                    "times": True, "log": {"stdout": ["bye"], "stderr": ["oops"]}},
        "done": {"state": "CONTAINER_EXITED", "exit code": 0, "reason": "Completed",
                 "times": True, "log": {"stdout": ["done"]}},
    }, h.why(pod.id, failing, done)


def test_container_stats(h):
    pod = h.run_pod("stats")
    cid = h.container(pod, "busy", ["sh", "-c", "i=0; while [ $i -lt 30000 ]; do "
                                                "i=$((i+1)); done; echo ready; sleep 1000"])
    wait_log(h.env.container_log(pod, "busy"), "ready")
    s = h.call("ContainerStats", {"container_id": cid}).stats
    observed = {
        "id": s.attributes.id == cid, "name": s.attributes.metadata.name,
        "cpu timestamp": s.cpu.timestamp > 0,
        "cpu used": s.cpu.usage_core_nano_seconds.value > 0,
        "memory timestamp": s.memory.timestamp > 0,
        "memory used": s.memory.usage_bytes.value > 0,
        "working set": s.memory.working_set_bytes.value > 0,
        "writable layer reported": s.HasField("writable_layer"),
    }
    record("ContainerStats", h.name, observed)
    assert observed == {"id": True, "name": "busy", "cpu timestamp": True, "cpu used": True,
                        "memory timestamp": True, "memory used": True, "working set": True,
                        "writable layer reported": True}, (
        f"{observed}\n{h.env.cri.to_dict(s)}" + h.why(pod.id, cid))


def test_update_container_resources(h):
    pod = h.run_pod("update")
    cid = h.container(pod, "limited", ["sleep", "1000"])
    pid = h.pid(cid)
    before = cgroup_file(pid, "memory.limit_in_bytes", "memory.max")
    limit = 64 * 1024 * 1024
    h.call("UpdateContainerResources", {"container_id": cid, "linux": {
        "memory_limit_in_bytes": limit, "cpu_period": 100000, "cpu_quota": 50000}})
    memory = cgroup_file(pid, "memory.limit_in_bytes", "memory.max")
    cpu_max = cgroup_file(pid, "cpu.max")
    if cpu_max is None:
        cpu_max = f"{cgroup_file(pid, 'cpu.cfs_quota_us')} {cgroup_file(pid, 'cpu.cfs_period_us')}"
    observed = {"memory before": before != str(limit), "memory": memory, "cpu": cpu_max,
                "state": h.state(cid)}
    record("UpdateContainerResources", h.name, observed)
    assert observed == {"memory before": True, "memory": str(limit), "cpu": "50000 100000",
                        "state": "CONTAINER_RUNNING"}, (
        f"{observed}\ncgroups of {pid}: {ce.cgroup_dirs_of(pid)}" + h.why(pod.id, cid))


def _leaver_stops(h: Handler, scenario: str, cid: str, watcher: str | None) -> dict:
    """Stop a container whose init (sh) leaves a sleep behind; time it and
    check that nothing of it stays."""
    init = h.pid(cid)
    pids = ce.poll(lambda: (p := cgroup_procs(init)) and len(p) >= 3 and p, timeout=10) or []
    seconds = h.stop(cid, 10)
    STOP_TIMES.setdefault(scenario, {})[h.name] = seconds
    print(f"[{h.name}] {scenario}: StopContainer of a container that leaves a child: "
          f"{seconds:.3f}s")
    st, _ = h.status(cid)
    gone = ce.poll(lambda: not any(alive(p) for p in pids), timeout=5)
    # the shim's `<runtime> kill --all` after the init's exit failing, as
    # containerd logs it
    killall_failed = [ln for ln in ce.tail(h.env.log_path, 2_000_000).splitlines()
                      if "failed to kill init's children" in ln and cid in ln]
    out = {"processes before stop": len(pids),
           "state": h.env.cri.pb.ContainerState.Name(st.state), "exit code": st.exit_code,
           "left nothing running": bool(gone), "kill --all failed": killall_failed,
           "left": [ce.cmdline(p) for p in pids if alive(p)]}
    if watcher is not None:
        out["seen from the other container"] = [a for a in ps_args(h, watcher)
                                                if a.startswith("sleep 100")]
    return out


def test_shared_pid_pod(h):
    pod = h.run_pod("sharedpid", pid="POD")
    watcher = h.container(pod, "watcher", ["sleep", "1001"])
    leaver = h.container(pod, "leaver",
                         ["sh", "-c", "sleep 1002 & sleep 1003; echo unreachable"])
    ce.poll(lambda: {"sleep 1001", "sleep 1002", "sleep 1003"} <= set(ps_args(h, watcher)),
            timeout=10)
    pid1 = [h.exec_sync(c, "cat", "/proc/1/cmdline")[0] for c in (watcher, leaver)]
    seen_by_watcher = ps_args(h, watcher)
    seen_by_leaver = ps_args(h, leaver)
    observed = {
        "PID 1": pid1,
        "watcher sees the leaver": {"sleep 1002", "sleep 1003"} <= set(seen_by_watcher),
        "leaver sees the watcher": "sleep 1001" in seen_by_leaver,
        "stop": _leaver_stops(h, "shared-PID pod", leaver, watcher),
        "watcher still running": h.state(watcher),
    }
    record("shared-PID pod", h.name, observed)
    assert observed == {
        "PID 1": ["/pause\0", "/pause\0"],
        "watcher sees the leaver": True, "leaver sees the watcher": True,
        "stop": {"processes before stop": 3, "state": "CONTAINER_EXITED", "exit code": 143,
                 "left nothing running": True, "kill --all failed": [], "left": [],
                 "seen from the other container": ["sleep 1001"]},
        "watcher still running": "CONTAINER_RUNNING",
    }, f"{observed}\nwatcher's ps: {seen_by_watcher}" + h.why(pod.id, watcher, leaver)


def test_host_pid_pod(h):
    pod = h.run_pod("hostpid", pid="NODE")
    cid = h.container(pod, "leaver", ["sh", "-c", "sleep 1004 & sleep 1005; echo unreachable"])
    with open("/proc/1/cmdline") as f:
        host_init = f.read()
    pid1, _, _ = h.exec_sync(cid, "cat", "/proc/1/cmdline")
    _, _, sees_me = h.exec_sync(cid, "test", "-d", f"/proc/{os.getpid()}")
    pause = h.pause_pid(pod.id)
    observed = {
        "PID 1 is the host's init": pid1 == host_init,
        "sees this test's process": sees_me == 0,
        "pause is not PID 1": pause != 1 and ce.cmdline(pause) == ["/pause"],
        "stop": _leaver_stops(h, "hostPID pod", cid, None),
    }
    record("hostPID pod", h.name, observed)
    assert observed == {
        "PID 1 is the host's init": True, "sees this test's process": True,
        "pause is not PID 1": True,
        "stop": {"processes before stop": 3, "state": "CONTAINER_EXITED", "exit code": 143,
                 "left nothing running": True, "kill --all failed": [], "left": []},
    }, f"{observed}" + h.why(pod.id, cid)


def test_pod_removal_leaves_nothing(h):
    env = h.env
    pod = h.run_pod("cleanup")
    cid = h.container(pod, "main", ["sleep", "1000"])
    assert h.exec_sync(cid, "true")[2] == 0, h.why(pod.id, cid)
    ids = (pod.id, cid)
    pids = [h.pause_pid(pod.id), h.pid(cid)]
    shims = env.shims_of(pod.id)
    cgroups = sorted(d for d in set(ce.cgroup_dirs_of(pids[0]) + ce.cgroup_dirs_of(pids[1]))
                     if env.cgroup_parent in d)
    states = [env.runtime_state(x, i) for x in HANDLERS for i in ids]
    cri_dirs = [f"{base}/io.containerd.grpc.v1.cri/{kind}/{i}"
                for base in (env.root, env.state)
                for kind, i in (("sandboxes", pod.id), ("containers", cid))]
    bundles = [env.bundle(i) for i in ids]
    mounts = ce.mounts_under(env.tmpdir)
    before = {"shims": len(shims), "state dirs": sum(map(os.path.isdir, states)),
              "cgroup dirs": sum(map(os.path.isdir, cgroups)) > 0,
              "mounts": len(mounts) > 0, "bundles": sum(map(os.path.isdir, bundles)),
              "CNI results": len(env.cni_cache_entries([pod.id]))}

    env.remove_pod(pod.id, tag=h.name)  # StopPodSandbox + RemovePodSandbox only

    others = [p.id for p in h.call("ListPodSandbox").items]
    shims_gone = ce.poll(lambda: not any(alive(p) for p in shims), timeout=5)
    observed = {
        "before": before,
        "pod listed": pod.id in others,
        "containers listed": [c.id for c in h.call("ListContainers", {
            "filter": {"pod_sandbox_id": pod.id}}).containers],
        "runtime state left": [s for s in states if os.path.exists(s)],
        # with no other pod left, nothing at all under either handler's Root
        "under the Roots": [] if others else runtime_state_entries(env),
        "CRI dirs left": [d for d in cri_dirs if os.path.exists(d)],
        "bundles left": [b for b in bundles if os.path.exists(b)],
        "cgroup dirs left": [d for d in cgroups if os.path.isdir(d)],
        "mounts left": [m for m in ce.mounts_under(env.tmpdir)
                        if m in mounts or not others],
        "CNI results cached": env.cni_cache_entries([pod.id]),
        "shims left": [] if shims_gone else [p for p in shims if alive(p)],
        "processes left": [ce.cmdline(p) for p in pids if alive(p)],
    }
    record("StopPodSandbox + RemovePodSandbox", h.name, observed)
    assert observed == {
        "before": {"shims": 1, "state dirs": 2, "cgroup dirs": True, "mounts": True,
                   "bundles": 2, "CNI results": 2},
        "pod listed": False, "containers listed": [], "runtime state left": [],
        "under the Roots": [],
        "CRI dirs left": [], "bundles left": [], "cgroup dirs left": [], "mounts left": [],
        "CNI results cached": [], "shims left": [], "processes left": [],
    }, f"{observed}\nmounts before: {mounts}" + h.why(*ids)


def test_handlers_agree():
    """Every scenario observed the same with pyrunc as with runc."""
    if not RESULTS:
        pytest.skip("no scenario ran")
    diffs, incomplete = [], []
    for scenario, by_handler in RESULTS.items():
        if not all(x in by_handler for x in HANDLERS):
            incomplete.append(f"{scenario} (only {sorted(by_handler)})")
            continue
        ref = by_handler[HANDLERS[0]]
        for x in HANDLERS[1:]:
            if by_handler[x] != ref:
                diffs.append(f"{scenario}:\n  {HANDLERS[0]}: {ref}\n  {x}: {by_handler[x]}")
    if incomplete:
        print("scenarios without a result for every handler (their tests failed): "
              + ", ".join(incomplete))
    assert not diffs, "pyrunc and runc differ:\n" + "\n".join(diffs)
