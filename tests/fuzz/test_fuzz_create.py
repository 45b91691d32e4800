"""Fuzz `pyrunc create` with mutated config.json files: no tracebacks, one clean
error line or a container, and nothing left behind.

For ~45 s (PYRUNC_FUZZ_SECONDS) it builds case after case from a seeded,
deterministic mutator (config_mutator.py; PYRUNC_FUZZ_SEED), writes the config
into a throw-away bundle, runs `pyrunc --root ROOT create -b BUNDLE ID` (and
`delete --force ID` when that succeeds) and checks:

- the exit status is 0 or 1; with 1, stderr is exactly one line starting with
  "pyrunc: ", and there is never a "Traceback" or "internal error";
- afterwards the inventory equals the baseline: mounts, cgroup dirs under the
  session's cgroup parent, state dirs under ROOT, and processes of ours.

Every case runs in a sandbox mount namespace (a slave of the host's, made
rshared so mount leaks are seen as they would be on a systemd host) and every
config first passes config_mutator.make_safe, which keeps what it names inside
the case's bundle, throw-away namespaces and the test's cgroup parent.

Failures are collected, not stopped at: each distinct one is re-run with
`pyrunc --debug` for its traceback and shrunk to the smallest set of changes to
the base config that still fails the same way. The report names the seed, the
case numbers, the changes and where the failing config.json was saved.

    PYRUNC_FUZZ_SECONDS=600 pytest -p no:cacheprovider -q tests/fuzz -s
    PYRUNC_FUZZ_SEED=7 PYRUNC_FUZZ_CASE=12,40 pytest ... tests/fuzz -s   # replay cases
"""
import collections
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

import config_mutator as cm
from conftest import CGROUP_PARENT, IS_PYRUNC, needs_root, wait_for

pytestmark = [needs_root(),
              pytest.mark.skipif(not IS_PYRUNC, reason="checks pyrunc's own error format")]

SECONDS = float(os.environ.get("PYRUNC_FUZZ_SECONDS", "45"))
SEED = os.environ.get("PYRUNC_FUZZ_SEED", "20261123")
ONLY = [int(n) for n in os.environ.get("PYRUNC_FUZZ_CASE", "").split(",") if n.strip()]
SANDBOX = os.environ.get("PYRUNC_FUZZ_SANDBOX", "1") != "0"
MINIMIZE = int(os.environ.get("PYRUNC_FUZZ_MINIMIZE", "6"))  # distinct failures to shrink
SAVE_DIR = os.environ.get("PYRUNC_FUZZ_SAVE")
TIMEOUT = 20  # seconds for one pyrunc command: longer is a hang
SETTLE = 3.0  # seconds the inventory may take to return to the baseline

NS_FILES = {"mount": "mnt", "network": "net", "pid": "pid", "ipc": "ipc", "uts": "uts",
            "cgroup": "cgroup", "time": "time"}


# -- throw-away processes: namespaces to join, and the sandbox ------------------

def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []




def _ns_id(pid, name: str) -> str:
    try:
        return os.readlink(f"/proc/{pid}/ns/{name}")
    except OSError:
        return ""


def _stop(proc: subprocess.Popen, extra_pids=()) -> None:
    for pid in [proc.pid, *extra_pids]:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass


@pytest.fixture
def throwaway_namespaces():
    """A sleeping process in new namespaces of every kind but user: the only
    namespaces a fuzzed config may join by path."""
    proc = subprocess.Popen(
        ["unshare", "--mount", "--uts", "--ipc", "--net", "--pid", "--cgroup", "--time",
         "--fork", "--kill-child", "--propagation", "private", "--", "sleep", "infinity"],
        cwd="/", stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    child = None
    try:
        child = wait_for(lambda: (_children(proc.pid) or [None])[0], "the namespace holder")
        wait_for(lambda: _ns_id(child, "pid") and _ns_id(child, "pid") != _ns_id("self", "pid"),
                  "the namespace holder's pid namespace")
        paths = {t: f"/proc/{child}/ns/{f}" for t, f in NS_FILES.items()
                 if _ns_id(child, f) and _ns_id(child, f) != _ns_id("self", f)}
        yield {"paths": paths, "pids": {proc.pid, child}}
    finally:
        _stop(proc, [child] if child else [])


@pytest.fixture
def sandbox():
    """A mount namespace for pyrunc: a slave of the host's (nothing propagates
    back), made rshared so that a mount leaking out of a container shows here
    as it would on a host whose / is shared. None with PYRUNC_FUZZ_SANDBOX=0."""
    if not SANDBOX:
        yield None
        return
    proc = subprocess.Popen(["unshare", "--mount", "--propagation", "slave", "--", "sleep", "infinity"],
                            cwd="/", stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: _ns_id(proc.pid, "mnt") and _ns_id(proc.pid, "mnt") != _ns_id("self", "mnt"),
                  "the sandbox mount namespace")
        subprocess.run(["nsenter", "-t", str(proc.pid), "-m", "--", "mount", "--make-rshared", "/"],
                       check=True, stdin=subprocess.DEVNULL, capture_output=True)
        yield proc.pid
    finally:
        _stop(proc)


@pytest.fixture
def work_dir(tmp_path):
    """Where the cases' bundles go: a tmpfs if there is one at /dev/shm that
    allows exec (creating a rootfs copy a case is metadata-heavy, and slow on
    some disks), else tmp_path. PYRUNC_FUZZ_WORKDIR picks the parent."""
    parent = os.environ.get("PYRUNC_FUZZ_WORKDIR") or _exec_tmpfs("/dev/shm")
    if not parent:
        yield str(tmp_path)
        return
    path = tempfile.mkdtemp(prefix="pyrunc-fuzz-", dir=parent)
    try:
        yield path
    finally:
        with open("/proc/self/mountinfo") as f:
            mounted = any(_unescape(line.split()[4]).startswith(path) for line in f)
        if not mounted:  # never rm -r through a mount
            shutil.rmtree(path, ignore_errors=True)


def _exec_tmpfs(path: str) -> str | None:
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            if _unescape(fields[4]) != path:
                continue
            sep = fields.index("-")
            if fields[sep + 1] == "tmpfs" and "noexec" not in fields[5].split(","):
                return path
    return None


# -- running pyrunc ---------------------------------------------------------------

class Result:
    def __init__(self, args, rc, out, err, seconds):
        self.args = args
        self.rc = rc  # None: timed out
        self.out = out
        self.err = err
        self.seconds = seconds


class Runner:
    def __init__(self, binary: str, root: str, sandbox_pid):
        self.binary = binary
        self.root = root
        self.sandbox_pid = sandbox_pid
        self.env = {k: v for k, v in os.environ.items()
                    if k not in ("LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES", "NOTIFY_SOCKET")}

    def __call__(self, *args, cwd: str, io_dir: str, tag: str, debug: bool = False) -> Result:
        # cwd: the bundle. Relative paths in a config resolve there for pyrunc
        # and for the init until pivot_root (the fence assumes so).
        prefix = []
        if self.sandbox_pid:
            prefix = ["nsenter", "-t", str(self.sandbox_pid), "-m", f"--wd={cwd}", "--"]
        cmd = prefix + [self.binary, *(["--debug"] if debug else []), "--root", self.root, *args]
        # Files, not pipes: a created init holds its stdio open.
        out_path, err_path = (os.path.join(io_dir, f"{tag}.{s}") for s in ("out", "err"))
        start = time.monotonic()
        with open(out_path, "w+b") as out, open(err_path, "w+b") as err:
            try:
                rc = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                    env=self.env, cwd=cwd, timeout=TIMEOUT).returncode
            except subprocess.TimeoutExpired:
                rc = None
            out.seek(0)
            err.seek(0)
            o, e = out.read().decode(errors="replace"), err.read().decode(errors="replace")
        return Result(args, rc, o, e, time.monotonic() - start)


# -- inventory --------------------------------------------------------------------

def _unescape(field: str) -> str:
    return os.fsdecode(re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)
                       .encode("latin-1", "surrogateescape"))


def _mountpoints(pid) -> collections.Counter:
    with open(f"/proc/{pid}/mountinfo") as f:
        return collections.Counter(_unescape(line.split()[4]) for line in f)


def _cgroup_dirs() -> list[str]:
    out = []
    base = "/sys/fs/cgroup"
    for h in sorted(os.listdir(base)):
        top = os.path.join(base, h, CGROUP_PARENT.lstrip("/"))
        if not os.path.isdir(top):
            continue
        for dirpath, dirnames, _ in os.walk(top):
            out += [os.path.join(dirpath, d) for d in dirnames]
    return sorted(out)


class Inventory:
    """What a case must not leave behind, scoped to this test so that other
    work on the machine does not show up: the sandbox's mounts (less whatever
    changed on the host meanwhile) and host mounts under the work dir; every
    cgroup dir under the session's parent; the state dirs under ROOT; processes
    in our cgroups or holding a file, cwd or root under the work dir."""

    def __init__(self, work_dir: str, root: str, sandbox_pid, exclude_pids):
        self.work_dir = work_dir
        self.root = root
        self.sandbox_pid = sandbox_pid
        self.exclude = set(exclude_pids) | {os.getpid()}

    def snapshot(self) -> dict:
        host = _mountpoints("self")
        return {
            "host_mounts": host,
            "sandbox_mounts": _mountpoints(self.sandbox_pid) if self.sandbox_pid else host,
            "cgroups": _cgroup_dirs(),
            "states": sorted(n for n in os.listdir(self.root)
                             if os.path.isdir(os.path.join(self.root, n))) if os.path.isdir(self.root) else [],
            "procs": self.processes(),
        }

    def processes(self) -> list[str]:
        found = []
        marker = f":{CGROUP_PARENT}/"
        for name in os.listdir("/proc"):
            if not name.isdigit() or int(name) in self.exclude:
                continue
            base = f"/proc/{name}"
            try:
                with open(f"{base}/stat", "rb") as f:
                    st = f.read()
                if st[st.rindex(b")") + 2:].split()[0] in (b"Z", b"X"):
                    continue
                with open(f"{base}/cgroup") as f:
                    ours = marker in f.read()
                if not ours:
                    links = [os.readlink(f"{base}/cwd"), os.readlink(f"{base}/root")]
                    for fd in os.listdir(f"{base}/fd"):
                        try:
                            links.append(os.readlink(f"{base}/fd/{fd}"))
                        except OSError:
                            pass
                    ours = any(link.startswith(self.work_dir) for link in links)
                if ours:
                    with open(f"{base}/comm") as f:
                        found.append(f"{name} {f.read().strip()}")
            except (OSError, ValueError):
                continue
        return sorted(found)

    def differences(self, base: dict, now: dict) -> list[str]:
        out = []
        host_new = now["host_mounts"] - base["host_mounts"]
        host_gone = base["host_mounts"] - now["host_mounts"]
        if self.sandbox_pid:
            sb_new = now["sandbox_mounts"] - base["sandbox_mounts"] - host_new
            sb_gone = base["sandbox_mounts"] - now["sandbox_mounts"] - host_gone
            out += [f"mount left in the sandbox: {m}" for m in sorted(sb_new.elements())]
            out += [f"mount gone from the sandbox: {m}" for m in sorted(sb_gone.elements())]
            host_new = collections.Counter({m: c for m, c in host_new.items() if m.startswith(self.work_dir)})
            host_gone = collections.Counter({m: c for m, c in host_gone.items() if m.startswith(self.work_dir)})
        out += [f"mount left on the host: {m}" for m in sorted(host_new.elements())]
        out += [f"mount gone from the host: {m}" for m in sorted(host_gone.elements())]
        for key, what in (("cgroups", "cgroup dir"), ("states", "state dir"), ("procs", "process")):
            out += [f"{what} left: {x}" for x in sorted(set(now[key]) - set(base[key]))]
            if key != "procs":
                out += [f"{what} gone: {x}" for x in sorted(set(base[key]) - set(now[key]))]
        return out


# -- the fuzz test ------------------------------------------------------------------

class Failure:
    def __init__(self, n, kind, detail, signature, case, result=None):
        self.n = n
        self.kind = kind
        self.detail = detail
        self.signature = signature
        self.case = case
        self.result = result
        self.config_path = None


def printable(text: str) -> str:
    """Lone surrogates (from configs, or undecodable bytes in paths) escaped."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def say(text: str) -> None:
    print(printable(text), flush=True)


def _normalize(text: str) -> str:
    text = re.sub(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"", "Q", text)
    text = re.sub(r"/[^\s:]*", "P", text)
    return re.sub(r"\d+", "N", text)[:120]


def location(traceback: str) -> str:
    """Exception type and innermost pyrunc frame of a --debug traceback."""
    frames = re.findall(r'File "([^"]*)", line (\d+), in (\S+)', traceback)
    ours = [f for f in frames if "/runtime/" in f[0]] or frames
    lines = [t for t in traceback.strip().splitlines() if t and not t.startswith(" ")]
    exc = lines[-1].split(":")[0] if lines else "?"
    if not ours:
        return exc
    path, line, func = ours[-1]
    return f"{exc} at {path.split('/runtime/')[-1]}:{line} in {func}"


def judge(result: Result, phase: str):
    """(kind, detail, signature) of a bad outcome, or None."""
    err = result.err
    if result.rc is None:
        return "hang", f"{phase} did not finish in {TIMEOUT}s", f"hang in {phase}"
    m = re.search(r"internal error: (\w+): (.*?)(?: \(run with --debug|$)", err, re.M)
    if m:
        return ("internal error", f"{phase}: {m.group(0)[:500]}",
                f"internal error in {phase}: {m.group(1)}: {_normalize(m.group(2))}")
    if "Traceback" in err:
        last = err.strip().splitlines()[-1]
        return "traceback", f"{phase}: {last[:500]}", f"traceback in {phase}: {_normalize(last)}"
    if result.rc not in (0, 1):
        return ("exit status", f"{phase} exited {result.rc}: {err[:500]!r}",
                f"{phase} exit status {result.rc}")
    if result.rc == 1:
        lines = err.rstrip("\n").split("\n")
        if len(lines) != 1 or not lines[0].startswith("pyrunc: ") or not err.endswith("\n"):
            return ("stderr not one line", f"{phase}: stderr {err[:600]!r}",
                    f"{phase} stderr not one 'pyrunc: ' line: {_normalize(lines[0])[:60]}")
        if phase != "create":
            return "failed", f"{phase}: {lines[0][:500]}", f"{phase} failed: {_normalize(lines[0])}"
    return None


class Fuzz:
    def __init__(self, runtime, bundle, work_dir, save_dir, sandbox_pid, namespaces):
        self.runner = Runner(runtime.binary, runtime.root, sandbox_pid)
        self.root = runtime.root
        # Cases hard-link the files of this private copy (copying 3 MB a case
        # costs more than running pyrunc); it is checked after every case.
        self.shared_rootfs = str(bundle.rootfs)
        self.rootfs = os.path.join(str(work_dir), "pristine-rootfs")
        shutil.copytree(self.shared_rootfs, self.rootfs, symlinks=True)
        self.rootfs_files = self.file_stats()
        self.prefix = bundle.id
        self.work_dir = str(work_dir)
        self.sandbox_pid = sandbox_pid
        self.ns_paths = namespaces["paths"]
        self.inventory = Inventory(self.work_dir, runtime.root, sandbox_pid,
                                   namespaces["pids"] | ({sandbox_pid} if sandbox_pid else set()))
        self.mutator = cm.Mutator(SEED, bundle.config)
        self.save_dir = SAVE_DIR or save_dir
        os.makedirs(self.save_dir, exist_ok=True)
        self.failures: list[Failure] = []
        self.by_signature: dict[str, list[Failure]] = collections.OrderedDict()
        self.tracebacks: dict[str, str] = {}
        self.shrunk: dict[str, list[str]] = {}
        self.fatal = None
        self.stats = collections.Counter()
        self.messages = collections.Counter()
        self.baseline = self.inventory.snapshot()

    # -- one case --

    def file_stats(self) -> dict:
        out = {}
        for dirpath, _, files in os.walk(self.rootfs):
            for name in files:
                st = os.lstat(os.path.join(dirpath, name))
                out[os.path.join(dirpath, name)] = (st.st_mode, st.st_uid, st.st_gid, st.st_size,
                                                    st.st_mtime_ns, st.st_ctime_ns)
        return out

    def check_pristine(self, n: int) -> None:
        """A case changed a hard-linked rootfs file (a config can bind rootfs
        dirs and write sysctls through them): start the copy over."""
        files = self.file_stats()
        if {k: v[:5] for k, v in files.items()} == {k: v[:5] for k, v in self.rootfs_files.items()}:
            self.rootfs_files = files  # ctime moves with every link count change
            return
        say(f"fuzz: note: case {n} changed a file of the rootfs copy; making a new one")
        shutil.rmtree(self.rootfs)
        shutil.copytree(self.shared_rootfs, self.rootfs, symlinks=True)
        self.rootfs_files = self.file_stats()

    def fence(self, n: int) -> cm.Fence:
        case_dir = os.path.join(self.work_dir, f"case-{n}")
        return cm.Fence(case_dir, CGROUP_PARENT, self.ns_paths, f"{self.prefix}-{n}")

    def run_case(self, n: int) -> None:
        fence = self.fence(n)
        cm.prepare_case_dir(fence.case_dir, self.rootfs, link=True)
        case = self.mutator.case(n, fence)
        if case.config is not None and not cm.has_raw(case.config):
            problems = cm.violations(case.config, fence)
            assert not problems, f"case {n}: the fence let through {problems}"  # a test bug
        outcome = self.attempt(case.data, fence, fence.cid, f"c{n}")
        bad, result, leaks = outcome
        keep = False
        if bad:
            kind, detail, signature = bad
            self.record(Failure(n, kind, detail, signature, case, result))
            keep = len(self.by_signature[signature]) == 1
        if leaks:
            self.record(Failure(n, "leak", "; ".join(leaks[:20]), "leak: " + ", ".join(
                sorted({_normalize(x.split(":")[0]) for x in leaks})), case, result))
            keep = True
        if not keep:
            self.remove_case_dir(fence.case_dir)
        self.check_pristine(n)

    def attempt(self, data: bytes, fence: cm.Fence, cid: str, tag: str, debug: bool = False):
        """Write config.json, create, delete if created, check. Returns
        (judgement or None, create result, leaks)."""
        with open(os.path.join(fence.case_dir, "config.json"), "wb") as f:
            f.write(data)
        res = self.runner("create", "-b", fence.case_dir, cid, cwd=fence.case_dir,
                          io_dir=fence.case_dir, tag=tag, debug=debug)
        self.stats["runs"] += 1
        bad = judge(res, "create")
        if res.rc == 0:
            self.stats["created"] += 1
        elif res.rc == 1 and not bad:
            self.stats["rejected"] += 1
            self.messages[_normalize(res.err.strip())[:70]] += 1
        if res.rc != 1:
            # created (or hung, or died oddly): it must delete cleanly
            dres = self.runner("delete", "--force", cid, cwd=fence.case_dir, io_dir=fence.case_dir,
                               tag=tag + "-delete")
            dbad = judge(dres, "delete --force")
            if dbad and not bad:
                bad = dbad
        leaks = self.check_inventory()
        return bad, res, leaks

    def check_inventory(self) -> list[str]:
        deadline = time.monotonic() + SETTLE
        delay = 0.01
        while True:
            now = self.inventory.snapshot()
            diffs = self.inventory.differences(self.baseline, now)
            if not diffs or time.monotonic() > deadline:
                break
            time.sleep(delay)
            delay = min(delay * 2, 0.2)
        if diffs:
            self.clean_up(now)
            after = self.inventory.snapshot()
            rest = self.inventory.differences(self.baseline, after)
            if rest:
                self.fatal = f"could not clean up after a leak: {rest[:10]}"
                self.baseline = after
        return diffs

    def clean_up(self, now: dict) -> None:
        """Undo a leak: only things under the work dir, our cgroups, our root."""
        for cid in sorted(set(now["states"]) - set(self.baseline["states"])):
            self.runner("delete", "--force", cid, cwd=self.work_dir, io_dir=self.work_dir, tag="cleanup")
            path = os.path.join(self.root, cid)
            if os.path.isdir(path):
                shutil.rmtree(path, ignore_errors=True)
        for proc in sorted(set(now["procs"]) - set(self.baseline["procs"])):
            try:
                os.kill(int(proc.split()[0]), signal.SIGKILL)
            except ProcessLookupError:
                pass
        for d in sorted(set(now["cgroups"]) - set(self.baseline["cgroups"]), key=len, reverse=True):
            for _ in range(50):
                try:
                    with open(os.path.join(d, "cgroup.procs")) as f:
                        for pid in f.read().split():
                            try:
                                os.kill(int(pid), signal.SIGKILL)
                            except ProcessLookupError:
                                pass
                    os.rmdir(d)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.05)
        for key, pid in (("sandbox_mounts", self.sandbox_pid), ("host_mounts", None)):
            if key == "sandbox_mounts" and not pid:
                continue
            for mp in sorted((now[key] - self.baseline[key]).elements(), key=len, reverse=True):
                if not mp.startswith(self.work_dir):
                    continue  # not ours to touch: reported, and fatal if it stays
                cmd = (["nsenter", "-t", str(pid), "-m", "--"] if pid else []) + ["umount", "-l", mp]
                subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True)

    def mounted_under(self, case_dir: str) -> bool:
        pids = ["self"] + ([self.sandbox_pid] if self.sandbox_pid else [])
        return any(m == case_dir or m.startswith(case_dir + "/")
                   for pid in pids for m in _mountpoints(pid))

    def remove_case_dir(self, case_dir: str) -> None:
        if not self.mounted_under(case_dir):  # never rm -r through a mount
            shutil.rmtree(case_dir, ignore_errors=True)

    def record(self, failure: Failure) -> None:
        self.failures.append(failure)
        self.by_signature.setdefault(failure.signature, []).append(failure)
        if len(self.by_signature[failure.signature]) == 1:
            failure.config_path = os.path.join(self.save_dir, f"seed{SEED}-case{failure.n}.json")
            with open(failure.config_path, "wb") as f:
                f.write(failure.case.data)
        count = len(self.by_signature[failure.signature])
        if count == 1:
            say(f"\nfuzz: FAILURE seed={SEED} case={failure.n} {failure.kind}: {failure.detail[:300]}\n"
                f"      mutations: {failure.case.describe()[:1500]}")
        elif count in (2, 10, 100):
            say(f"\nfuzz: case={failure.n} failed like case {self.by_signature[failure.signature][0].n} "
                f"({count} so far)")

    # -- after the run: tracebacks and shrinking --

    def reset_rootfs(self, fence: cm.Fence) -> None:
        rootfs = os.path.join(fence.case_dir, "rootfs")
        if self.mounted_under(fence.case_dir):
            return
        if not os.path.isdir(fence.case_dir):
            cm.prepare_case_dir(fence.case_dir, self.rootfs, link=True)
            return
        shutil.rmtree(rootfs, ignore_errors=True)
        shutil.copytree(self.rootfs, rootfs, symlinks=True, copy_function=os.link)
        os.chmod(rootfs, 0o755)

    def debug_traceback(self, failure: Failure, data: bytes) -> str:
        fence = self.fence(failure.n)
        self.reset_rootfs(fence)
        _, res, _ = self.attempt(data, fence, f"{fence.cid}-d", f"c{failure.n}-debug", debug=True)
        return res.err if res else ""

    def shrink(self, failure: Failure) -> list[str] | None:
        """Greedy one-at-a-time removal of changes to the base config that
        keep the same failure signature."""
        case = failure.case
        if case.raw or case.config is None or failure.kind in ("hang",):
            return None
        fence = self.fence(failure.n)
        base = self.mutator.base(fence)
        changes = cm.diff(base, case.config)
        runs = 0

        def still_fails(candidate_changes) -> bool:
            nonlocal runs
            config = cm.apply(base, candidate_changes)
            if cm.make_safe(config, fence):
                return False  # would need the fence: not the same config any more
            runs += 1
            self.reset_rootfs(fence)
            bad, _, leaks = self.attempt(cm.dumps(config), fence, f"{fence.cid}-m{runs}",
                                         f"c{failure.n}-m{runs}")
            if failure.kind == "leak":
                return bool(leaks)
            return bool(bad) and bad[2] == failure.signature

        i = 0
        while i < len(changes) and runs < 60:
            trial = changes[:i] + changes[i + 1:]
            if still_fails(trial):
                changes = trial
            else:
                i += 1
        minimal = cm.apply(base, changes)
        path = os.path.join(self.save_dir, f"seed{SEED}-case{failure.n}-min.json")
        with open(path, "wb") as f:
            f.write(cm.dumps(minimal, indent=1))
        return cm.describe_changes(changes) + [f"(whole config: {path})"]

    def explain(self) -> None:
        for k, (signature, failures) in enumerate(self.by_signature.items()):
            first = failures[0]
            if first.kind in ("internal error", "traceback", "exit status", "stderr not one line",
                              "failed") and first.case.data is not None:
                self.tracebacks[signature] = self.debug_traceback(first, first.case.data)
            if k < MINIMIZE:
                self.shrunk[signature] = self.shrink(first)
            self.remove_case_dir(self.fence(first.n).case_dir)

    def report(self, seconds: float, cases: int) -> str:
        lines = [f"fuzz: seed {SEED}: {cases} cases in {seconds:.1f}s ({cases / max(seconds, 1e-9):.1f}/s); "
                 f"{self.stats['runs']} create runs, {self.stats['created']} created and deleted, "
                 f"{self.stats['rejected']} rejected with one clean line; "
                 f"{len(self.failures)} failing cases, {len(self.by_signature)} distinct"]
        where = collections.OrderedDict()
        for signature in self.by_signature:
            tb = self.tracebacks.get(signature)
            where.setdefault(location(tb) if tb and "Traceback" in tb else signature, []).append(signature)
        if where:
            lines.append(f"distinct places: {len(where)}")
            lines += [f"  {w}  <- {len(sigs)} signature(s)" for w, sigs in where.items()]
        for signature, failures in self.by_signature.items():
            first = failures[0]
            lines += ["", f"== {signature}",
                      f"   cases: {', '.join(str(f.n) for f in failures[:12])}"
                      + (f" (+{len(failures) - 12})" if len(failures) > 12 else ""),
                      f"   replay: PYRUNC_FUZZ_SEED={SEED} PYRUNC_FUZZ_CASE={first.n}",
                      f"   {first.kind}: {first.detail[:600]}",
                      f"   mutations: {first.case.describe()[:1200]}",
                      f"   config.json: {first.config_path}"]
            shrunk = self.shrunk.get(signature)
            if shrunk:
                lines.append("   smallest change to the base config that still fails:")
                lines += [f"     {c[:400]}" for c in shrunk]
            tb = self.tracebacks.get(signature)
            if tb and "Traceback" not in tb:
                lines.append(f"   pyrunc --debug re-run did not fail the same way: {tb.strip()[:300]!r}")
            if tb and "Traceback" in tb:
                lines.append(f"   where: {location(tb)}")
                tail = [t for t in tb.strip().splitlines() if t.strip(" ^~")][-12:]
                lines.append("   pyrunc --debug:")
                lines += [f"     {t[:300]}" for t in tail]
            if not shrunk:
                text = first.case.data[:3000].decode("utf-8", "backslashreplace")
                lines += ["   config (first 3000 bytes):", "     " + text.replace("\n", "\n     ")]
        return "\n".join(lines)


def test_fuzz_create(runtime, bundle, inventory, tmp_path, work_dir, sandbox, throwaway_namespaces,
                     hybrid_unified_restored):
    start_inventory = inventory()
    fuzz = Fuzz(runtime, bundle, work_dir, str(tmp_path / "failures"), sandbox, throwaway_namespaces)
    started = time.monotonic()
    deadline = started + SECONDS
    cases = 0
    numbers = iter(ONLY) if ONLY else iter(range(10**9))
    for n in numbers:
        if not ONLY and time.monotonic() >= deadline:
            break
        fuzz.run_case(n)
        cases += 1
        if fuzz.fatal:
            break
    elapsed = time.monotonic() - started
    fuzz.explain()
    say("\n" + fuzz.report(elapsed, cases))
    common = ", ".join(f"{c}x {m!r}" for m, c in fuzz.messages.most_common(8))
    say(f"fuzz: most common rejections: {common}")

    # The whole host inventory (conftest's) is back where it started. Its
    # process list is every pyrunc* process on the machine, zombies waiting
    # for PID 1 included: a difference there counts only if one is ours.
    deadline = time.monotonic() + 15
    while inventory() != start_inventory and time.monotonic() < deadline:
        time.sleep(0.2)
    end_inventory = inventory()
    problems = []
    if fuzz.fatal:
        problems.append(fuzz.fatal)
    if end_inventory != start_inventory:
        ours = fuzz.inventory.processes()
        if any(end_inventory[k] != start_inventory[k] for k in end_inventory if k != "inits") or ours:
            problems.append(f"host inventory changed: before {start_inventory}\n"
                            f"after {end_inventory}\nprocesses of ours: {ours}")
        else:
            say(f"fuzz: note: pyrunc processes that are not ours came or went: "
                f"{start_inventory['inits']} -> {end_inventory['inits']}")
    if fuzz.failures or problems:
        pytest.fail(printable("\n".join(problems + [fuzz.report(elapsed, cases)])), pytrace=False)
