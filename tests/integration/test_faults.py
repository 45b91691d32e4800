"""Faults: the runtime killed at every step, the init killed in every state, a
corrupt state file. Afterwards `state` tells the truth and `delete --force`
leaves the host as it was. (Failpoints: runtime/faults.py.)"""
import json
import os
import signal
import subprocess
import time

import pytest

from conftest import IS_PYRUNC, needs_root

pytestmark = [needs_root(), pytest.mark.skipif(not IS_PYRUNC, reason="pyrunc's failpoints")]

CREATE_POINTS = ["claimed", "state-saved", "cgroup-made", "spawned", "pid-saved", "ready",
                 "saved", "released"]


def with_fault(point: str) -> dict:
    return {**os.environ, "PYRUNC_FAULT": point}


def settle(inventory, want, timeout=10.0):
    """Inits whose runtime died exit on their own (their socket closes)."""
    deadline = time.monotonic() + timeout
    while inventory() != want and time.monotonic() < deadline:
        time.sleep(0.02)
    return inventory()


@pytest.mark.parametrize("point", CREATE_POINTS)
def test_runtime_killed_during_create(runtime, bundle, inventory, point):
    before = inventory()
    proc = runtime("create", "-b", bundle.write(), bundle.id, env=with_fault(point), check=False)
    assert proc.returncode == -signal.SIGKILL

    st = runtime("state", bundle.id, check=False)
    if point == "claimed":  # no state.json yet: say so, and how to clean up
        assert st.returncode == 1 and "delete --force" in st.stderr
    elif point == "released":  # create had finished: a good created container
        assert json.loads(st.stdout)["status"] == "created"
    else:
        assert json.loads(st.stdout)["status"] == "stopped"
        # The half-made init notices that its runtime is gone and exits.
        inits = lambda: [p for p in inventory()["inits"]]  # noqa: E731
        deadline = time.monotonic() + 10
        while inits() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert inits() == []

    runtime("delete", "--force", bundle.id)
    assert settle(inventory, before) == before


def test_sigterm_during_create_undoes_everything(runtime, bundle, inventory):
    before = inventory()
    cmd = [runtime.binary, "--root", runtime.root, "create", "-b", bundle.write(), bundle.id]
    proc = subprocess.Popen(cmd, env=with_fault("pid-saved:sleep"), stderr=subprocess.PIPE,
                            stdout=subprocess.DEVNULL, text=True)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            st = runtime("state", bundle.id, check=False)
            if st.returncode == 0 and json.loads(st.stdout)["pid"]:
                break
            time.sleep(0.02)
        assert json.loads(st.stdout)["status"] == "creating"
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=10)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == 128 + signal.SIGTERM
    assert err.strip().splitlines() == ["pyrunc: terminated by signal 15"]
    assert bundle.id not in runtime.ids()
    assert settle(inventory, before) == before


@pytest.mark.parametrize("point", ["start-opened", "start-read"])
def test_runtime_killed_during_start(runtime, bundle, inventory, point):
    before = inventory()
    bundle.args("/ocitest", "sleep", "1000")
    runtime("create", "-b", bundle.write(), bundle.id)
    pid = runtime.state(bundle.id)["pid"]
    proc = runtime("start", bundle.id, env=with_fault(point), check=False)
    assert proc.returncode == -signal.SIGKILL
    # Whatever the init did meanwhile, state says what it is doing now.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        status = runtime.state(bundle.id)["status"]
        exe = os.readlink(f"/proc/{pid}/exe") if os.path.exists(f"/proc/{pid}/exe") else ""
        if status == "running" and "pyrunc-init" not in exe or status == "stopped":
            break
        time.sleep(0.02)
    assert status in ("running", "stopped"), (status, exe)
    again = runtime("start", bundle.id, check=False)
    assert again.returncode == 1  # never hangs on a stale fifo
    runtime("delete", "--force", bundle.id)
    assert settle(inventory, before) == before


@pytest.mark.parametrize("point", ["delete-killed", "delete-cgroup"])
def test_runtime_killed_during_delete(runtime, bundle, inventory, point):
    before = inventory()
    bundle.args("/ocitest", "sleep", "1000")
    runtime("run", "-d", "-b", bundle.write(), bundle.id)
    proc = runtime("delete", "--force", bundle.id, env=with_fault(point), check=False)
    assert proc.returncode == -signal.SIGKILL
    assert runtime.state(bundle.id)["status"] == "stopped"
    runtime("delete", "--force", bundle.id)
    assert settle(inventory, before) == before


@pytest.mark.parametrize("when", ["created", "running"])
def test_init_killed(runtime, bundle, inventory, when):
    before = inventory()
    bundle.args("/ocitest", "sleep", "1000")
    runtime("create", "-b", bundle.write(), bundle.id)
    if when == "running":
        runtime("start", bundle.id)
    os.kill(runtime.state(bundle.id)["pid"], signal.SIGKILL)
    assert runtime.wait_status(bundle.id, "stopped") == "stopped"
    proc = runtime("start", bundle.id, check=False)
    assert proc.returncode == 1 and "stopped" in proc.stderr
    runtime("delete", bundle.id)  # a stopped container needs no --force
    assert settle(inventory, before) == before


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty", "missing", "not-an-object"])
def test_corrupt_state_file(runtime, bundle, inventory, runtime_root, damage):
    before = inventory()
    bundle.args("/ocitest", "sleep", "1000")
    runtime("run", "-d", "-b", bundle.write(), bundle.id)
    path = os.path.join(runtime_root, bundle.id, "state.json")
    text = open(path).read()
    if damage == "missing":
        os.unlink(path)
    else:
        content = {"truncated": text[: len(text) // 2], "garbage": "\x00\xff{{", "empty": "",
                   "not-an-object": "[1, 2]"}[damage]
        with open(path, "w") as f:
            f.write(content)
    for cmd in (["state", bundle.id], ["kill", bundle.id], ["delete", bundle.id]):
        proc = runtime(*cmd, check=False)
        assert proc.returncode == 1
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and "state.json" in lines[0] and "delete --force" in lines[0]
        assert "Traceback" not in proc.stderr
    # The journal still names the cgroups: the running init dies with them.
    runtime("delete", "--force", bundle.id)
    assert settle(inventory, before) == before
