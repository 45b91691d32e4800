"""The front door (csrc/front.c): the `pyrunc` command answers the light
commands itself from the container's front record (runtime/front_record.py),
and anything else goes to Python. Each answer is compared with Python's own
(PYRUNC_FRONT=off) on the same container, and PYRUNC_FRONT=trace says which
side answered: a test that only saw the right output could not tell."""
import json
import os
import pathlib

import pytest
from runtime import front_record

from conftest import IS_PYRUNC, cgroup_procs, proc_state, wait_for

pytestmark = [pytest.mark.skipif(not IS_PYRUNC, reason="pyrunc's own front door"),
              pytest.mark.cgroup_v2]

FRONT = dict(os.environ, PYRUNC_FRONT="trace")
PYTHON = dict(os.environ, PYRUNC_FRONT="off")


def front(runtime, *args, answered: str | None = None, check: bool = True):
    """The command through the front door, which must answer it itself
    (answered: the trace's words), or hand it to Python (answered=None)."""
    proc = runtime(*args, env=FRONT, check=check)
    trace = [line for line in proc.stderr.splitlines() if line.startswith("pyrunc-front: ")]
    if answered:
        assert trace == [f"pyrunc-front: answered {answered}"], proc.stderr
    else:
        assert len(trace) == 1 and trace[0].startswith("pyrunc-front: python: "), proc.stderr
    proc.trace = trace[0]
    proc.stderr = "".join(line + "\n" for line in proc.stderr.splitlines()
                          if not line.startswith("pyrunc-front: "))
    return proc


def python(runtime, *args, check: bool = True):
    return runtime(*args, env=PYTHON, check=check)


def same_answer(runtime, args: list, answered: str) -> str:
    """The front door's stdout and exit status are Python's."""
    mine = front(runtime, *args, answered=answered)
    theirs = python(runtime, *args)
    assert (mine.returncode, mine.stdout) == (theirs.returncode, theirs.stdout)
    return mine.stdout


def test_every_status_answered_as_python_does(runtime, bundle):
    cid = bundle.id
    runtime("create", "-b", bundle.args("/ocitest", "sleep", "1000").write(), cid)
    seen = []
    for step in (None, "start", "pause", "resume", "kill"):
        if step == "kill":
            front(runtime, "kill", cid, "9", answered="kill")
            runtime.wait_status(cid, "stopped")
        elif step:
            front(runtime, step, cid, answered=step)
        state = json.loads(same_answer(runtime, ["state", cid], "state"))
        seen.append(state["status"])
        for args in (["list"], ["list", "--format", "json"], ["list", "-q"], ["list", "-f=json"]):
            same_answer(runtime, args, "list")
        if state["status"] != "stopped":
            pids = json.loads(same_answer(runtime, ["ps", "--format", "json", cid], "ps"))
            assert state["pid"] in pids
    assert seen == ["created", "running", "paused", "running", "stopped"]
    assert json.loads(same_answer(runtime, ["ps", "-f", "json", cid], "ps")) == []
    front(runtime, "delete", cid, answered="delete")
    assert not os.path.exists(os.path.join(runtime.root, cid))
    assert not os.path.exists(cgroup_procs(bundle.config["linux"]["cgroupsPath"]))


def test_list_of_several_containers_with_annotations(runtime, bundle, tmp_path):
    """Column widths, order by id, and JSON with annotations, in every status."""
    bundle.config["annotations"] = {"k\u00e9y": "v\"al\nue", "status": "@"}
    bundle.args("/ocitest", "sleep", "1000")
    ids = [f"{bundle.id}-{n}" for n in ("b", "a", "c-long-name-for-the-column")]
    for n, cid in enumerate(ids):
        bundle.config["linux"]["cgroupsPath"] = f"{bundle.config['linux']['cgroupsPath']}-{n}"
        runtime("create", "-b", bundle.write(), cid)
    runtime("start", ids[1])
    runtime("kill", ids[2], "KILL")
    runtime.wait_status(ids[2], "stopped")
    table = same_answer(runtime, ["list"], "list")
    assert [line.split()[0] for line in table.splitlines()[1:]] == sorted(ids)
    listed = json.loads(same_answer(runtime, ["list", "--format", "json"], "list"))
    assert [c["status"] for c in listed] == ["running", "created", "stopped"]
    assert listed[0]["annotations"] == bundle.config["annotations"]
    assert json.loads(same_answer(runtime, ["state", ids[0]], "state"))["annotations"] \
        == bundle.config["annotations"]


def test_shared_pid_leftovers_as_containerd_ends_them(runtime, bundle):
    """The shim's calls when a container without its own pid namespace exits
    and leaves a child: kill --all KILL, then delete, answered here."""
    bundle.without_namespace("pid")
    runtime("run", "-d", "-b", bundle.args("/bin/sh", "-c", "/ocitest sleep 1000 & exit 0")
            .write(), bundle.id)
    assert runtime.wait_status(bundle.id, "stopped") == "stopped"
    procs = cgroup_procs(bundle.config["linux"]["cgroupsPath"])
    left = procs.read_text().split()
    assert left, "the child is gone already"
    front(runtime, "kill", "--all", bundle.id, "9", answered="kill --all")
    wait_for(lambda: not procs.read_text().split(), "the leftover to die")
    front(runtime, "kill", "--all", bundle.id, "9", answered="kill --all")  # nothing left
    proc = front(runtime, "kill", bundle.id, "9", check=False)  # Python's error
    assert (proc.returncode, proc.stderr) == (1, "pyrunc: container not running\n")
    front(runtime, "delete", bundle.id, answered="delete")
    assert not procs.exists()


def test_delete_kills_what_a_stopped_container_left(runtime, bundle):
    """delete without kill --all first: the cgroup is busy, the front door
    kills through cgroup.kill, waits for the kernel and removes it."""
    bundle.without_namespace("pid")
    runtime("run", "-d", "-b", bundle.args("/bin/sh", "-c", "/ocitest sleep 1000 & exit 0")
            .write(), bundle.id)
    assert runtime.wait_status(bundle.id, "stopped") == "stopped"
    procs = cgroup_procs(bundle.config["linux"]["cgroupsPath"])
    pid = int(procs.read_text().split()[0])
    front(runtime, "delete", bundle.id, answered="delete")
    assert not procs.exists() and proc_state(pid) in ("Z", "X")  # dead (reaped or not)
    assert not os.path.exists(os.path.join(runtime.root, bundle.id))


def test_kill_all_thaws_a_paused_container(runtime, bundle):
    runtime("run", "-d", "-b", bundle.args("/ocitest", "sleep", "1000").write(), bundle.id)
    front(runtime, "pause", bundle.id, answered="pause")
    front(runtime, "kill", "--all", bundle.id, "KILL", answered="kill --all")
    assert runtime.wait_status(bundle.id, "stopped") == "stopped"
    front(runtime, "delete", bundle.id, answered="delete")


@pytest.mark.parametrize("status", ["created", "running", "paused"])
def test_delete_force_of_a_live_container(runtime, bundle, status):
    """Every process killed (a paused one thawed to die), the cgroups and
    the state gone, as Python's delete --force leaves it."""
    bundle.without_namespace("pid")  # a child outside a pid namespace: only the cgroup ends it
    runtime("create", "-b", bundle.args("/bin/sh", "-c", "/ocitest sleep 1000 & exec "
                                        "/ocitest sleep 1000").write(), bundle.id)
    if status != "created":
        runtime("start", bundle.id)
        procs = cgroup_procs(bundle.config["linux"]["cgroupsPath"])
        wait_for(lambda: len(procs.read_text().split()) == 2, "both sleeps")
    if status == "paused":
        runtime("pause", bundle.id)
    pids = cgroup_procs(bundle.config["linux"]["cgroupsPath"]).read_text().split()
    front(runtime, "delete", "--force", bundle.id, answered="delete")
    assert not cgroup_procs(bundle.config["linux"]["cgroupsPath"]).exists()
    assert not os.path.exists(os.path.join(runtime.root, bundle.id))
    assert all(proc_state(pid) in ("Z", "X") for pid in pids)


def test_delete_force_of_what_is_gone_and_start_of_a_created_one(runtime, bundle):
    front(runtime, "delete", "--force", "no-such-container", answered="delete --force of no container")
    runtime("create", "-b", bundle.args("/ocitest", "exit", "7").write(), bundle.id)
    front(runtime, "start", bundle.id, answered="start")
    assert runtime.wait_status(bundle.id, "stopped") == "stopped"
    proc = front(runtime, "start", bundle.id, check=False)  # Python's words
    assert (proc.returncode, proc.stderr) == (
        1, "pyrunc: cannot start a container that has stopped\n")
    front(runtime, "delete", "--force", bundle.id, answered="delete")


@pytest.mark.parametrize("args, why", [
    (["--debug", "state"], "a global flag"),
    (["kill", "{id}", "USR1"], "a signal name"),
    (["kill", "--all", "{id}", "TERM"], "kill --all of another signal"),
    (["delete", "{id}"], "not stopped"),
    (["ps", "{id}"], "a command Python runs"),
    (["state", "--", "{id}"], "a flag Python reads"),
    (["stat", "{id}"], "a command Python runs"),
])
def test_what_python_answers(runtime, bundle, args, why):
    runtime("run", "-d", "-b", bundle.args("/ocitest", "sleep", "1000").write(), bundle.id)
    args = [bundle.id if a == "{id}" else a for a in args]
    if args[0] == "--debug":
        args.append(bundle.id)
    proc = front(runtime, *args, check=False)
    assert why in proc.trace
    theirs = python(runtime, *args, check=False)
    assert proc.returncode == theirs.returncode


def test_a_record_python_could_not_write_leaves_it_all_to_python(runtime, bundle):
    """An annotation that holds the record's pid sentinel: no record."""
    bundle.config["annotations"] = {"x": "4611686018427400249"}
    runtime("create", "-b", bundle.args("/ocitest", "exit", "0").write(), bundle.id)
    assert not os.path.exists(os.path.join(runtime.root, bundle.id, "front"))
    assert "no front record" in front(runtime, "state", bundle.id).trace
    assert "no front record" in front(runtime, "list").trace


def test_hooks_and_a_missing_or_corrupt_record_go_to_python(runtime, bundle, tmp_path):
    marker = tmp_path / "poststop-ran"
    bundle.config["hooks"] = {"poststop": [{"path": "/bin/sh",
                                            "args": ["sh", "-c", f"touch {marker}"]}]}
    runtime("create", "-b", bundle.args("/ocitest", "exit", "0").write(), bundle.id)
    record = pathlib.Path(runtime.root, bundle.id, "front")
    good = record.read_bytes()
    record.unlink()
    assert "no front record" in front(runtime, "state", bundle.id).trace
    record.write_bytes(good[:-5])
    assert "corrupt" in front(runtime, "state", bundle.id).trace
    record.write_bytes(good)
    front(runtime, "start", bundle.id, answered="start")
    assert runtime.wait_status(bundle.id, "stopped") == "stopped"
    assert "hooks" in front(runtime, "delete", bundle.id).trace  # poststop is Python's
    assert marker.exists()


def test_fault_injection_and_off_go_to_python(runtime, bundle):
    """Told apart by what each says: the record is doctored so that only the
    front door's answer carries a marker (off has no trace to look at)."""
    runtime("run", "-d", "-b", bundle.args("/ocitest", "sleep", "1000").write(), bundle.id)
    path = pathlib.Path(runtime.root, bundle.id, "front")
    record = front_record.decode(path.read_bytes())
    record["state_b"] = ',\n  "marker": 1' + record["state_b"]
    path.write_bytes(front_record.encode(record))
    assert "marker" in json.loads(runtime("state", bundle.id).stdout)  # the front door's
    for env in ({"PYRUNC_FRONT": "off"}, {"PYRUNC_FAULT": "nowhere", "PYRUNC_FRONT": "trace"}):
        proc = runtime("state", bundle.id, env=dict(os.environ, **env))
        assert "pyrunc-front: answered" not in proc.stderr
        assert "marker" not in json.loads(proc.stdout)
