"""Shared fixtures: the runtime under test, bundles, and cleanup that runs even
when a test fails.

PYRUNC_TEST_RUNTIME picks the runtime (default /usr/local/bin/pyrunc), so the same
integration tests can be pointed at runc to check the tests themselves.
"""
import array
import copy
import gc
import importlib.util
import json
import os
import pathlib
import shutil
import socket
import subprocess
import tempfile
import time
import uuid

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
RUNTIME = os.environ.get("PYRUNC_TEST_RUNTIME", "/usr/local/bin/pyrunc")
IS_PYRUNC = "runc" not in os.path.basename(RUNTIME) or "pyrunc" in os.path.basename(RUNTIME)
SESSION = uuid.uuid4().hex[:8]
CGROUP_PARENT = f"/ocitest-{SESSION}"
# A pure cgroup-v2 host (the VM lane), not a hybrid one like this project's CI host.
V2_ONLY = (os.path.exists("/sys/fs/cgroup/cgroup.controllers")
           and not os.path.isdir("/sys/fs/cgroup/memory"))


def _load(path: pathlib.Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


make_bundle = _load(REPO / "scripts" / "make_bundle.py", "make_bundle")
helper_build = _load(REPO / "tests" / "helper" / "build.py", "ocitest_build")


def process_report() -> str:
    """pid, parent, state, kernel wait channel and command of every user
    process, for a runtime call that timed out (shows who waits for whom)."""
    lines = []
    for entry in sorted(os.listdir("/proc"), key=lambda n: (len(n), n)):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
            with open(f"/proc/{entry}/wchan") as f:
                wchan = f.read()
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        if not cmdline:  # a kernel thread
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        lines.append(f"{entry} ppid={fields[1]} {fields[0]} wchan={wchan or '-'} {cmdline[:160]}")
    return "\n".join(lines)


def assert_one_line_error(proc, *texts: str) -> None:
    """Bad input: exit status 1 and one stderr line holding every text (the
    pointer, the reason)."""
    assert proc.returncode == 1, proc.stderr
    assert all(t in proc.stderr for t in texts), proc.stderr
    assert proc.stderr.count("\n") == 1, proc.stderr


def open_fds() -> set[int]:
    """This process's open fds, without the listing's own (closed once
    listdir returns). Compare with `<=`, and in a forked child (run_forked):
    other threads of the test process (grpc's, after the CRI tests) open and
    close fds at any time, and the collector may close a leaked file."""
    gc.collect()
    return {int(n) for n in os.listdir("/proc/self/fd") if _is_open(int(n))}


def _is_open(fd: int) -> bool:
    try:
        os.fstat(fd)
        return True
    except OSError:
        return False


def run_forked(fn) -> None:
    """fn() in a forked child, the only thread there: an fd count there
    changes only by what fn does. A failure comes back as an AssertionError."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            fn()
            message = b""
        except BaseException as e:  # whatever it is goes back to the parent
            message = (f"{type(e).__name__}: {e}" or "failed").encode()
        os.write(w, message[:60000])
        os._exit(0)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        message = f.read()
    os.waitpid(pid, 0)
    if message:
        raise AssertionError(message.decode(errors="replace"))


def recv_with_fds(conn, size: int, max_fds: int) -> tuple[bytes, list[int]]:
    """One recvmsg: the data and the fds that came with it (SCM_RIGHTS)."""
    fds = array.array("i")
    data, anc, _flags, _addr = conn.recvmsg(size, socket.CMSG_SPACE(max_fds * fds.itemsize))
    for level, kind, payload in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(payload[:len(payload) - len(payload) % fds.itemsize])
    return data, list(fds)


def needs_root():
    return pytest.mark.skipif(os.geteuid() != 0, reason="integration tests create containers: run as root")


def needs_systemd() -> list:
    """The marks of a test that needs systemd as PID 1 (and root): marked
    `systemd`, run by tests/vm/run_v2_lane.py --systemd, skipped elsewhere."""
    return [pytest.mark.systemd, needs_root(),
            pytest.mark.skipif(not os.path.isdir("/run/systemd/system"),
                               reason="needs systemd as PID 1 (no /run/systemd/system here): "
                                      "run tests/vm/run_v2_lane.py --systemd")]


# -- the runtime under test --

class Runtime:
    def __init__(self, binary: str, root: str):
        self.binary = binary
        self.root = root

    def command(self, args) -> list[str]:
        return [self.binary, "--root", self.root, *map(str, args)]

    def __call__(self, *args, check: bool = True, timeout: float = 60, input=None,
                 env=None, pass_fds=(), cwd=None) -> subprocess.CompletedProcess:
        cmd = self.command(args)
        # Files, not pipes: a created container's init inherits the runtime's
        # stdio and holds it open, so a pipe would never reach EOF.
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            proc = subprocess.Popen(cmd, stdout=out, stderr=err, text=True, env=env,
                                    stdin=subprocess.PIPE if input is not None else None,
                                    pass_fds=pass_fds, cwd=cwd)
            try:
                proc.communicate(input, timeout=timeout)
            except subprocess.TimeoutExpired:
                where = process_report()  # before the kill: where did it hang?
                proc.kill()
                proc.wait()
                raise AssertionError(f"{' '.join(cmd)} timed out after {timeout}s; "
                                     f"processes then:\n{where}") from None
            out.seek(0)
            err.seek(0)
            proc.stdout = out.read().decode(errors="replace")
            proc.stderr = err.read().decode(errors="replace")
        if check and proc.returncode != 0:
            raise AssertionError(f"{' '.join(cmd)} exited {proc.returncode}\n"
                                 f"stdout: {proc.stdout}\nstderr: {proc.stderr}")
        return proc

    def state(self, cid: str) -> dict:
        return json.loads(self("state", cid).stdout)

    def wait_status(self, cid: str, want: str, timeout: float = 10.0) -> str:
        """Poll state until it says `want` (or the time is up): the status then."""
        deadline = time.monotonic() + timeout
        while True:
            status = self.state(cid)["status"]
            if status == want or time.monotonic() > deadline:
                return status
            time.sleep(0.01)

    def wait_catching(self, cid: str, signal: int, timeout: float = 10.0) -> None:
        """Until the container's init has a handler for `signal` (SigCgt in its
        /proc status). A pid namespace's init ignores a signal it does not
        catch: one sent before the program has set its handler is lost. On a
        slow guest (the TCG lanes) a kill right after start can be that early."""
        pid = self.state(cid)["pid"]
        deadline = time.monotonic() + timeout
        while True:
            with open(f"/proc/{pid}/status") as f:
                caught = next(int(line.split()[1], 16) for line in f if line.startswith("SigCgt:"))
            if caught & (1 << (signal - 1)):
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"pid {pid} set no handler for signal {signal} in {timeout}s")
            time.sleep(0.005)

    def ids(self) -> list[str]:
        """Container state dirs (the root also holds schema-verdict files)."""
        if not os.path.isdir(self.root):
            return []
        return sorted(n for n in os.listdir(self.root) if os.path.isdir(os.path.join(self.root, n)))


@pytest.fixture(scope="session")
def runtime_root(tmp_path_factory):
    return str(tmp_path_factory.mktemp("runtime-root"))


@pytest.fixture(scope="session")
def runtime_binary():
    if not os.path.exists(RUNTIME):
        pytest.fail(f"runtime under test {RUNTIME} does not exist: run scripts/setup.sh "
                    "or set PYRUNC_TEST_RUNTIME")
    return RUNTIME


@pytest.fixture
def runtime(runtime_binary, runtime_root):
    rt = Runtime(runtime_binary, runtime_root)
    before = set(rt.ids())
    yield rt
    # Delete whatever the test left, even when it failed.
    for cid in set(rt.ids()) - before:
        rt("delete", "--force", cid, check=False)


# -- bundles --

@pytest.fixture(scope="session")
def rootfs(tmp_path_factory):
    """A shared busybox rootfs with the static test helper at /ocitest.
    Tests that change the rootfs take a private copy (Bundle.private_rootfs)."""
    root = tmp_path_factory.mktemp("rootfs")
    make_bundle.build_rootfs(str(root))
    root.chmod(0o755)  # pytest makes it 0700: a non-root container user could not enter /
    helper = helper_build.build_ocitest(tmp_path_factory.mktemp("helper"))
    shutil.copy2(helper, root / "ocitest")
    return root


def base_config() -> dict:
    """runc spec's defaults, without a terminal, running the test helper."""
    from runtime.defaults import default_config  # the installed pyrunc, never the tree

    config = default_config()
    config["ociVersion"] = "1.0.2"  # a version runc 1.1 accepts too
    config["process"]["terminal"] = False
    config["process"]["args"] = ["/ocitest", "info"]
    return config


class Bundle:
    def __init__(self, path: pathlib.Path, rootfs: pathlib.Path):
        self.path = path
        self.rootfs = rootfs
        self.id = f"t{uuid.uuid4().hex[:10]}"
        self.config = copy.deepcopy(BASE_CONFIG)
        self.config["root"]["path"] = str(rootfs)
        self.config["linux"]["cgroupsPath"] = f"{CGROUP_PARENT}/{self.id}"

    def private_rootfs(self) -> pathlib.Path:
        dest = self.path / "rootfs"
        shutil.copytree(self.rootfs, dest, symlinks=True)
        self.rootfs = dest
        self.config["root"]["path"] = str(dest)
        return dest

    def write(self) -> str:
        with open(self.path / "config.json", "w") as f:
            json.dump(self.config, f, indent=1)
        return str(self.path)

    def args(self, *args):
        self.config["process"]["args"] = list(args)
        return self

    def without_namespace(self, kind: str) -> "Bundle":
        """No namespace of this type: the container shares the runtime's."""
        self.config["linux"]["namespaces"] = [ns for ns in self.config["linux"]["namespaces"]
                                              if ns["type"] != kind]
        return self


BASE_CONFIG = base_config()


@pytest.fixture
def bundle(tmp_path, rootfs):
    return Bundle(tmp_path, rootfs)


@pytest.fixture(scope="session", autouse=True)
def cgroup_cleanup():
    """Remove the session's cgroup parent on every hierarchy at the end."""
    yield
    for d in sorted(session_cgroup_parents(), reverse=True):
        for sub in sorted(d.glob("**/"), key=lambda p: len(str(p)), reverse=True):
            try:
                sub.rmdir()
            except OSError:
                pass


def cgroup_procs(cgroups_path: str) -> pathlib.Path:
    """The container's cgroup.procs: in the v1 pids hierarchy, or on cgroup v2."""
    v1 = pathlib.Path(f"/sys/fs/cgroup/pids{cgroups_path}/cgroup.procs")
    return v1 if v1.parent.is_dir() or pathlib.Path("/sys/fs/cgroup/pids").is_dir() \
        else pathlib.Path(f"/sys/fs/cgroup{cgroups_path}/cgroup.procs")


def proc_state(pid) -> str:
    """The process's state letter from /proc/PID/stat; "X" once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "X"


def host_ids(pid) -> tuple[int, int]:
    """The real uid and gid of a process, as the host sees them."""
    with open(f"/proc/{pid}/status") as f:
        fields = dict(line.split(":", 1) for line in f)
    return int(fields["Uid"].split()[0]), int(fields["Gid"].split()[0])


def wait_for(predicate, what: str, timeout: float = 10.0, interval: float = 0.02):
    """Poll predicate until it returns something true, and return that."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}")


def block_device() -> tuple[int, int]:
    """(major, minor) of a block device for the blkio/io throttle files (the
    kernel checks that it exists): a loop device where there is one. A guest
    without any (the VM lane's root is 9p) gets the loop driver loaded."""
    for attempt in range(2):
        names = sorted(os.listdir("/sys/block"), key=lambda n: not n.startswith("loop"))
        if names:
            with open(f"/sys/block/{names[0]}/dev") as f:
                major, minor = f.read().split(":")
            return int(major), int(minor)
        if attempt == 0:
            subprocess.run(["modprobe", "loop"], capture_output=True)
    pytest.skip("no block device and no loop driver: the blkio/io throttle files need one")


@pytest.fixture
def hybrid_unified_restored():
    """On a hybrid host pyrunc enables in the cgroup2 root what a container asks
    of it (hugetlb on the CI host): take back what the test added."""
    root = "/sys/fs/cgroup/unified"
    control = f"{root}/cgroup.subtree_control"
    if not os.path.exists(control):
        yield
        return
    with open(control) as f:
        before = set(f.read().split())
    yield
    with open(control) as f:
        added = set(f.read().split()) - before
    session = pathlib.Path(f"{root}{CGROUP_PARENT}")
    deepest_first = sorted((str(d) for d in session.glob("**/") if d.is_dir()),
                           key=len, reverse=True)
    for d in deepest_first + [root]:
        for controller in added:
            try:
                with open(f"{d}/cgroup.subtree_control", "w") as f:
                    f.write(f"-{controller}")
            except OSError:
                pass


def session_cgroup_parents() -> list[pathlib.Path]:
    """The session's cgroup parent on every hierarchy: /sys/fs/cgroup/<ctrl>/...
    on v1 and hybrid hosts, /sys/fs/cgroup/... itself on a cgroup-v2 host."""
    root = pathlib.Path("/sys/fs/cgroup")
    found = [p for p in root.glob(f"*{CGROUP_PARENT}") if p.is_dir()]
    own = pathlib.Path(f"/sys/fs/cgroup{CGROUP_PARENT}")
    return found + ([own] if own.is_dir() else [])


# -- host inventory: what a failed operation must not leave behind --

def host_inventory(runtime_root: str) -> dict:
    with open("/proc/self/mountinfo") as f:
        mounts = sorted(line.split()[4] for line in f)
    # Container cgroups (directories) under the session's parent; the parent
    # itself stays, as with runc, and the session removes it at the end.
    cgroups = sorted(str(c) for p in session_cgroup_parents() for c in p.iterdir() if c.is_dir())
    states = (sorted(n for n in os.listdir(runtime_root) if os.path.isdir(os.path.join(runtime_root, n)))
              if os.path.isdir(runtime_root) else [])
    # Live pyrunc processes: a zombie is dead already (its reaper is the host's
    # init, which takes a moment), not a leak.
    procs = subprocess.run(["ps", "-eo", "stat=,comm="], capture_output=True, text=True).stdout
    inits = sorted(comm for stat, comm in (line.split(None, 1) for line in procs.splitlines())
                   if comm.strip() == "pyrunc:init" and not stat.startswith("Z"))
    return {"mounts": mounts, "cgroups": cgroups, "states": states, "inits": inits}


@pytest.fixture
def inventory(runtime_root):
    return lambda: host_inventory(runtime_root)


@pytest.fixture
def reachable(tmp_path_factory):
    """A directory a user namespace's root can reach (pytest's base dir is
    0700): for rootfs and bind sources of user-namespace tests."""
    top = tempfile.mkdtemp(prefix="pyrunc-userns-", dir="/tmp")
    os.chmod(top, 0o711)
    yield pathlib.Path(top)
    shutil.rmtree(top, ignore_errors=True)
