"""pyrunc, runc and crun side by side, in one run, as containerd and Podman
call them: a config that differs on every call, and many small commands.

    scripts/bench.sh [--rounds N] [--list-containers N] [--only SCENARIO,...]
                     [--json FILE] [--pyrunc PATH] [--runc PATH] [--crun PATH]
                     [--pod-rounds N] [--pod-dir DIR] [--pod-trace]

Every scenario runs its rounds with the runtimes' order rotated each round,
so that the machine's noise hits all alike. Each runtime has its own --root;
all use the same busybox rootfs. crun runs through ns_runner.py (a private
mount namespace with a tmpfs over /sys/fs/cgroup/unified: crun 1.8.1 refuses
this host's hybrid cgroups), timed there by the same code. The floor is
`python3 -I -S -c pass` with pyrunc's interpreter, timed the same way.

The pods scenario drives containerd's CRI plugin instead (one private
containerd from tests/integration/cri_env.py, handlers runc and pyrunc; crun
has none): RunPodSandbox, CreateContainer, StartContainer, StopPodSandbox,
RemovePodSandbox, timed as one pod cycle and call by call. containerd's root
and state go on a tmpfs (--pod-dir): the runtimes' state is on one in
production too (/run), and the disk's fsyncs would make CreateContainer, in
which no runtime takes part, swing between 35 and 290 ms. --pod-trace also
points each handler's BinaryName at a wrapper that logs how long every
runtime command the shim sends takes.

Prints one table: each runtime's median and spread (25th-75th percentile),
the ratio of pyrunc's median to runc's and to crun's.
"""
import argparse
import json
import os
import pathlib
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import types
import uuid

import timed

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))
from make_bundle import build_rootfs  # noqa: E402

INTEGRATION = REPO / "tests" / "integration"  # cri_env.py: the pods scenario

CGROUP_PARENT = "pyrunc-bench"
SECCOMP = REPO / "tests" / "fixtures" / "seccomp" / "docker-default.json"
BUSY = ["/bin/sh", "-c", "sleep 1000 & sleep 1000 & wait"]


class Runtime:
    """One runtime: a binary and its own --root, called directly."""

    def __init__(self, name: str, binary: str, root: str):
        self.name, self.binary, self.root = name, binary, root

    def argv(self, *args: str) -> list[str]:
        return [self.binary, "--root", self.root, *args]

    def call(self, *args: str) -> float:
        rc, seconds, err = self._call(self.argv(*args))
        if rc != 0:
            raise SystemExit(f"{self.name} {' '.join(args[:1])} failed ({rc}): {err.strip()}")
        return seconds

    def output(self, *args: str) -> str:
        return timed.output(self.argv(*args))

    def _call(self, argv):
        return timed.call(argv)

    def another(self) -> "Runtime":
        """A second caller (throughput): a direct call needs nothing new."""
        return self

    def close(self):
        pass


class NamespacedRuntime(Runtime):
    """crun, through ns_runner.py in its private mount namespace."""

    def __init__(self, name, binary, root):
        super().__init__(name, binary, root)
        self.proc = subprocess.Popen(
            ["unshare", "-m", "--propagation", "slave", sys.executable,
             str(pathlib.Path(__file__).with_name("ns_runner.py"))],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        if not json.loads(self.proc.stdout.readline()).get("ready"):
            raise SystemExit("ns_runner did not start")
        self.lock = threading.Lock()
        self.twins: list[NamespacedRuntime] = []

    def _ask(self, request: dict) -> dict:
        with self.lock:
            self.proc.stdin.write(json.dumps(request) + "\n")
            self.proc.stdin.flush()
            return json.loads(self.proc.stdout.readline())

    def _call(self, argv):
        reply = self._ask({"argv": argv})
        return reply["rc"], reply["seconds"], reply["stderr"]

    def output(self, *args):
        reply = self._ask({"argv": self.argv(*args), "output": True})
        if "stdout" not in reply:
            raise SystemExit(f"{self.name} {args[0]}: {reply}")
        return reply["stdout"]

    def another(self) -> "NamespacedRuntime":
        """A runner of its own: one runner serializes its calls."""
        twin = NamespacedRuntime(self.name, self.binary, self.root)
        self.twins.append(twin)
        return twin

    def close(self):
        for twin in self.twins:
            twin.close()
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


class Bundles:
    """Bundles that share one rootfs; each call may get a config of its own."""

    def __init__(self, work: pathlib.Path):
        self.work = work
        self.rootfs = build_rootfs(str(work / "rootfs"))
        self.count = 0

    def make(self, runtime: str, args: list[str], differ: bool = True, seccomp: bool = False,
             limits: bool = False, new_profile: bool = False) -> str:
        """A bundle; with differ, its config is unique as containerd's are (an
        annotation, the cgroupsPath). new_profile: a seccomp profile no call
        has sent before (one more harmless rule), so no runtime can reuse a
        filter it compiled earlier."""
        self.count += 1
        path = self.work / "bundles" / f"{runtime}-{self.count}"
        path.mkdir(parents=True)
        config = base_config(self.rootfs, args)
        tag = uuid.uuid4().hex if differ else "same"
        config["annotations"] = {"io.kubernetes.cri.sandbox-id": tag,
                                 "org.opencontainers.image.ref.name": f"bench-{runtime}"}
        config["linux"]["cgroupsPath"] = f"/{CGROUP_PARENT}/{runtime}-{tag[:12]}"
        if seccomp:
            config["linux"]["seccomp"] = json.loads(SECCOMP.read_text())
        if new_profile:
            config["linux"]["seccomp"]["syscalls"].append(
                {"names": ["getpid"], "action": "SCMP_ACT_ALLOW",
                 "args": [{"index": 0, "value": self.count, "op": "SCMP_CMP_EQ"}]})
        if limits:
            config["linux"]["resources"] = {"memory": {"limit": 256 << 20},
                                            "pids": {"limit": 1024}}
        (path / "config.json").write_text(json.dumps(config))
        return str(path)


def base_config(rootfs: str, args: list[str]) -> dict:
    """`runc spec`'s defaults (pyrunc writes the same), no terminal, in the
    version every runtime here accepts."""
    from runtime.defaults import default_config  # the installed pyrunc

    config = default_config()
    config["ociVersion"] = "1.0.2"
    config["root"]["path"] = rootfs
    config["process"]["terminal"] = False
    config["process"]["args"] = args
    return config


# -- scenarios: each returns {runtime: [seconds, ...]} --

def rotated(runtimes: list[Runtime], rounds: int, one):
    times = {rt.name: [] for rt in runtimes}
    for i in range(rounds):
        k = i % len(runtimes)
        for rt in runtimes[k:] + runtimes[:k]:
            times[rt.name].append(one(rt, i))
    return times


def scenario_run(bundles, differ, seccomp=False, new_profile=False):
    def one(rt, i):
        bundle = bundles.make(rt.name, ["/bin/true"], differ=differ, seccomp=seccomp,
                              limits=seccomp, new_profile=new_profile)
        return rt.call("run", "-b", bundle, f"r{i}-{uuid.uuid4().hex[:8]}")
    return one


def wait_stopped(rt: Runtime, cid: str) -> None:
    for _ in range(500):
        if json.loads(rt.output("state", cid))["status"] == "stopped":
            return
        time.sleep(0.002)
    raise SystemExit(f"{rt.name}: {cid} did not stop")


def lifecycle(runtimes, bundles, rounds):
    """create (a config of its own) / start / state / kill / delete, each timed."""
    steps = ("create", "start", "state", "pause", "resume", "ps", "kill", "delete")
    times = {s: {rt.name: [] for rt in runtimes} for s in steps}

    def one(rt, i):
        cid = f"l{i}-{uuid.uuid4().hex[:8]}"
        bundle = bundles.make(rt.name, ["/bin/sleep", "1000"])
        times["create"][rt.name].append(rt.call("create", "-b", bundle, cid))
        times["start"][rt.name].append(rt.call("start", cid))
        times["state"][rt.name].append(rt.call("state", cid))
        times["pause"][rt.name].append(rt.call("pause", cid))
        times["resume"][rt.name].append(rt.call("resume", cid))
        times["ps"][rt.name].append(rt.call("ps", "--format", "json", cid))
        times["kill"][rt.name].append(rt.call("kill", cid, "KILL"))
        wait_stopped(rt, cid)
        times["delete"][rt.name].append(rt.call("delete", cid))
        return 0
    rotated(runtimes, rounds, one)
    return times


def delete_force(runtimes, bundles, rounds):
    def one(rt, i):
        cid = f"d{i}-{uuid.uuid4().hex[:8]}"
        rt.call("run", "-d", "-b", bundles.make(rt.name, BUSY), cid)
        return rt.call("delete", "--force", cid)
    return rotated(runtimes, rounds, one)


def listing(runtimes, bundles, rounds, count):
    """`list` with `count` created containers in each root."""
    made = {rt.name: [] for rt in runtimes}
    try:
        for rt in runtimes:
            bundle = bundles.make(rt.name, ["/bin/sleep", "1000"], differ=False)
            for n in range(count):
                cid = f"list{n}"
                rt.call("create", "-b", bundle, cid)
                made[rt.name].append(cid)
        return rotated(runtimes, rounds, lambda rt, i: rt.call("list"))
    finally:
        for rt in runtimes:
            for cid in made[rt.name]:
                rt.call("delete", "--force", cid)


def init_rss(runtimes, bundles):
    """RSS (MiB) of a created container's waiting process, from /proc."""
    out = {}
    for rt in runtimes:
        cid = f"rss-{uuid.uuid4().hex[:8]}"
        rt.call("create", "-b", bundles.make(rt.name, ["/bin/true"]), cid)
        try:
            pid = json.loads(rt.output("state", cid))["pid"]
            with open(f"/proc/{pid}/smaps_rollup") as f:
                rss = next(int(line.split()[1]) for line in f if line.startswith("Rss:"))
            out[rt.name] = [rss / 1024]
        finally:
            rt.call("delete", "--force", cid)
    return out


def throughput(runtimes, bundles, cycles):
    """create+start+delete cycles per second, two callers at once."""
    out = {}
    for rt in runtimes:
        prepared = [[bundles.make(rt.name, ["/bin/true"]) for _ in range(cycles)]
                    for _caller in range(2)]
        errors = []
        callers = [rt, rt.another()]

        def caller(n):
            me = callers[n]
            try:
                for i, bundle in enumerate(prepared[n]):
                    cid = f"t{n}-{i}-{uuid.uuid4().hex[:6]}"
                    me.call("create", "-b", bundle, cid)
                    me.call("start", cid)
                    me.call("delete", "--force", cid)
            except BaseException as e:  # noqa: B902 - reported below
                errors.append(e)
        threads = [threading.Thread(target=caller, args=(n,)) for n in range(2)]
        start = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            raise errors[0]
        out[rt.name] = [2 * cycles / (time.perf_counter() - start)]
    return out


def floor(python: str, rounds: int) -> list[float]:
    return [timed.call([python, "-I", "-S", "-c", "pass"])[1] for _ in range(rounds)]


# -- pods: containerd's CRI plugin, one runtime handler per runtime --

POD_CALLS = ("RunPodSandbox", "CreateContainer", "StartContainer", "StopPodSandbox",
             "RemovePodSandbox")
# a handler's BinaryName with --pod-trace: logs "start end status argv" per call
TRACE_WRAPPER = """#!/bin/bash
start=$EPOCHREALTIME
{binary} "$@"
status=$?
echo "$start $EPOCHREALTIME $status $*" >>{log}
exit $status
"""
RUNTIME_COMMANDS = {"create", "start", "state", "kill", "delete", "exec", "ps", "pause",
                    "resume", "update", "events", "features", "checkpoint", "restore"}


def _interrupted(signum, frame):
    raise KeyboardInterrupt


def pods(args, work: pathlib.Path) -> tuple[list, list[str]]:
    """Pod cycles through containerd's CRI plugin: each round, for each
    handler in rotated order, RunPodSandbox (pod network, cgroup_parent below
    cri_env's unique parent), CreateContainer (busybox sleep 1000),
    StartContainer, StopPodSandbox, RemovePodSandbox. Returns (rows,
    cleanup problems); rows are empty when the scenario cannot run here."""
    sys.path.insert(0, str(INTEGRATION))
    import cri_env

    missing = cri_env.missing_tools()
    if missing:
        print(f"pods: skipped, missing {', '.join(missing)} (scripts/setup.sh installs them)",
              file=sys.stderr)
        return [], []
    binaries = {"pyrunc": args.pyrunc, "runc": args.runc}
    logs = {}
    if args.pod_trace:
        for h, binary in binaries.items():
            logs[h] = work / f"trace-{h}.log"
            binaries[h] = str(work / f"trace-{h}")
            pathlib.Path(binaries[h]).write_text(TRACE_WRAPPER.format(
                binary=shlex.quote(binary), log=shlex.quote(str(logs[h]))))
            os.chmod(binaries[h], 0o755)
    old_int, old_term = signal.getsignal(signal.SIGINT), signal.signal(signal.SIGTERM,
                                                                         _interrupted)
    env = cri_env.CriEnv(runtime=binaries["pyrunc"], runc=binaries["runc"],
                         tmpdir=tempfile.mkdtemp(prefix="pyrunc-cri-", dir=args.pod_dir))
    handlers = [types.SimpleNamespace(name=h) for h in ("pyrunc", "runc")]
    windows = {h.name: [] for h in handlers}  # wall-clock (start, end) of each cycle

    def cycle(h, i):
        start, wall = time.perf_counter(), time.time()
        pod = env.run_pod(h.name, f"bench-{i}")
        cid = env.create_container(pod, "sleep", ["sleep", "1000"])
        env.cri.call("StartContainer", {"container_id": cid}, tag=h.name)
        env.remove_pod(pod.id, tag=h.name)  # StopPodSandbox, RemovePodSandbox
        windows[h.name].append((wall, time.time()))
        return time.perf_counter() - start

    try:
        try:
            env.start()
            env.import_images()
            for h in handlers:  # the first pod of a handler pays for warming up
                cycle(h, "warm")
            env.cri.timings.clear()
            for h in handlers:
                windows[h.name].clear()
            for log in logs.values():
                log.write_text("")
            times = rotated(handlers, args.pod_rounds, cycle)
            traced = {h: _read_trace(log) for h, log in logs.items()}
        except cri_env.CriCallFailed as e:
            raise SystemExit(f"pods: {e}\n{env.containerd_log_tail(4000)}") from None
        calls = env.cri.timings
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # let the teardown finish
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        problems = []
        try:
            env.teardown()
        except RuntimeError as e:
            problems.append(f"pods: {e}")
        finally:
            signal.signal(signal.SIGINT, old_int)
            signal.signal(signal.SIGTERM, old_term)
    rows = [("PODS cycle: run pod, create+start busybox, stop+remove pod", "ms", times),
            ("PODS  pods per second, one at a time (higher is better)", "/s",
             {h: [1 / t for t in ts] for h, ts in times.items()})]
    rows += [(f"PODS  {m}", "ms", {h: calls[h][m] for h in calls if m in calls[h]})
             for m in POD_CALLS]
    if traced:
        rows += trace_rows(traced, windows)
    return rows, problems


def _read_trace(log: pathlib.Path) -> list[tuple[float, float, str]]:
    """(start, end, runtime command) of every call in a wrapper's log."""
    out = []
    for line in log.read_text().splitlines():
        start, end, status, *argv = line.split()
        at = next((i for i, a in enumerate(argv) if a in RUNTIME_COMMANDS), None)
        command = "?" if at is None else " ".join(
            [argv[at]] + [a for a in argv[at + 1:] if a in ("--all", "--force")])
        if status != "0":
            command += f" (exit {status})"
        out.append((float(start), float(end), command))
    return out


def trace_rows(traced: dict, windows: dict) -> list:
    """Per handler: the runtime time of each pod cycle, then each command the
    shim sends, with how many a pod cycle sends."""
    per_cycle, by_command = {}, {}
    for h, calls in traced.items():
        mine = [(s, e, c) for s, e, c in calls if any(a <= s <= b for a, b in windows[h])]
        per_cycle[h] = [sum(e - s for s, e, _c in mine if a <= s <= b) for a, b in windows[h]]
        for s, e, c in mine:
            by_command.setdefault(c, {}).setdefault(h, []).append(e - s)
    cycles = max(len(w) for w in windows.values())
    rows = [("PODS  all runtime calls the shim makes, per pod cycle", "ms", per_cycle)]
    for command, data in sorted(by_command.items(), key=lambda kv: -max(map(len, kv[1].values()))):
        counts = "/".join(f"{len(data.get(h, [])) / cycles:g}" for h in ("pyrunc", "runc"))
        rows.append((f"PODS   runtime {command}, {counts} per pod (pyrunc/runc)", "ms", data))
    return rows


# -- report --

def summary(values: list[float], scale: float) -> tuple[float, str]:
    v = sorted(x * scale for x in values)
    med = statistics.median(v)
    if len(v) < 4:
        return med, ""
    q = statistics.quantiles(v, n=4)
    return med, f"{q[0]:.1f}-{q[2]:.1f}"


def table(rows: list[tuple[str, str, dict]], names: list[str]) -> str:
    head = f"{'scenario':58s}" + "".join(f"{n:>22s}" for n in names) + \
        "".join(f"{'pyrunc/' + n:>13s}" for n in names if n != "pyrunc")
    lines = [head, "-" * len(head)]
    for title, unit, data in rows:
        scale = 1000.0 if unit == "ms" else 1.0
        cells, meds = "", {}
        for n in names:
            if n not in data:
                cells += f"{'-':>22s}"
                continue
            meds[n], spread = summary(data[n], scale)
            cells += f"{meds[n]:>10.1f} {unit:3s}{spread:>9s}"
        for n in names:
            if n == "pyrunc":
                continue
            ok = meds.get(n) and "pyrunc" in meds
            cells += f"{meds['pyrunc'] / meds[n]:>13.2f}" if ok else f"{'-':>13s}"
        lines.append(f"{title:58s}{cells}")
    return "\n".join(lines)


def cleanup_cgroups() -> None:
    for parent in pathlib.Path("/sys/fs/cgroup").glob(f"*/{CGROUP_PARENT}"):
        for child in sorted(parent.glob("*/"), reverse=True):
            try:
                child.rmdir()
            except OSError:
                pass
        try:
            parent.rmdir()
        except OSError:
            pass


SCENARIOS = ("run", "run-seccomp", "lifecycle", "run-same", "list", "delete-force", "rss",
             "throughput", "pods")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--list-containers", type=int, default=500)
    ap.add_argument("--cycles", type=int, default=20, help="per caller, for throughput")
    ap.add_argument("--pod-rounds", type=int, default=20,
                    help="pod cycles per handler (pods scenario)")
    ap.add_argument("--pod-dir", default="/dev/shm" if os.path.isdir("/dev/shm") else "/tmp",
                    help="pods: where containerd's root and state and the handlers' roots "
                         "go (default a tmpfs: on a disk, fsync noise swamps CreateContainer)")
    ap.add_argument("--pod-trace", action="store_true",
                    help="pods: also time each runtime command the shim sends (through a "
                         "wrapper, which adds a few ms to each CRI call)")
    ap.add_argument("--only", default=",".join(SCENARIOS))
    ap.add_argument("--json", help="also write the raw times here")
    ap.add_argument("--pyrunc", default="/usr/local/bin/pyrunc")
    ap.add_argument("--runc", default=shutil.which("runc") or "/usr/sbin/runc")
    ap.add_argument("--crun", default=shutil.which("crun") or "",
                    help="empty: leave crun out")
    args = ap.parse_args()
    only = set(args.only.split(","))
    unknown = only - set(SCENARIOS)
    if unknown:
        ap.error(f"unknown scenario {sorted(unknown)[0]}: one of {', '.join(SCENARIOS)}")
    if os.geteuid() != 0:
        ap.error("run as root")
    work = pathlib.Path(tempfile.mkdtemp(prefix="pyrunc-bench-"))
    runtimes, problems = [], []
    try:
        runtimes = [Runtime("pyrunc", args.pyrunc, str(work / "root-pyrunc")),
                    Runtime("runc", args.runc, str(work / "root-runc"))]
        if args.crun:
            runtimes.append(NamespacedRuntime("crun", args.crun, str(work / "root-crun")))
        names = [rt.name for rt in runtimes]
        bundles = Bundles(work)
        python = _interpreter(args.pyrunc)
        rows = [("floor: python3 -I -S -c pass (pyrunc's interpreter)", "ms",
                 {"pyrunc": floor(python, args.rounds)})]
        n = args.rounds
        for rt in runtimes:  # warm the page cache: every binary and library read once
            rt.call("run", "-b", bundles.make(rt.name, ["/bin/true"]), "warm")
        if "run" in only:
            rows.append(("REALISTIC run /bin/true, a new config every call", "ms",
                         rotated(runtimes, n, scenario_run(bundles, differ=True))))
        if "run-seccomp" in only:
            rows.append(("REALISTIC  same + Docker's seccomp, memory/pids limits", "ms",
                         rotated(runtimes, n, scenario_run(bundles, True, seccomp=True))))
            rows.append(("REALISTIC  same, a seccomp profile never sent before", "ms",
                         rotated(runtimes, n, scenario_run(bundles, True, seccomp=True,
                                                           new_profile=True))))
        if "lifecycle" in only:
            for step, data in lifecycle(runtimes, bundles, n).items():
                rows.append((f"REALISTIC {step}" + (" (a new config)" if step == "create" else ""),
                             "ms", data))
        if "run-same" in only:
            rows.append(("run /bin/true, the SAME config every call", "ms",
                         rotated(runtimes, n, scenario_run(bundles, differ=False))))
        if "list" in only:
            rows.append((f"list with {args.list_containers} containers", "ms",
                         listing(runtimes, bundles, n, args.list_containers)))
        if "delete-force" in only:
            rows.append(("delete --force, a running 3-process container", "ms",
                         delete_force(runtimes, bundles, n)))
        if "rss" in only:
            rows.append(("RSS of a created container's waiting process", "MiB",
                         init_rss(runtimes, bundles)))
        if "throughput" in only:
            rows.append(("create+start+delete per second, 2 callers (higher is better)",
                         "/s", throughput(runtimes, bundles, args.cycles)))
        if "pods" in only:
            pod_rows, problems = pods(args, work)
            rows += pod_rows
        print(_machine())
        print(table(rows, names))
        for problem in problems:
            print(problem, file=sys.stderr)
        if args.json:
            with open(args.json, "w") as f:
                json.dump({"machine": _machine(), "rows": rows}, f, indent=1)
    finally:
        for rt in runtimes:
            rt.close()
        cleanup_cgroups()
        shutil.rmtree(work, ignore_errors=True)
    return 1 if problems else 0


def _interpreter(pyrunc: str) -> str:
    with open(timed.command_file(pyrunc), "rb") as f:
        first = f.readline().decode(errors="replace")
    word = first[2:].split()[0] if first.startswith("#!") else ""
    return word if os.access(word, os.X_OK) else sys.executable


def _machine() -> str:
    kernel = os.uname().release
    cpus = os.cpu_count()
    return f"machine: kernel {kernel}, {cpus} CPUs, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"


if __name__ == "__main__":
    sys.exit(main())
