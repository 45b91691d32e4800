"""Docker 20.10 as a real client of the runtime, with runc and pyrunc side by side.

Docker reaches the runtime through containerd's runc shim, as Kubernetes
does: one private dockerd for the session (docker_env.DockerEnv: own data
root, exec root, pidfile and socket under a temp dir, no iptables, no bridge,
cgroupfs driver under a test cgroup parent, its own containerd) knows the
runtime under test as ``pyrunc`` (``--add-runtime pyrunc=$PYRUNC_TEST_RUNTIME``,
default /usr/local/bin/pyrunc) beside its built-in ``runc``.  Every scenario
runs once with ``docker run --runtime runc`` and once with ``--runtime pyrunc``
and asserts the same observable results: exit codes, output, cgroup values
seen inside the container, ``docker inspect``/``stats``/``top``.  Containers
get ``--network none``; the image is busybox-static, built here and loaded
with ``docker load``.  A second dockerd with ``--userns-remap`` is started
only for the user-namespace scenarios.

After each test its containers are removed and nothing may be left behind:
no cgroups under the parent, runtime state, bundles, shims, shim sockets or
mounts (DockerEnv.leftovers).

The tests FAIL (never skip) when the runtime under test is missing; set
PYRUNC_TEST_RUNTIME=/usr/sbin/runc to check the tests themselves (both lanes
then run runc).  They skip (loudly) only when not root or when docker.io,
containerd, runc or busybox-static are not installed (scripts/setup.sh
installs them).  PYRUNC_TEST_KEEP_TMP=1 keeps the daemons' temp dirs;
PYRUNC_TEST_DOCKER_TIMEOUT changes the 30 s bound on each docker call.
"""

from __future__ import annotations

import json
import os
import re
import sys
import threading
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import containerd_env as ce  # noqa: E402
import docker_env as de  # noqa: E402

TIMEOUT = float(os.environ.get("PYRUNC_TEST_DOCKER_TIMEOUT", "30"))
IMG = de.IMAGE
RUNTIMES = ("runc", "pyrunc")

_missing = de.missing_tools()
pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0,
                       reason="!!! docker integration test NOT RUN: it needs root !!!"),
    pytest.mark.skipif(bool(_missing),
                       reason="!!! docker integration test NOT RUN: missing " + ", ".join(_missing)
                              + " (Debian packages docker.io, containerd, runc, busybox-static;"
                                " scripts/setup.sh installs them) !!!"),
]

# Typed into an interactive sh: `tty` names the terminal; the marker is
# computed, so only its execution (not the echo of the typed line) prints it.
TYPED = "tty; echo marker-$((6*7)); exit {status}\n"
MARKER = "marker-42"
# A process that ends at SIGTERM with status 42 (pid 1 has no default action).
TRAP_TERM = 'trap "exit 42" TERM; while :; do sleep 0.1; done'


# --------------------------------------------------------------------------
# the daemons and the per-test client

def _daemon(userns_remap: bool):
    path, problem = ce.runtime_path()
    if problem:
        yield None  # each test fails with the problem
        return
    env = de.DockerEnv(runtime=path, userns_remap=userns_remap)
    try:
        try:
            env.start()
        except RuntimeError as e:
            pytest.fail(f"cannot set up dockerd: {e}", pytrace=False)
        yield env
    finally:
        env.teardown()


@pytest.fixture(scope="session")
def docker_env():
    yield from _daemon(userns_remap=False)


@pytest.fixture(scope="session")
def docker_userns_env():
    yield from _daemon(userns_remap=True)


class Client:
    """One test's view of a daemon with one runtime: `docker run --runtime
    <runtime> --network none`, names it made, and the checks of its results."""

    def __init__(self, env: de.DockerEnv, runtime: str, test: str):
        self.env = env
        self.runtime = runtime
        self.prefix = f"dk-{runtime}-{test}"[:50]
        self.names: list[str] = []

    def docker(self, *args, timeout: float = TIMEOUT, input: str | None = None) -> ce.Result:
        return self.env.docker(*args, timeout=timeout, input=input)

    def name(self) -> str:
        n = f"{self.prefix}-{len(self.names)}"
        self.names.append(n)
        return n

    def run_args(self, *args, name: str | None = None) -> list[str]:
        """`docker run` with our runtime, no network, a name and a cidfile
        (the id of a --rm container, for diagnostics and cleanup)."""
        name = name or self.name()
        cidfile = f"{self.env.tmpdir}/cid-{name}"
        if os.path.exists(cidfile):
            os.unlink(cidfile)
        return ["run", "--runtime", self.runtime, "--network", "none", "--name", name,
                "--cidfile", cidfile, *args]

    def run(self, *args, name: str | None = None, timeout: float = TIMEOUT) -> ce.Result:
        name = name or self.name()
        r = self.docker(*self.run_args(*args, name=name), timeout=timeout)
        self._remember(name)
        r.name = name
        return r

    def start(self, *args, name: str | None = None) -> tuple[str, str, int]:
        """`docker run -d`; (name, full id, host pid of its init) once running,
        after checking that the shim ran the runtime asked for."""
        name = name or self.name()
        r = self.run("-d", *args, name=name)
        assert r.returncode == 0, "docker run -d failed\n" + self.why(name, r)
        cid = r.stdout.strip()
        running = ce.poll(lambda: self.env.inspect(name, "{{.State.Running}}") == "true", 10, 0.05)
        assert running, "container not running\n" + self.why(name, r)
        pid = int(self.env.inspect(name, "{{.State.Pid}}") or 0)
        assert pid > 0 and ce._pid_alive(pid), f"no live init pid ({pid})\n" + self.why(name, r)
        binary = de.bundle_options(self.env, cid).get("binary_name")
        want = self.env.runtime if self.runtime == "pyrunc" else "runc"
        assert binary == want, f"the shim runs {binary!r}, not {want!r} ({self.runtime})"
        return name, cid, pid

    def _remember(self, name: str):
        try:
            with open(f"{self.env.tmpdir}/cid-{name}") as f:
                self.env.remember(f.read().strip())
        except OSError:
            pass

    def cid(self, name: str) -> str | None:
        try:
            with open(f"{self.env.tmpdir}/cid-{name}") as f:
                return f.read().strip() or None
        except OSError:
            return None

    def inspect(self, name: str, fmt: str) -> str | None:
        return self.env.inspect(name, fmt)

    def cgroup_file(self, cid: str, controller: str, fname: str) -> str:
        with open(f"/sys/fs/cgroup/{controller}{self.env.cgroup_parent}/{cid}/{fname}") as f:
            return f.read().strip()

    def why(self, name: str | None, *results) -> str:
        cid = (self.cid(name) if name else None) or name
        return "\n".join([r.describe() for r in results] + [self.env.diagnostics(cid)])

    def cleanup(self) -> list[str]:
        """Remove this test's containers; what stays behind after that."""
        existing = [n for n in self.names
                    if self.env.inspect(n, "{{.Id}}") is not None]
        if existing:
            self.docker("rm", "-f", *existing, timeout=60)

        def left():
            return [x for x in self.env.leftovers() if x not in self.env.accepted_leftovers]
        ce.poll(lambda: not left(), timeout=10, interval=0.05)  # a shim exits a moment later
        return left()


def _client(request, env) -> Client:
    _path, problem = ce.runtime_path()
    if problem:
        pytest.fail(problem, pytrace=False)
    assert env is not None
    test = re.sub(r"[^a-z0-9-]", "-", request.node.originalname.removeprefix("test_").lower())
    return Client(env, request.param, test)


def _teardown(client: Client):
    left = client.cleanup()
    if left:
        # reported once: the later tests compare against what is left now
        client.env.accepted_leftovers.update(left)
        pytest.fail(f"left behind after the test's containers were removed "
                    f"({client.runtime}):\n  " + "\n  ".join(left), pytrace=False)


@pytest.fixture(params=RUNTIMES)
def dk(request, docker_env):
    client = _client(request, docker_env)
    yield client
    _teardown(client)


@pytest.fixture(params=RUNTIMES)
def dk_userns(request, docker_userns_env):
    client = _client(request, docker_userns_env)
    yield client
    _teardown(client)


def _ok(dk: Client, r: ce.Result, what: str):
    assert r.returncode == 0, f"{what} failed\n" + dk.why(getattr(r, "name", None), r)


def _exec(dk: Client, name: str, *cmd: str) -> ce.Result:
    return dk.docker("exec", name, *cmd)


def _lines(r: ce.Result) -> list[str]:
    return r.stdout.splitlines()


# --------------------------------------------------------------------------
# the 15 everyday scenarios

def test_run(dk):
    r = dk.run("--rm", IMG, "echo", "hello")
    _ok(dk, r, "docker run --rm echo hello")
    assert r.stdout == "hello\n", "unexpected output\n" + dk.why(r.name, r)
    assert dk.inspect(r.name, "{{.Id}}") is None, f"{r.name} still exists after run --rm"


def test_pid_1(dk):
    r = dk.run("--rm", IMG, "sh", "-c",
               'echo $$; cat /proc/1/cmdline; echo; ls /proc | grep -c "^[0-9]"')
    _ok(dk, r, "docker run")
    # sh is pid 1, and it sees only itself plus the ls and grep of the pipe
    assert _lines(r)[:2] == ["1", "sh\0-c\0" + r.argv[-1] + "\0"], dk.why(r.name, r)
    assert _lines(r)[2] in ("2", "3"), "other processes visible\n" + dk.why(r.name, r)


def test_detached_memory_pids(dk):
    name, cid, pid = dk.start("--memory", "64m", "--pids-limit", "50", IMG, "sleep", "1000")
    r = _exec(dk, name, "cat", "/sys/fs/cgroup/memory/memory.limit_in_bytes",
              "/sys/fs/cgroup/pids/pids.max")
    _ok(dk, r, "docker exec cat cgroup files")
    assert _lines(r) == [str(64 << 20), "50"], dk.why(name, r)
    assert dk.cgroup_file(cid, "memory", "memory.limit_in_bytes") == str(64 << 20)
    assert dk.cgroup_file(cid, "pids", "pids.max") == "50"
    assert str(pid) in dk.cgroup_file(cid, "pids", "cgroup.procs").split()
    assert dk.inspect(name, "{{.HostConfig.Memory}} {{.HostConfig.PidsLimit}}") == f"{64 << 20} 50"
    # the pids limit holds: forks fail at 50 tasks (docker rm kills the sleeps)
    r = _exec(dk, name, "sh", "-c", "for i in $(seq 60); do sleep 30 & done")
    assert r.returncode != 0 and "can't fork" in r.stderr, dk.why(name, r)
    assert int(dk.cgroup_file(cid, "pids", "pids.current")) <= 50


def test_exec(dk):
    name, cid, _pid = dk.start(IMG, "sleep", "1000")
    r = _exec(dk, name, "sh", "-c", "echo exec-out; echo exec-err >&2; "
              "cat /proc/1/cmdline; echo; hostname")
    _ok(dk, r, "docker exec")
    assert _lines(r) == ["exec-out", "sleep\x001000\x00", cid[:12]], dk.why(name, r)
    assert r.stderr == "exec-err\n", dk.why(name, r)
    assert dk.inspect(name, "{{.State.Status}}") == "running"


def test_exec_exit_code(dk):
    name, _cid, _pid = dk.start(IMG, "sleep", "1000")
    r = _exec(dk, name, "sh", "-c", "exit 7")
    assert r.returncode == 7, dk.why(name, r)
    r = _exec(dk, name, "/nonexistent")
    assert r.returncode == 126 and "no such file or directory" in r.stdout + r.stderr, (
        "docker exec of a missing program\n" + dk.why(name, r))
    assert dk.inspect(name, "{{.State.Status}}") == "running"


def test_top(dk):
    name, _cid, pid = dk.start(IMG, "sleep", "1000")
    r = dk.docker("top", name)
    _ok(dk, r, "docker top")
    rows = [ln.split() for ln in _lines(r)[1:]]
    assert [(row[1], row[-2:]) for row in rows] == [(str(pid), ["sleep", "1000"])], dk.why(name, r)


def test_pause_unpause(dk):
    name, cid, _pid = dk.start(IMG, "sleep", "1000")
    _ok(dk, dk.docker("pause", name), "docker pause")
    assert dk.inspect(name, "{{.State.Status}} {{.State.Paused}}") == "paused true"
    assert dk.cgroup_file(cid, "freezer", "freezer.state") == "FROZEN"
    r = _exec(dk, name, "true")
    assert r.returncode != 0 and "is paused" in r.stderr, dk.why(name, r)
    _ok(dk, dk.docker("unpause", name), "docker unpause")
    assert dk.inspect(name, "{{.State.Status}} {{.State.Paused}}") == "running false"
    assert dk.cgroup_file(cid, "freezer", "freezer.state") == "THAWED"
    _ok(dk, _exec(dk, name, "true"), "docker exec after unpause")


def test_update(dk):
    name, cid, _pid = dk.start("--memory", "64m", IMG, "sleep", "1000")
    r = dk.docker("update", "--memory", "128m", "--memory-swap", "256m", "--pids-limit", "99",
                  "--cpu-shares", "512", "--cpus", "0.5", name)
    _ok(dk, r, "docker update")
    r = _exec(dk, name, "sh", "-c", "cd /sys/fs/cgroup && cat memory/memory.limit_in_bytes "
              "memory/memory.memsw.limit_in_bytes pids/pids.max cpu/cpu.shares "
              "cpu/cpu.cfs_quota_us cpu/cpu.cfs_period_us")
    _ok(dk, r, "docker exec cat cgroup files")
    assert _lines(r) == [str(128 << 20), str(256 << 20), "99", "512", "50000", "100000"], \
        dk.why(name, r)
    assert dk.inspect(name, "{{.HostConfig.Memory}} {{.HostConfig.MemorySwap}} "
                            "{{.HostConfig.PidsLimit}} {{.HostConfig.NanoCPUs}}") == \
        f"{128 << 20} {256 << 20} 99 500000000"
    # Docker sends every field of its update, zeros for those not given
    # ("cpu": {"shares": 0, "quota": 0, "period": 0}, "blockIO": {"weight": 0}):
    # a zero means "unset" and leaves the cgroup's value alone.
    r = dk.docker("update", "--memory", "96m", name)
    _ok(dk, r, "docker update --memory")
    r = dk.docker("update", "--blkio-weight", "300", name)  # discarded: no blkio.weight here
    _ok(dk, r, "docker update --blkio-weight")
    values = [dk.cgroup_file(cid, c, f) for c, f in (
        ("memory", "memory.limit_in_bytes"), ("memory", "memory.memsw.limit_in_bytes"),
        ("pids", "pids.max"), ("cpu", "cpu.shares"), ("cpu", "cpu.cfs_quota_us"))]
    assert values == [str(96 << 20), str(256 << 20), "99", "512", "50000"], (
        "zeros in docker's update changed the cgroup\n" + dk.why(name, r))


def test_stats(dk):
    name, _cid, _pid = dk.start("--memory", "64m", IMG, "sleep", "1000")
    r = dk.docker("stats", "--no-stream", "--format", "{{json .}}", name)
    _ok(dk, r, "docker stats")
    stats = json.loads(r.stdout)
    assert stats["MemUsage"].endswith("/ 64MiB"), stats
    assert stats["PIDs"] == "1", stats


def test_stop(dk):
    name, _cid, pid = dk.start(IMG, "sh", "-c", TRAP_TERM)
    t0 = time.monotonic()
    _ok(dk, dk.docker("stop", "-t", "10", name), "docker stop")
    assert time.monotonic() - t0 < 8, "SIGTERM did not reach the container's pid 1"
    assert dk.inspect(name, "{{.State.Status}} {{.State.ExitCode}}") == "exited 42"
    assert not ce._pid_alive(pid)
    # pid 1 ignoring SIGTERM: SIGKILL after the timeout
    name, _cid, _pid = dk.start(IMG, "sleep", "1000")
    _ok(dk, dk.docker("stop", "-t", "1", name), "docker stop")
    assert dk.inspect(name, "{{.State.Status}} {{.State.ExitCode}}") == "exited 137"


def test_rm(dk):
    name, cid, pid = dk.start(IMG, "sleep", "1000")
    _ok(dk, dk.docker("rm", "-f", name), "docker rm -f")
    assert dk.inspect(name, "{{.Id}}") is None
    assert not ce._pid_alive(pid), f"init {pid} alive after docker rm -f"
    gone = ce.poll(lambda: not [x for x in dk.env.leftovers() if cid in x], 5)
    assert gone, f"left after docker rm -f: {[x for x in dk.env.leftovers() if cid in x]}"


def test_run_it(dk):
    name = dk.name()
    r = dk.env.docker_pty(*dk.run_args("--rm", "-it", IMG, "sh", name=name),
                          send=TYPED.format(status=4), timeout=TIMEOUT)
    dk._remember(name)
    assert r.returncode == 4, "docker run -it: expected the typed exit 4\n" + dk.why(name, r)
    assert any(ce.PTS_RE.fullmatch(ln.strip()) for ln in r.lines), (
        "`tty` did not print /dev/pts/N\n" + dk.why(name, r))
    assert MARKER in r.lines, "typed command's output missing\n" + dk.why(name, r)


def test_read_only_cap_drop_user(dk):
    r = dk.run("--rm", "--read-only", "--cap-drop", "ALL", "--user", "1000:1000", IMG,
               "sh", "-c", "id -u; id -g; grep CapEff /proc/self/status; "
                           "touch /x 2>&1; echo touch=$?")
    _ok(dk, r, "docker run")
    assert _lines(r) == ["1000", "1000", "CapEff:\t0000000000000000",
                         "touch: /x: Read-only file system", "touch=1"], dk.why(r.name, r)


def test_no_new_privileges(dk):
    r = dk.run("--rm", "--security-opt", "no-new-privileges", IMG,
               "grep", "NoNewPrivs", "/proc/self/status")
    _ok(dk, r, "docker run")
    assert r.stdout == "NoNewPrivs:\t1\n", dk.why(r.name, r)
    r = dk.run("--rm", IMG, "grep", "NoNewPrivs", "/proc/self/status")
    assert r.stdout == "NoNewPrivs:\t0\n", dk.why(r.name, r)


def test_read_only_volume(dk, tmp_path):
    vol = tmp_path / "vol"
    vol.mkdir()
    (vol / "f").write_text("volume-file\n")
    r = dk.run("--rm", "-v", f"{vol}:/data:ro", IMG, "sh", "-c",
               "cat /data/f; touch /data/new 2>&1; echo touch=$?; grep ' /data ' /proc/mounts")
    _ok(dk, r, "docker run -v :ro")
    lines = _lines(r)
    assert lines[:3] == ["volume-file", "touch: /data/new: Read-only file system", "touch=1"], \
        dk.why(r.name, r)
    assert lines[3].split()[3].split(",")[0] == "ro", dk.why(r.name, r)
    assert sorted(os.listdir(vol)) == ["f"]


# --------------------------------------------------------------------------
# exit codes, logs and the container lifecycle

EXIT_CASES = {
    "zero": ([IMG, "true"], 0, None),
    "three": ([IMG, "sh", "-c", "exit 3"], 3, None),
    # docker maps the runtime's error text: "no such file or directory" and
    # "executable file not found" -> 127, "permission denied" -> 126, else 125
    "missing-path": ([IMG, "/nonexistent"], 127, "/nonexistent"),
    "not-in-path": ([IMG, "nosuchcmd"], 127, "nosuchcmd"),
    "not-executable": ([IMG, "/etc/passwd"], 126, "/etc/passwd"),
    "directory": ([IMG, "/bin"], 126, "/bin"),
    # a hard limit above the host's 20000: setrlimit EPERM in the runtime
    "rlimit-refused": (["--ulimit", "nofile=30000:30000", IMG, "true"], 125, None),
}


@pytest.mark.parametrize("case", EXIT_CASES)
def test_run_rm_exit_code(dk, case):
    args, status, named = EXIT_CASES[case]
    r = dk.run("--rm", *args)
    assert r.returncode == status, f"expected exit status {status}\n" + dk.why(r.name, r)
    if status >= 125:
        assert "OCI runtime create failed" in r.stderr, dk.why(r.name, r)
        assert named is None or named in r.stderr, dk.why(r.name, r)
    assert dk.inspect(r.name, "{{.Id}}") is None, f"{r.name} still exists after run --rm"


def test_logs(dk):
    name = dk.name()
    r = dk.run("-d", IMG, "sh", "-c", "echo out1; echo err1 >&2; echo out2", name=name)
    _ok(dk, r, "docker run -d")
    w = dk.docker("wait", name)
    assert w.stdout.strip() == "0", dk.why(name, r, w)
    logs = dk.docker("logs", name)
    assert (logs.stdout, logs.stderr) == ("out1\nout2\n", "err1\n"), dk.why(name, logs)


def test_restart(dk):
    name, _cid, pid = dk.start(IMG, "sh", "-c", "echo started; " + TRAP_TERM)
    started = dk.inspect(name, "{{.State.StartedAt}}")
    _ok(dk, dk.docker("restart", "-t", "10", name), "docker restart")
    assert dk.inspect(name, "{{.State.Status}}") == "running"
    pid2 = int(dk.inspect(name, "{{.State.Pid}}") or 0)
    assert pid2 not in (0, pid) and ce._pid_alive(pid2) and not ce._pid_alive(pid)
    assert dk.inspect(name, "{{.State.StartedAt}}") != started
    logs = ce.poll(lambda: dk.docker("logs", name).stdout == "started\nstarted\n", 5)
    assert logs, dk.why(name, dk.docker("logs", name))


def test_kill_signal(dk):
    name, _cid, pid = dk.start(IMG, "sh", "-c",
                               'trap "echo got-usr1" USR1; while :; do sleep 0.1; done')
    usr1 = 1 << (10 - 1)  # SIGUSR1 in the caught-signals mask: the trap is set
    assert ce.poll(lambda: ce.sigcgt(pid) & usr1, 5, 0.02), "sh never set its trap"
    _ok(dk, dk.docker("kill", "-s", "USR1", name), "docker kill -s USR1")
    got = ce.poll(lambda: "got-usr1" in dk.docker("logs", name).stdout, 5)
    assert got, "the trap did not run\n" + dk.why(name)
    assert dk.inspect(name, "{{.State.Status}}") == "running"
    _ok(dk, dk.docker("kill", "-s", "KILL", name), "docker kill -s KILL")
    w = dk.docker("wait", name)
    assert w.stdout.strip() == "137", dk.why(name, w)


def test_wait(dk):
    name = dk.name()
    r = dk.run("-d", IMG, "sh", "-c", "sleep 0.5; exit 5", name=name)
    _ok(dk, r, "docker run -d")
    w = dk.docker("wait", name)
    assert (w.returncode, w.stdout) == (0, "5\n"), dk.why(name, r, w)
    assert dk.inspect(name, "{{.State.Status}} {{.State.ExitCode}}") == "exited 5"


# --------------------------------------------------------------------------
# namespaces and mounts

def test_init(dk):
    r = dk.run("--rm", "--init", IMG, "sh", "-c", 'cat /proc/1/cmdline; echo; echo $$; exit 6')
    assert r.returncode == 6, dk.why(r.name, r)
    lines = _lines(r)
    assert lines[0].split("\0")[:2] == ["/sbin/docker-init", "--"], dk.why(r.name, r)
    assert lines[1] != "1", "sh is pid 1 despite --init\n" + dk.why(r.name, r)


def test_pid_host(dk):
    r = dk.run("--rm", "--pid", "host", IMG, "sh", "-c",
               "readlink /proc/self/ns/pid; cat /proc/1/cmdline")
    _ok(dk, r, "docker run --pid host")
    with open("/proc/1/cmdline") as f:
        host_init = f.read()
    assert _lines(r) == [os.readlink("/proc/self/ns/pid"), host_init.rstrip("\n")], \
        dk.why(r.name, r)


def test_ipc_shareable_container(dk):
    name, _cid, pid = dk.start("--ipc", "shareable", IMG, "sh", "-c",
                               "echo shared > /dev/shm/x; sleep 1000")
    ipc = os.readlink(f"/proc/{pid}/ns/ipc")
    r = dk.run("--rm", "--ipc", f"container:{name}", IMG, "sh", "-c",
               "readlink /proc/self/ns/ipc; cat /dev/shm/x")
    _ok(dk, r, "docker run --ipc container:")
    assert _lines(r) == [ipc, "shared"], dk.why(r.name, r)
    r = dk.run("--rm", IMG, "readlink", "/proc/self/ns/ipc")
    _ok(dk, r, "docker run")
    assert r.stdout.strip() not in (ipc, os.readlink("/proc/self/ns/ipc")), dk.why(r.name, r)


def test_tmpfs(dk):
    r = dk.run("--rm", "--read-only", "--tmpfs", "/scratch:rw,size=1m,mode=1777", IMG, "sh", "-c",
               "grep ' /scratch ' /proc/mounts; stat -c %a /scratch; "
               "echo hi > /scratch/f && cat /scratch/f")
    _ok(dk, r, "docker run --tmpfs")
    lines = _lines(r)
    fields = lines[0].split()
    assert fields[2] == "tmpfs" and "size=1024k" in fields[3].split(","), dk.why(r.name, r)
    assert lines[1:] == ["1777", "hi"], dk.why(r.name, r)


def test_device(dk):
    r = dk.run("--rm", "--device", "/dev/null:/dev/mynull", "--device", "/dev/loop0:/dev/myloop:r",
               IMG, "sh", "-c",
               "stat -c '%F %t:%T' /dev/mynull /dev/myloop; echo x > /dev/mynull; echo null=$?; "
               "dd if=/dev/myloop of=/dev/null count=0 2>/dev/null; echo read=$?; "
               "dd if=/dev/zero of=/dev/myloop count=0 2>&1; echo write=$?")
    _ok(dk, r, "docker run --device")
    assert _lines(r) == ["character special file 1:3", "block special file 7:0", "null=0",
                         "read=0", "dd: can't open '/dev/myloop': Operation not permitted",
                         "write=1"], dk.why(r.name, r)


# --------------------------------------------------------------------------
# resources

def test_ulimit(dk):
    r = dk.run("--rm", "--ulimit", "nofile=1024:2048", "--ulimit", "nproc=500:600", IMG,
               "sh", "-c", "ulimit -n; ulimit -Hn; ulimit -u; ulimit -Hu")
    _ok(dk, r, "docker run --ulimit")
    assert _lines(r) == ["1024", "2048", "500", "600"], dk.why(r.name, r)


def test_cpus(dk):
    r = dk.run("--rm", "--cpus", "0.5", IMG, "cat", "/sys/fs/cgroup/cpu/cpu.cfs_quota_us",
               "/sys/fs/cgroup/cpu/cpu.cfs_period_us")
    _ok(dk, r, "docker run --cpus")
    assert _lines(r) == ["50000", "100000"], dk.why(r.name, r)


def test_cpuset_cpus(dk):
    r = dk.run("--rm", "--cpuset-cpus", "0", IMG, "sh", "-c",
               "cat /sys/fs/cgroup/cpuset/cpuset.cpus; grep Cpus_allowed_list /proc/self/status")
    _ok(dk, r, "docker run --cpuset-cpus")
    assert _lines(r) == ["0", "Cpus_allowed_list:\t0"], dk.why(r.name, r)


def test_memory_swap(dk):
    memsw = "/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes"
    r = dk.run("--rm", "--memory", "64m", "--memory-swap", "128m", IMG, "cat",
               "/sys/fs/cgroup/memory/memory.limit_in_bytes", memsw)
    _ok(dk, r, "docker run --memory-swap")
    assert _lines(r) == [str(64 << 20), str(128 << 20)], dk.why(r.name, r)
    r = dk.run("--rm", "--memory", "64m", "--memory-swap", "-1", IMG, "cat", memsw)
    _ok(dk, r, "docker run --memory-swap -1")
    assert int(r.stdout) > 1 << 60, "unlimited swap expected\n" + dk.why(r.name, r)


def test_oom_kill_disable(dk):
    r = dk.run("--rm", "--memory", "64m", "--oom-kill-disable", IMG,
               "grep", "oom_kill_disable", "/sys/fs/cgroup/memory/memory.oom_control")
    _ok(dk, r, "docker run --oom-kill-disable")
    assert r.stdout == "oom_kill_disable 1\n", dk.why(r.name, r)


def test_sysctl(dk):
    with open("/proc/sys/net/ipv4/ip_forward") as f:
        host_forward = f.read()
    r = dk.run("--rm", "--sysctl", "kernel.shm_rmid_forced=1",
               "--sysctl", "net.ipv4.ip_forward=1", IMG, "cat",
               "/proc/sys/kernel/shm_rmid_forced", "/proc/sys/net/ipv4/ip_forward",
               "/proc/sys/net/ipv4/ping_group_range")
    _ok(dk, r, "docker run --sysctl")
    # docker's own defaults come too: ping_group_range "0 2147483647"
    assert _lines(r) == ["1", "1", "0\t2147483647"], dk.why(r.name, r)
    with open("/proc/sys/net/ipv4/ip_forward") as f:
        assert f.read() == host_forward, "the container's sysctl changed the host's"


# --------------------------------------------------------------------------
# security

def test_cap_add(dk):
    r = dk.run("--rm", "--cap-drop", "ALL", "--cap-add", "NET_RAW", "--cap-add", "CHOWN", IMG,
               "grep", "^Cap", "/proc/self/status")
    _ok(dk, r, "docker run --cap-add")
    caps = dict(ln.split(":\t") for ln in _lines(r))
    want = f"{(1 << 0) | (1 << 13):016x}"  # CAP_CHOWN, CAP_NET_RAW
    assert (caps["CapEff"], caps["CapPrm"], caps["CapBnd"]) == (want,) * 3, dk.why(r.name, r)
    r = dk.run("--rm", "--cap-add", "SYS_ADMIN", IMG, "grep", "CapEff", "/proc/self/status")
    _ok(dk, r, "docker run --cap-add SYS_ADMIN")
    assert int(r.stdout.split()[1], 16) == 0xa80425fb | (1 << 21), dk.why(r.name, r)


def test_seccomp_profile(dk, tmp_path):
    profile = tmp_path / "profile.json"
    profile.write_text(json.dumps({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]}))
    r = dk.run("--rm", "--security-opt", f"seccomp={profile}", IMG, "sh", "-c",
               "grep Seccomp: /proc/self/status; mkdir /tmp/d 2>&1; echo mkdir=$?; "
               "unshare -U true; echo unshare=$?")
    _ok(dk, r, "docker run --security-opt seccomp=")
    assert _lines(r) == ["Seccomp:\t2",
                         "mkdir: can't create directory '/tmp/d': Operation not permitted",
                         "mkdir=1", "unshare=0"], dk.why(r.name, r)


def test_seccomp_default_profile(dk):
    """Docker's default profile is always sent: without CAP_SYS_ADMIN it
    refuses unshare (a new user namespace would otherwise be allowed)."""
    r = dk.run("--rm", IMG, "sh", "-c",
               "grep Seccomp: /proc/self/status; unshare -U true 2>&1; echo unshare=$?")
    _ok(dk, r, "docker run")
    assert _lines(r) == ["Seccomp:\t2", "unshare: unshare(0x10000000): Operation not permitted",
                         "unshare=1"], dk.why(r.name, r)
    r = dk.run("--rm", "--security-opt", "seccomp=unconfined", IMG, "sh", "-c",
               "grep Seccomp: /proc/self/status; unshare -U true; echo unshare=$?")
    _ok(dk, r, "docker run --security-opt seccomp=unconfined")
    assert _lines(r) == ["Seccomp:\t0", "unshare=0"], dk.why(r.name, r)


# --------------------------------------------------------------------------
# user namespaces (a daemon with --userns-remap; docker 20.10's --userns
# takes only "host", which opts a container out of the remapping)

def test_userns_remap(dk_userns):
    dk = dk_userns
    r = dk.run("--rm", IMG, "sh", "-c",
               "cat /proc/self/uid_map /proc/self/gid_map; id -u; touch /x && echo written")
    _ok(dk, r, "docker run (userns-remap daemon)")
    mapping = f"0 {de.REMAP_START} {de.REMAP_SIZE}"
    assert [" ".join(ln.split()) for ln in _lines(r)] == [mapping, mapping, "0", "written"], \
        dk.why(r.name, r)
    name, _cid, pid = dk.start(IMG, "sleep", "1000")
    assert _host_ids(pid) == (de.REMAP_START, de.REMAP_START), "the init is not remapped"
    r = _exec(dk, name, "id", "-u")
    assert r.stdout == "0\n", dk.why(name, r)


def _host_ids(pid: int) -> tuple[int, int]:
    with open(f"/proc/{pid}/status") as f:
        fields = dict(line.split(":", 1) for line in f)
    return int(fields["Uid"].split()[0]), int(fields["Gid"].split()[0])


def test_userns_host(dk_userns):
    dk = dk_userns
    r = dk.run("--rm", "--userns", "host", IMG, "sh", "-c",
               "cat /proc/self/uid_map; touch /x && echo written")
    _ok(dk, r, "docker run --userns host")
    assert [" ".join(ln.split()) for ln in _lines(r)] == ["0 0 4294967295", "written"], \
        dk.why(r.name, r)


# --------------------------------------------------------------------------
# many at once

def test_parallel_20(dk):
    names = [dk.name() for _ in range(20)]
    results: dict[str, ce.Result] = {}

    def one(i: int, name: str):
        results[name] = dk.run("--rm", IMG, "sh", "-c", f"echo container-{i}", name=name,
                               timeout=120)

    threads = [threading.Thread(target=one, args=(i, n)) for i, n in enumerate(names)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    bad = {n: r for n, r in results.items()
           if r.returncode != 0 or r.stdout != f"container-{names.index(n)}\n"}
    assert len(results) == 20 and not bad, (
        f"{len(bad)} of 20 parallel docker run --rm failed\n"
        + "\n".join(dk.why(n, r) for n, r in list(bad.items())[:3]))
