"""Smoke test of the cgroup-v2 lane: a real container placed in a cgroup-v2 cgroup.

Runs on a pure cgroup-v2 host only (tests/vm/run_v2_lane.py boots one under
QEMU); on the hybrid CI host it is skipped.
"""
import json
import os
import pathlib
import subprocess

import pytest

from conftest import CGROUP_PARENT, needs_root, wait_for

CGROUP2 = pathlib.Path("/sys/fs/cgroup")

pytestmark = [
    pytest.mark.cgroup_v2,
    needs_root(),
    pytest.mark.skipif(not (CGROUP2 / "cgroup.controllers").exists(),
                       reason="needs a pure cgroup-v2 host (/sys/fs/cgroup/cgroup.controllers is "
                              "missing here): run tests/vm/run_v2_lane.py"),
]


@pytest.fixture
def v2_parent():
    """On cgroup v2 the session parent is /sys/fs/cgroup/ocitest-*: remove it
    when empty (the session cleanup in conftest looks one level deeper)."""
    yield CGROUP2 / CGROUP_PARENT.lstrip("/")
    try:
        (CGROUP2 / CGROUP_PARENT.lstrip("/")).rmdir()
    except OSError:
        pass




def test_run_places_container_in_v2_cgroup(runtime, bundle, v2_parent, tmp_path):
    # The container reports its own view of /proc/self/cgroup, then waits.
    bundle.args("/bin/sh", "-c", "cat /proc/self/cgroup; exec sleep 600")
    cgroups_path = bundle.config["linux"]["cgroupsPath"]
    cgroup_dir = CGROUP2 / cgroups_path.lstrip("/")
    out = tmp_path / "stdout"
    with open(out, "wb") as stdout, open(tmp_path / "stderr", "wb") as stderr:
        run = subprocess.Popen([runtime.binary, "--root", runtime.root, "run", "-b", bundle.write(), bundle.id],
                               stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr)
    try:
        def running_pid():
            # The container's first line first: then it is surely running.
            if out.read_text().strip():
                proc = runtime("state", bundle.id, check=False)
                if proc.returncode == 0:
                    state = json.loads(proc.stdout)
                    if state["status"] == "running":
                        return state["pid"]
            assert run.poll() is None, (f"pyrunc run exited {run.returncode}: "
                                        f"{(tmp_path / 'stderr').read_text()}")
            return None

        pid = wait_for(running_pid, f"container {bundle.id} to run", timeout=60.0, interval=0.1)

        # Seen from outside: a real cgroup2 directory holding the init.
        assert cgroup_dir.is_dir(), f"{cgroup_dir} does not exist"
        assert (cgroup_dir / "cgroup.controllers").exists()
        procs = (cgroup_dir / "cgroup.procs").read_text().split()
        assert str(pid) in procs, f"pid {pid} not in {cgroup_dir}/cgroup.procs: {procs}"
        with open(f"/proc/{pid}/cgroup") as f:
            assert f.read().splitlines() == [f"0::{cgroups_path}"]

        # Seen from inside, in its own cgroup namespace: the root of the unified hierarchy.
        assert out.read_text().splitlines() == ["0::/"]

        runtime("kill", bundle.id, "KILL")
        assert run.wait(60) == 137
    finally:
        if run.poll() is None:
            runtime("kill", bundle.id, "KILL", check=False)
            try:
                run.wait(30)
            except subprocess.TimeoutExpired:
                run.kill()
                run.wait()

    # `run` deleted the container, and its cgroup with it.
    assert not cgroup_dir.exists(), f"{cgroup_dir} left behind"
    assert not os.path.exists(f"{runtime.root}/{bundle.id}")
