"""containerd as a real client of the runtime under test.

A private containerd (own root/state/sockets under a temp dir, CRI disabled,
native snapshotter) is started for this module; a busybox image built here
from Debian's busybox-static is imported as a docker-archive; then `ctr run`
drives containers through containerd-shim-runc-v2 with
``--runc-binary $PYRUNC_TEST_RUNTIME --runc-root <tmp>/runc-root``.

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
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import containerd_env as ce  # noqa: E402

RUNTIME_ENV = "PYRUNC_TEST_RUNTIME"
DEFAULT_RUNTIME = "/usr/local/bin/pyrunc"
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


def runtime_path() -> tuple[str, str | None]:
    """(path, problem) for the runtime under test; problem is None if usable."""
    path = os.path.abspath(os.environ.get(RUNTIME_ENV) or DEFAULT_RUNTIME)
    if not os.path.isfile(path):
        return path, (f"runtime under test {path} does not exist (set by "
                      f"${RUNTIME_ENV}, default {DEFAULT_RUNTIME}); install pyrunc there "
                      f"or point ${RUNTIME_ENV} at it. This test fails rather than "
                      f"skips when the runtime is missing.")
    if not os.access(path, os.X_OK):
        return path, f"runtime under test {path} is not executable"
    return path, None


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


def _poll(fn, timeout: float, interval: float = 0.1):
    """Call fn until it returns a truthy value or timeout; return the last value."""
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v or time.monotonic() > deadline:
            return v
        time.sleep(interval)


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
