"""containerd as a real client of the runtime under test.

A private containerd (own root/state/sockets under a temp dir, CRI disabled,
native snapshotter) is started for this module; a busybox image built here
from Debian's busybox-static is imported as a docker-archive; then `ctr run`
drives containers through containerd-shim-runc-v2 with
``--runc-binary $PYRUNC_TEST_RUNTIME --runc-root <tmp>/runc-root``.

Besides run/kill/delete: terminals and exec (issue #5) - ``ctr run -t`` and
``ctr task exec -t`` on a pty made here (an interactive busybox sh is typed
into; ``tty`` must name /dev/pts/N and the exit status come back), ``ctr task
exec`` output and exit status, ``ctr task ps`` listing the init and an exec'd
process, and exec into a stopped task failing.

The runtime defaults to /usr/local/bin/pyrunc.  If it does not exist the tests
FAIL (they never skip for that); set PYRUNC_TEST_RUNTIME=/usr/sbin/runc to
check the test itself against runc.  They skip (loudly) only when not root or
when containerd/ctr/containerd-shim-runc-v2/busybox-static are not installed.

Needs root.  Everything created is removed afterwards (see
containerd_env.ContainerdEnv.teardown); PYRUNC_TEST_KEEP_TMP=1 keeps the temp
dir (containerd log, config) for inspection; PYRUNC_TEST_CTD_TIMEOUT changes
the 60 s bound on each `ctr run`.
"""

from __future__ import annotations

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import containerd_env as ce  # noqa: E402

RUNTIME_ENV = ce.RUNTIME_ENV
DEFAULT_RUNTIME = ce.DEFAULT_RUNTIME
RUN_TIMEOUT = float(os.environ.get("PYRUNC_TEST_CTD_TIMEOUT", "60"))

_missing = ce.missing_tools()
pytestmark = [
    pytest.mark.skipif(
        os.geteuid() != 0,
        reason="!!! containerd integration test NOT RUN: it needs root !!!"),
    pytest.mark.skipif(
        bool(_missing),
        reason="!!! containerd integration test NOT RUN: missing "
               + ", ".join(_missing)
               + " (the project's setup script installs the Debian packages "
                 "`containerd` and `busybox-static`) !!!"),
]


runtime_path = ce.runtime_path


@pytest.fixture(scope="module")
def ctd():
    path, problem = runtime_path()
    if problem:
        yield None  # each test fails with the problem; no containerd needed
        return
    env = ce.ContainerdEnv(runtime=path)
    try:
        try:
            env.start()
            env.import_image()
        except RuntimeError as e:
            pytest.fail(f"cannot set up containerd: {e}", pytrace=False)
        yield env
    finally:
        env.teardown()


def _env(ctd) -> ce.ContainerdEnv:
    _path, problem = runtime_path()
    if problem:
        pytest.fail(problem, pytrace=False)
    assert ctd is not None
    return ctd


def _why(env: ce.ContainerdEnv, cid: str, *results: ce.Result) -> str:
    return "\n".join([r.describe() for r in results] + [env.diagnostics(cid)])


_poll = ce.poll


def test_run_rm_echo(ctd):
    env = _env(ctd)
    cid = "ctd-echo"
    env.remember(cid)
    r = env.ctr(*env.run_args("--rm"), ce.IMAGE_REF, cid, "echo", "hello",
                timeout=RUN_TIMEOUT)
    assert r.returncode == 0, "ctr run --rm echo hello failed\n" + _why(env, cid, r)
    assert r.stdout.splitlines() == ["hello"], "unexpected output\n" + _why(env, cid, r)
    assert not os.path.exists(env.runtime_state_dir(cid)), (
        f"runtime state {env.runtime_state_dir(cid)} left after `ctr run --rm`\n"
        + _why(env, cid, r))


def test_detached_lifecycle(ctd):
    env = _env(ctd)
    cid = "ctd-detached"
    env.remember(cid)
    r = env.ctr(*env.run_args("-d"), ce.IMAGE_REF, cid, "sleep", "1000",
                timeout=RUN_TIMEOUT)
    assert r.returncode == 0, "ctr run -d failed\n" + _why(env, cid, r)

    ls = env.ctr("tasks", "ls", timeout=30)
    tasks = env.tasks()
    assert tasks.get(cid, (0, ""))[1] == "RUNNING", (
        f"task {cid} not RUNNING: {tasks}\n" + _why(env, cid, r, ls))
    pid = tasks[cid][0]

    # containerd really used the runtime under test (ctr --no-pivot, for one,
    # silently drops --runc-binary)
    with open(os.path.join(env.bundle(cid), "options.json")) as f:
        opts = f.read()
    assert f'"binary_name":"{env.runtime}"' in opts.replace(" ", ""), (
        f"bundle options.json does not name the runtime under test: {opts}")

    assert os.path.isdir(env.runtime_state_dir(cid)), (
        f"no runtime state dir {env.runtime_state_dir(cid)} while running; "
        f"runc-root holds {sorted(os.listdir(env.runc_root))}\n" + _why(env, cid, r))

    cgroup_dirs = ce.cgroup_dirs_of(pid)
    expected_path = f"/{env.namespace}/{cid}"
    ours = [d for d in cgroup_dirs if d.endswith(expected_path)]
    assert ours, (f"container pid {pid} is not in cgroup {expected_path}: "
                  f"{cgroup_dirs}\n" + _why(env, cid, r))

    k = env.ctr("tasks", "kill", "--signal", "SIGKILL", cid, timeout=30)
    assert k.returncode == 0, "ctr task kill failed\n" + _why(env, cid, k)
    stopped = _poll(lambda: env.tasks().get(cid, (0, ""))[1] == "STOPPED", timeout=30)
    assert stopped, (f"task {cid} not STOPPED 30 s after SIGKILL: {env.tasks()}\n"
                     + _why(env, cid, k))

    d = env.ctr("tasks", "delete", cid, timeout=30)
    assert d.returncode == 0, "ctr task delete failed\n" + _why(env, cid, d)
    c = env.ctr("containers", "delete", cid, timeout=30)
    assert c.returncode == 0, "ctr container delete failed\n" + _why(env, cid, c)

    assert cid not in env.tasks(), f"task {cid} still listed after delete"
    assert not os.path.exists(env.runtime_state_dir(cid)), (
        f"runtime state {env.runtime_state_dir(cid)} left after task delete\n"
        + _why(env, cid, d))
    leftovers = [os.path.join(dp, n) for dp, dns, fns in os.walk(env.runc_root)
                 for n in dns + fns if n == cid]
    assert not leftovers, f"runtime root still holds {leftovers}"
    assert not ce._pid_alive(pid), f"container process {pid} still alive after delete"
    left = [d for d in cgroup_dirs if os.path.exists(d)]
    assert not left, f"cgroup dirs left after task delete: {left}\n" + _why(env, cid, d)
    mounted = ce.mounts_under(env.bundle(cid))
    assert not mounted, f"mounts left under the bundle after delete: {mounted}"


def test_exit_status_propagates(ctd):
    env = _env(ctd)
    cid = "ctd-exit3"
    env.remember(cid)
    r = env.ctr(*env.run_args("--rm"), ce.IMAGE_REF, cid, "sh", "-c", "exit 3",
                timeout=RUN_TIMEOUT)
    assert r.returncode == 3, "expected exit status 3\n" + _why(env, cid, r)


# --------------------------------------------------------------------------
# terminals and exec (issue #5)

PTY_TIMEOUT = 30.0
EXEC_TIMEOUT = min(RUN_TIMEOUT, 30.0)
# Typed into the interactive sh: `tty` names the terminal, the marker is
# computed so that only its execution (not the echo of the typed line) prints it.
TYPED = "tty; echo marker-$((6*7)); exit {status}\n"
MARKER = "marker-42"


@pytest.fixture
def task(request, ctd):
    """Start `sleep 1000` as a detached task (id from the test's name); the
    task and container go afterwards, even if the test fails."""
    made = []

    def start(cmd=("sleep", "1000"), cid=None):
        env = _env(ctd)
        cid = cid or "ctd-" + request.node.name.removeprefix("test_").replace("_", "-")
        env.remember(cid)
        made.append(cid)
        r = env.ctr(*env.run_args("-d"), ce.IMAGE_REF, cid, *cmd, timeout=RUN_TIMEOUT)
        assert r.returncode == 0, "ctr run -d failed\n" + _why(env, cid, r)
        return cid

    yield start
    if ctd is not None:
        for cid in made:
            ctd.remove(cid)


def _running_pid(env: ce.ContainerdEnv, cid: str) -> int:
    t = _poll(lambda: env.tasks().get(cid, (0, ""))[1] == "RUNNING" and env.tasks()[cid],
              timeout=10)
    assert t, f"task {cid} not RUNNING: {env.tasks()}\n" + _why(env, cid)
    return t[0]


def _tty_checks(env, cid, r: ce.PtyResult, status: int, what: str):
    assert r.returncode == status, (
        f"{what}: expected exit status {status} (typed `exit {status}`)\n" + _why(env, cid, r))
    ttys = [ln for ln in r.lines if ce.PTS_RE.fullmatch(ln.strip())]
    assert ttys, (f"{what}: `tty` did not print /dev/pts/N (not a terminal in the "
                  f"container?)\n" + _why(env, cid, r))
    assert MARKER in r.lines, (f"{what}: the typed command's output {MARKER!r} did not "
                               f"come back through the terminal\n" + _why(env, cid, r))


def test_run_tty(ctd):
    """ctr run -t: the runtime hands the shim a pty master over --console-socket."""
    env = _env(ctd)
    cid = "ctd-run-tty"
    env.remember(cid)
    r = env.ctr_pty(*env.run_args("--rm", "-t"), ce.IMAGE_REF, cid, "sh",
                    send=TYPED.format(status=3), timeout=PTY_TIMEOUT)
    _tty_checks(env, cid, r, 3, "ctr run -t")
    assert not os.path.exists(env.runtime_state_dir(cid)), (
        f"runtime state {env.runtime_state_dir(cid)} left after `ctr run --rm -t`\n"
        + _why(env, cid, r))


def test_exec_output(ctd, task):
    env = _env(ctd)
    cid = task()
    init_pid = _running_pid(env, cid)
    r = env.ctr(*env.exec_args("e-out"), cid, "sh", "-c",
                "echo exec-out; echo exec-err >&2; cat /proc/1/cmdline; echo; cat /etc/hostname",
                timeout=EXEC_TIMEOUT)
    assert r.returncode == 0, "ctr task exec failed\n" + _why(env, cid, r)
    lines = r.stdout.splitlines()
    assert lines[:1] == ["exec-out"], "exec output missing\n" + _why(env, cid, r)
    # the exec'd process is in the container's pid and mount namespaces
    assert lines[1:2] == ["sleep\x001000\x00"], (
        "exec'd process does not see the container's pid 1 (`sleep 1000`)\n" + _why(env, cid, r))
    assert lines[2:3] == ["pyrunc-test"], (
        "exec'd process does not see the image's /etc/hostname\n" + _why(env, cid, r))
    assert "exec-err" in r.stderr, "exec stderr missing\n" + _why(env, cid, r)
    assert env.tasks().get(cid) == (init_pid, "RUNNING"), (
        f"task changed after exec: {env.tasks()}\n" + _why(env, cid, r))


def test_exec_exit_status(ctd, task):
    env = _env(ctd)
    cid = task()
    _running_pid(env, cid)
    r = env.ctr(*env.exec_args("e-exit"), cid, "sh", "-c", "exit 7", timeout=EXEC_TIMEOUT)
    assert r.returncode == 7, "expected ctr task exec's exit status 7\n" + _why(env, cid, r)


def test_exec_tty(ctd, task):
    env = _env(ctd)
    cid = task()
    _running_pid(env, cid)
    r = env.ctr_pty(*env.exec_args("e-tty", "-t"), cid, "sh",
                    send=TYPED.format(status=6), timeout=PTY_TIMEOUT)
    _tty_checks(env, cid, r, 6, "ctr task exec -t")
    assert env.tasks().get(cid, (0, ""))[1] == "RUNNING", (
        f"task not RUNNING after exec -t: {env.tasks()}\n" + _why(env, cid, r))


def test_task_ps_lists_exec(ctd, task):
    """ctr task ps: the init (from the runtime's `ps`) and an exec'd process
    (ExecID), the latter in the container's namespaces and cgroups."""
    env = _env(ctd)
    cid = task()
    init_pid = _running_pid(env, cid)
    e = env.ctr(*env.exec_args("e-ps", "-d"), cid, "sleep", "999", timeout=EXEC_TIMEOUT)
    assert e.returncode == 0, "ctr task exec -d failed\n" + _why(env, cid, e)

    def listed():
        r = env.ctr("tasks", "ps", cid, timeout=30)
        rows = {}
        for line in r.stdout.splitlines()[1:]:
            parts = line.split(None, 1)
            if parts and parts[0].isdigit():
                rows[int(parts[0])] = parts[1] if len(parts) > 1 else ""
        return r, rows

    def two():
        _r, rows = listed()
        return len(rows) >= 2 and rows

    _poll(two, timeout=10)
    r, rows = listed()
    assert r.returncode == 0, "ctr task ps failed\n" + _why(env, cid, r)
    assert init_pid in rows, f"init pid {init_pid} not listed\n" + _why(env, cid, e, r)
    execs = [p for p, info in rows.items() if "ExecID:e-ps" in info]
    assert len(execs) == 1, f"exec e-ps not listed once: {rows}\n" + _why(env, cid, e, r)
    exec_pid = execs[0]
    assert set(rows) == {init_pid, exec_pid}, (
        f"unexpected processes listed: {rows}\n" + _why(env, cid, e, r))
    with open(f"/proc/{exec_pid}/cmdline", "rb") as f:
        assert f.read() == b"sleep\x00999\x00", f"pid {exec_pid} is not the exec'd `sleep 999`"
    for ns in ("pid", "mnt", "uts", "ipc", "net"):
        ours, init = (os.readlink(f"/proc/{p}/ns/{ns}") for p in (exec_pid, init_pid))
        assert ours == init, f"exec'd process not in the container's {ns} namespace"
    with open(f"/proc/{exec_pid}/cgroup") as a, open(f"/proc/{init_pid}/cgroup") as b:
        assert a.read() == b.read(), "exec'd process not in the container's cgroups"


def test_exec_into_stopped_task_fails(ctd, task):
    env = _env(ctd)
    cid = task(cmd=("true",))
    stopped = _poll(lambda: env.tasks().get(cid, (0, ""))[1] == "STOPPED", timeout=10)
    assert stopped, f"task {cid} running `true` not STOPPED: {env.tasks()}\n" + _why(env, cid)
    r = env.ctr(*env.exec_args("e-late"), cid, "echo", "should-not-run", timeout=EXEC_TIMEOUT)
    assert r.returncode not in (0, None), (
        "exec into a stopped task succeeded (or hung)\n" + _why(env, cid, r))
    assert "should-not-run" not in r.stdout, "exec'd command ran\n" + _why(env, cid, r)
    assert "stopped" in r.stderr, "error does not say the task is stopped\n" + _why(env, cid, r)
    d = env.ctr("tasks", "delete", cid, timeout=30)
    assert d.returncode == 0, (
        "stopped task cannot be deleted after the failed exec\n" + _why(env, cid, d))
