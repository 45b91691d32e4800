"""Podman 4.3 as a real client of the runtime under test (through conmon).

A private Podman setup (own --root/--runroot/--tmpdir, containers.conf and
storage.conf under a temp dir, overlay storage, file locks) is made for this
module and the busybox image built by containerd_env is loaded into it from
its docker-archive (``podman pull docker-archive:``); every container gets
``--network none`` and a test-specific ``--cgroup-parent``.  Each command
passes ``--runtime $PYRUNC_TEST_RUNTIME``.

The runtime defaults to /usr/local/bin/pyrunc.  If it does not exist the tests
FAIL (they never skip for that); set PYRUNC_TEST_RUNTIME=/usr/sbin/runc to
check the tests themselves against runc.  They skip (loudly) only when not
root or when podman/conmon/busybox-static are not installed.

Terminals are real: ``run -it`` and ``exec -it`` run podman on a pty made
here, type into an interactive busybox sh and read its answer.  Everything
is removed afterwards (podman_env.PodmanEnv.teardown); PYRUNC_TEST_KEEP_TMP=1
keeps the temp dir.
"""

from __future__ import annotations

import os
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import containerd_env as ce  # noqa: E402
import podman_env as pe  # noqa: E402

CMD_TIMEOUT = 30.0
PTY_TIMEOUT = 30.0

_missing = pe.missing_tools()
pytestmark = [
    pytest.mark.skipif(
        os.geteuid() != 0,
        reason="!!! podman integration test NOT RUN: it needs root !!!"),
    pytest.mark.skipif(
        bool(_missing),
        reason="!!! podman integration test NOT RUN: missing " + ", ".join(_missing)
               + " (Debian packages `podman`, `conmon`, `busybox-static`) !!!"),
]

# Typed into the interactive sh: `tty` names the terminal, the marker is
# computed so that only its execution (not the echo of the typed line) prints it.
TYPED = "tty; echo marker-$((6*7)); exit {status}\n"
MARKER = "marker-42"


@pytest.fixture(scope="module")
def pm():
    path, problem = ce.runtime_path()
    if problem:
        yield None  # each test fails with the problem; no podman set-up needed
        return
    env = pe.PodmanEnv(runtime=path)
    try:
        try:
            env.start()
        except RuntimeError as e:
            pytest.fail(f"cannot set up podman: {e}", pytrace=False)
        yield env
    finally:
        env.teardown()


def _env(pm) -> pe.PodmanEnv:
    _path, problem = ce.runtime_path()
    if problem:
        pytest.fail(problem, pytrace=False)
    assert pm is not None
    return pm


@pytest.fixture
def name(request, pm):
    """A container name for this test; the container goes even if the test fails."""
    n = "pm-" + request.node.name.removeprefix("test_").replace("_", "-")[:40]
    yield n
    if pm is not None:
        pm.podman("rm", "-f", "-t", "0", n, timeout=60)


def _why(env: pe.PodmanEnv, name: str | None, *results) -> str:
    return "\n".join([r.describe() for r in results] + [env.diagnostics(name)])


def _poll(fn, timeout: float):
    return ce.poll(fn, timeout, interval=0.05)


def _start_detached(env: pe.PodmanEnv, name: str, *cmd: str) -> int:
    """`podman run -d` a container; return its init's host pid once running."""
    r = env.podman(*env.run_args("-d", "--name", name), pe.IMAGE_REF, *cmd,
                   timeout=CMD_TIMEOUT)
    assert r.returncode == 0, "podman run -d failed\n" + _why(env, name, r)
    env.remember(name)
    running = _poll(lambda: env.inspect(name, "{{.State.Status}}") == "running", timeout=10)
    assert running, (f"container not running: {env.inspect(name, '{{.State.Status}}')}\n"
                     + _why(env, name, r))
    pid = int(env.inspect(name, "{{.State.Pid}}") or 0)
    assert pid > 0 and ce._pid_alive(pid), (
        f"no live init pid for a running container: {pid}\n" + _why(env, name, r))
    # podman really used the runtime under test: conmon runs it, and its
    # state is in the runtime's (default) root
    cid = env.inspect(name, "{{.Id}}")
    argvs = env.conmon_argvs(cid)
    assert argvs and all(a[a.index("-r") + 1] == env.runtime for a in argvs if "-r" in a) \
        and all("-r" in a for a in argvs), (
            f"conmon of {name} does not run {env.runtime}: {argvs}")
    assert env.runtime_state_dirs(cid), (
        f"no runtime state for {cid} in {pe.RUNTIME_DEFAULT_ROOTS}\n" + _why(env, name, r))
    return pid


def _tty_checks(env, name, r: ce.PtyResult, status: int, what: str):
    assert r.returncode == status, (
        f"{what}: expected exit status {status} (typed `exit {status}`)\n" + _why(env, name, r))
    ttys = [ln for ln in r.lines if ce.PTS_RE.fullmatch(ln.strip())]
    assert ttys, (f"{what}: `tty` did not print /dev/pts/N (not a terminal in the "
                  f"container?)\n" + _why(env, name, r))
    assert MARKER in r.lines, (f"{what}: the typed command's output {MARKER!r} did not "
                               f"come back through the terminal\n" + _why(env, name, r))


# --------------------------------------------------------------------------
# run

def test_run_echo(pm, name):
    env = _env(pm)
    r = env.podman(*env.run_args("--rm", "--name", name), pe.IMAGE_REF, "echo", "hi",
                   timeout=CMD_TIMEOUT)
    assert r.returncode == 0, "podman run --rm echo hi failed\n" + _why(env, name, r)
    assert r.stdout == "hi\n", "unexpected output\n" + _why(env, name, r)
    ps = env.podman("ps", "-a", "--format", "{{.Names}}", timeout=CMD_TIMEOUT)
    assert name not in ps.stdout.split(), f"{name} still listed after run --rm\n{ps.describe()}"


def test_run_exit_status(pm, name):
    env = _env(pm)
    r = env.podman(*env.run_args("--rm", "--name", name), pe.IMAGE_REF,
                   "sh", "-c", "echo before-exit; exit 5", timeout=CMD_TIMEOUT)
    assert r.returncode == 5, "expected exit status 5\n" + _why(env, name, r)
    assert r.stdout == "before-exit\n", "unexpected output\n" + _why(env, name, r)


def test_run_it_tty(pm, name):
    env = _env(pm)
    r = env.podman_pty(*env.run_args("--rm", "-it", "--name", name), pe.IMAGE_REF, "sh",
                       send=TYPED.format(status=4), timeout=PTY_TIMEOUT)
    _tty_checks(env, name, r, 4, "podman run -it")


# --------------------------------------------------------------------------
# exec

def test_exec(pm, name):
    env = _env(pm)
    _start_detached(env, name, "sleep", "1000")
    hostname = env.inspect(name, "{{.Config.Hostname}}")
    r = env.podman("exec", name, "sh", "-c",
                   "echo exec-out; echo exec-err >&2; cat /proc/1/cmdline; echo; hostname",
                   timeout=CMD_TIMEOUT)
    assert r.returncode == 0, "podman exec failed\n" + _why(env, name, r)
    lines = r.stdout.splitlines()
    assert lines[:1] == ["exec-out"], "exec output missing\n" + _why(env, name, r)
    # the exec'd process shares the container's pid and uts namespaces
    assert lines[1:2] == ["sleep\x001000\x00"], (
        "exec'd process does not see the container's pid 1 (`sleep 1000`)\n"
        + _why(env, name, r))
    assert lines[2:3] == [hostname], (
        f"exec'd process has not the container's hostname {hostname!r}\n" + _why(env, name, r))
    assert "exec-err" in r.stderr, "exec stderr missing\n" + _why(env, name, r)
    assert env.inspect(name, "{{.State.Status}}") == "running", (
        "container no longer running after exec\n" + _why(env, name, r))


def test_exec_exit_status(pm, name):
    env = _env(pm)
    _start_detached(env, name, "sleep", "1000")
    r = env.podman("exec", name, "sh", "-c", "exit 7", timeout=CMD_TIMEOUT)
    assert r.returncode == 7, "expected podman exec's exit status 7\n" + _why(env, name, r)


def test_exec_it_tty(pm, name):
    env = _env(pm)
    _start_detached(env, name, "sleep", "1000")
    r = env.podman_pty("exec", "-it", name, "sh", send=TYPED.format(status=6),
                       timeout=PTY_TIMEOUT)
    _tty_checks(env, name, r, 6, "podman exec -it")
    assert env.inspect(name, "{{.State.Status}}") == "running", (
        "container no longer running after exec -it\n" + _why(env, name, r))


# --------------------------------------------------------------------------
# stop and rm

def test_stop_term(pm, name):
    """SIGTERM reaches a container that handles it: stop returns at once."""
    env = _env(pm)
    pid = _start_detached(env, name, "sh", "-c",
                          "trap 'exit 12' TERM; while :; do sleep 0.1; done")
    # wait until the shell has installed its TERM handler
    assert _poll(lambda: ce.sigcgt(pid) & (1 << (15 - 1)), timeout=10), (
        f"container's sh (pid {pid}) never caught SIGTERM\n" + _why(env, name))
    start = time.monotonic()
    r = env.podman("stop", "-t", "10", name, timeout=CMD_TIMEOUT)
    took = time.monotonic() - start
    assert r.returncode == 0, "podman stop failed\n" + _why(env, name, r)
    assert took < 5, f"stop took {took:.1f}s: SIGTERM not delivered?\n" + _why(env, name, r)
    state = env.inspect(name, "{{.State.Status}} {{.State.ExitCode}}")
    assert state == "exited 12", (f"after stop: {state!r}, expected 'exited 12'\n"
                                  + _why(env, name, r))
    assert not ce._pid_alive(pid), f"container init {pid} still alive after stop"


def test_stop_timeout_kill(pm, name):
    """A container ignoring SIGTERM (sleep as pid 1) is SIGKILLed after -t 1."""
    env = _env(pm)
    pid = _start_detached(env, name, "sleep", "1000")
    start = time.monotonic()
    r = env.podman("stop", "-t", "1", name, timeout=CMD_TIMEOUT)
    took = time.monotonic() - start
    assert r.returncode == 0, "podman stop -t 1 failed\n" + _why(env, name, r)
    assert 0.9 <= took < 10, f"stop -t 1 took {took:.1f}s\n" + _why(env, name, r)
    state = env.inspect(name, "{{.State.Status}} {{.State.ExitCode}}")
    assert state == "exited 137", (f"after stop: {state!r}, expected 'exited 137' (SIGKILL)\n"
                                   + _why(env, name, r))
    assert not ce._pid_alive(pid), f"container init {pid} still alive after stop"


def _rm_leftovers(env: pe.PodmanEnv, cid: str, pid: int, cgroups: list[str]) -> list[str]:
    left = []
    if ce._pid_alive(pid):
        left.append(f"container init {pid} alive")
    left += [f"cgroup {d}" for d in cgroups if os.path.exists(d)]
    left += [f"runtime state {d}" for d in env.runtime_state_dirs(cid)]
    left += [f"storage dir {d}" for d in env.container_dirs(cid) if os.path.exists(d)]
    for d in env.container_dirs(cid):
        left += [f"mount {m}" for m in ce.mounts_under(d)]
    left += [f"process {p}: {' '.join(ce.cmdline(p))}" for p in env._our_pids()
             if any(cid in a for a in ce.cmdline(p))]
    return left


def _check_rm(env: pe.PodmanEnv, name: str, cid: str, pid: int, cgroups: list[str], r):
    assert r.returncode == 0, "podman rm failed\n" + _why(env, name, r)
    ps = env.podman("ps", "-a", "--format", "{{.Names}}", timeout=CMD_TIMEOUT)
    assert name not in ps.stdout.split(), f"{name} still listed after rm\n{ps.describe()}"
    if not _poll(lambda: not _rm_leftovers(env, cid, pid, cgroups), timeout=5):
        pytest.fail(f"left after podman rm: {_rm_leftovers(env, cid, pid, cgroups)}\n"
                    + r.describe(), pytrace=False)


def test_rm_stopped(pm, name):
    env = _env(pm)
    pid = _start_detached(env, name, "sleep", "1000")
    cid = env.inspect(name, "{{.Id}}")
    cgroups = ce.cgroup_dirs_of(pid)
    assert any(env.cgroup_parent + "/" in d for d in cgroups), (
        f"container not below --cgroup-parent {env.cgroup_parent}: {cgroups}")
    s = env.podman("stop", "-t", "0", name, timeout=CMD_TIMEOUT)
    assert s.returncode == 0, "podman stop -t 0 failed\n" + _why(env, name, s)
    r = env.podman("rm", name, timeout=CMD_TIMEOUT)
    _check_rm(env, name, cid, pid, cgroups, r)


def test_rm_force_running(pm, name):
    env = _env(pm)
    pid = _start_detached(env, name, "sleep", "1000")
    cid = env.inspect(name, "{{.Id}}")
    cgroups = ce.cgroup_dirs_of(pid)
    r = env.podman("rm", "-f", "-t", "1", name, timeout=CMD_TIMEOUT)
    _check_rm(env, name, cid, pid, cgroups, r)
