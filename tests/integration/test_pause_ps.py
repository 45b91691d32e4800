"""pause / resume (freezer), ps, and killing or deleting a paused container."""
import json
import os
import time

import pytest

from conftest import needs_root

pytestmark = [needs_root(), pytest.mark.cgroup_v2]

# A container that counts: its progress shows whether it is frozen.
COUNTER = "i=0; while true; do i=$((i+1)); echo $i > /tmp/count; sleep 0.01; done"


def freezer_state(bundle) -> str:
    """FROZEN or THAWED, from the v1 freezer or (cgroup-v2 host) cgroup.freeze."""
    cg = bundle.config["linux"]["cgroupsPath"]
    if os.path.exists(f"/sys/fs/cgroup/freezer{cg}"):
        with open(f"/sys/fs/cgroup/freezer{cg}/freezer.state") as f:
            return f.read().strip()
    with open(f"/sys/fs/cgroup{cg}/cgroup.freeze") as f:
        return "FROZEN" if f.read().strip() == "1" else "THAWED"


def count(bundle) -> int:
    try:
        return int((bundle.rootfs / "tmp" / "count").read_text() or 0)
    except (FileNotFoundError, ValueError):
        return 0


def start_counter(runtime, bundle):
    bundle.private_rootfs()
    bundle.config["root"]["readonly"] = False
    bundle.args("/bin/sh", "-c", COUNTER)
    runtime("run", "-d", "-b", bundle.write(), bundle.id)
    deadline = time.monotonic() + 10
    while count(bundle) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)


def test_pause_and_resume(runtime, bundle):
    start_counter(runtime, bundle)
    runtime("pause", bundle.id)
    assert runtime.state(bundle.id)["status"] == "paused"
    assert freezer_state(bundle) == "FROZEN"
    frozen_at = count(bundle)
    time.sleep(0.3)
    assert count(bundle) == frozen_at  # nothing ran meanwhile

    again = runtime("pause", bundle.id, check=False)
    assert again.returncode == 1 and "container not running" in again.stderr

    runtime("resume", bundle.id)
    assert runtime.state(bundle.id)["status"] == "running"
    assert freezer_state(bundle) == "THAWED"
    # One reading for the loop and the assert: the shell truncates the file
    # before each write, so a second reading may find it empty (0).
    deadline = time.monotonic() + 5
    resumed_at = count(bundle)
    while resumed_at <= frozen_at and time.monotonic() < deadline:
        time.sleep(0.01)
        resumed_at = count(bundle)
    assert resumed_at > frozen_at
    proc = runtime("resume", bundle.id, check=False)
    assert proc.returncode == 1 and "not paused" in proc.stderr


def test_exec_ignore_paused_waits_for_resume(runtime, bundle):
    """exec --ignore-paused into a frozen container: its process is frozen
    too, and resume (which takes the container's lock) lets it finish; exec
    holds no lock while it waits."""
    import subprocess
    start_counter(runtime, bundle)
    runtime("pause", bundle.id)
    exec_call = subprocess.Popen(runtime.command(["exec", "--ignore-paused", bundle.id,
                                                  "/bin/echo", "from exec"]),
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(0.5)
        assert exec_call.poll() is None  # frozen with the container
        runtime("resume", bundle.id, timeout=15)
        out, err = exec_call.communicate(timeout=15)
    finally:
        if exec_call.poll() is None:
            exec_call.kill()
            exec_call.wait()
    assert (exec_call.returncode, out) == (0, "from exec\n"), err
    refused = runtime("exec", bundle.id, "/bin/true", check=False)
    assert refused.returncode == 0  # running again


def test_a_frozen_cgroup_is_refused_at_create(runtime, bundle, inventory):
    """runc's check: a container whose cgroup exists and is frozen would
    freeze its init before it is ready (run -d used to wait forever)."""
    before = inventory()
    cg = bundle.config["linux"]["cgroupsPath"]
    v1 = f"/sys/fs/cgroup/freezer{cg}"
    path, value = ((f"{v1}/freezer.state", "FROZEN") if os.path.isdir("/sys/fs/cgroup/freezer")
                   else (f"/sys/fs/cgroup{cg}/cgroup.freeze", "1"))
    os.makedirs(os.path.dirname(path))
    try:
        with open(path, "w") as f:
            f.write(value)
        for call in (["run", "-d"], ["create"]):
            proc = runtime(*call, "-b", bundle.write(), bundle.id, check=False, timeout=20)
            assert proc.returncode == 1
            assert "container's cgroup unexpectedly frozen" in proc.stderr
            assert bundle.id not in runtime.ids()
        assert os.path.isdir(os.path.dirname(path))  # not ours: left as it was
    finally:
        os.rmdir(os.path.dirname(path))
    assert inventory() == before


def test_pause_created_and_stopped(runtime, bundle):
    """runc pauses a created container (its init is frozen on the fifo) and
    refuses a stopped one."""
    bundle.args("/ocitest", "exit", "0")
    runtime("create", "-b", bundle.write(), bundle.id)
    runtime("pause", bundle.id)
    assert runtime.state(bundle.id)["status"] == "paused"
    runtime("resume", bundle.id)
    assert runtime.state(bundle.id)["status"] == "created"
    runtime("start", bundle.id)
    runtime.wait_status(bundle.id, "stopped")
    proc = runtime("pause", bundle.id, check=False)
    assert proc.returncode == 1 and "container not running" in proc.stderr


def test_delete_force_of_paused_container(runtime, bundle, inventory):
    before = inventory()
    start_counter(runtime, bundle)
    runtime("pause", bundle.id)
    proc = runtime("delete", bundle.id, check=False)
    assert proc.returncode == 1 and "paused" in proc.stderr
    runtime("delete", "--force", bundle.id)
    assert bundle.id not in runtime.ids()
    assert inventory() == before


def test_kill_all_of_paused_container(runtime, bundle):
    """As runc: the processes are signalled while frozen, then thawed so that the
    signal is delivered."""
    bundle.without_namespace("pid")
    bundle.args("/bin/sh", "-c", "/ocitest sleep 1000 & wait")
    runtime("run", "-d", "-b", bundle.write(), bundle.id)
    runtime("pause", bundle.id)
    runtime("kill", "--all", bundle.id, "TERM")
    runtime.wait_status(bundle.id, "stopped")
    assert runtime.state(bundle.id)["status"] == "stopped"


def test_ps(runtime, bundle):
    bundle.without_namespace("pid")
    bundle.args("/bin/sh", "-c", "/ocitest sleep 1000 & /ocitest sleep 1000 & wait")
    runtime("run", "-d", "-b", bundle.write(), bundle.id)
    init = runtime.state(bundle.id)["pid"]
    deadline = time.monotonic() + 10
    while len(json.loads(runtime("ps", "--format", "json", bundle.id).stdout)) < 3 \
            and time.monotonic() < deadline:
        time.sleep(0.01)
    pids = json.loads(runtime("ps", "--format", "json", bundle.id).stdout)
    assert len(pids) == 3 and init in pids
    for pid in pids:
        assert os.path.exists(f"/proc/{pid}")
    table = runtime("ps", bundle.id).stdout.splitlines()
    assert "PID" in table[0].split()
    assert sorted(int(line.split()[1]) for line in table[1:]) == sorted(pids)
    table = runtime("ps", bundle.id, "-o", "pid,comm").stdout.splitlines()
    assert [line.split()[1] for line in table[1:]].count("ocitest") == 2


def test_ps_of_stopped_container(runtime, bundle):
    bundle.args("/bin/true")
    runtime("run", "-d", "-b", bundle.write(), bundle.id)
    runtime.wait_status(bundle.id, "stopped")
    # runc prints null; an empty list says the same in better JSON.
    out = runtime("ps", "--format", "json", bundle.id).stdout
    assert json.loads(out) in ([], None)
