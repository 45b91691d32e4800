"""state.json as a typed State; status derived from the system, not trusted
from the file; what each status allows."""
import json
import os

import pytest

from runtime.errors import ContainerNotExist, PyruncError
from runtime.procfs import start_time as proc_start_time
from runtime import state
from runtime.state import ContainerDir, State


@pytest.fixture
def cdir(tmp_path):
    d = ContainerDir(str(tmp_path / "root"), "c1")
    d.claim()
    d.unlock()
    return d


def saved(cdir, **fields):
    st = State.new("c1", "/b", "/b/rootfs", {})
    for name, value in fields.items():
        setattr(st, name, value)
    cdir.save(st)
    return cdir.load()


def test_claim_is_exclusive(cdir):
    with pytest.raises(PyruncError, match="already exists"):
        ContainerDir(cdir.root, "c1").claim()


def test_status_from_live_process_and_fifo(cdir, monkeypatch):
    me = os.getpid()
    st = saved(cdir, init_pid=me, init_start=proc_start_time(me), creating=False)
    assert cdir.status(st) == "running"
    os.mkfifo(cdir.fifo_path())
    # A fifo left by an interrupted start, the program already running (this
    # process is not the pyrunc init, it has another name): running.
    assert cdir.status(st) == "running"
    with open("/proc/self/comm", "rb") as f:
        monkeypatch.setattr("runtime.state.INIT_NAME", f.read().rstrip(b"\n"))
    assert cdir.status(st) == "created"


def test_status_stopped_on_pid_reuse(cdir):
    me = os.getpid()
    st = saved(cdir, init_pid=me, init_start=proc_start_time(me) + 1, creating=False)
    assert cdir.status(st) == "stopped"
    assert st.oci(cdir.status(st))["pid"] == 0


def test_status_of_a_create_that_died(cdir):
    st = saved(cdir, creating=True)
    assert cdir.status(st) == "stopped"  # nobody holds the lock
    other = ContainerDir(cdir.root, "c1")
    other.lock()
    try:
        assert cdir.status(st) == "creating"
    finally:
        other.unlock()


def test_corrupt_and_missing_state(cdir):
    with open(os.path.join(cdir.path, "state.json"), "w") as f:
        f.write("{trunc")
    with pytest.raises(PyruncError, match="corrupt.*delete --force"):
        cdir.load()
    os.unlink(os.path.join(cdir.path, "state.json"))
    with pytest.raises(PyruncError, match="did not finish"):
        cdir.load()
    cdir.remove()
    with pytest.raises(ContainerNotExist):
        cdir.load()


def test_state_json_written_atomically(cdir):
    saved(cdir, init_pid=5)
    assert json.load(open(os.path.join(cdir.path, "state.json")))["init_pid"] == 5
    assert sorted(os.listdir(cdir.path)) == ["exec.json", "state.json"]


def test_what_exec_needs_is_apart(cdir):
    """process, seccomp, personality and the memory policy go to exec.json:
    state, kill, delete and list do not parse them; exec and the
    startContainer hooks ask for them (load_exec)."""
    process, profile = {"args": ["sh"], "cwd": "/"}, {"defaultAction": "SCMP_ACT_ALLOW"}
    st = saved(cdir, process=process, seccomp=profile, personality=8, memory_policy=[1, "03"])
    on_disk = json.load(open(os.path.join(cdir.path, "state.json")))
    assert not set(state.EXEC_FIELDS) & set(on_disk)
    assert (st.process, st.seccomp, st.personality) == (None, None, None)
    full = cdir.load_exec(cdir.load())
    assert (full.process, full.seccomp, full.personality, full.memory_policy) == \
        (process, profile, 8, [1, "03"])
    # A state.json of an older pyrunc holds them itself; it has no exec.json.
    os.unlink(os.path.join(cdir.path, "exec.json"))
    with open(os.path.join(cdir.path, "state.json"), "w") as f:
        json.dump(dict(on_disk, process=process, seccomp=profile), f)
    old = cdir.load_exec(cdir.load())
    assert (old.process, old.seccomp) == (process, profile)
    with open(os.path.join(cdir.path, "exec.json"), "w") as f:
        f.write("{trunc")
    with pytest.raises(PyruncError, match="exec.json: corrupt.*delete --force"):
        cdir.load_exec(cdir.load())


def test_state_round_trip_and_oci_view(cdir):
    st = saved(cdir, init_pid=7, init_start=99, creating=False, annotations={"a": "b"},
               cgroup={"memory": "/sys/fs/cgroup/memory/c1"}, memory_policy=[1, "0300"])
    again = State.from_json(json.loads(json.dumps(st.to_json())))
    assert again.to_json() == st.to_json()
    assert cdir.load_exec(st).memory_policy_value() == (1, b"\x03\x00")
    assert st.oci("running") == {
        "ociVersion": st.oci_version, "id": "c1", "pid": 7, "status": "running",
        "bundle": "/b", "rootfs": "/b/rootfs", "created": st.created, "owner": "",
        "annotations": {"a": "b"}}
    with pytest.raises(ValueError):
        State.from_json({"id": "c1"})  # no init_pid: not ours
    with pytest.raises(TypeError):
        State(no_such_field=1)


def test_what_each_status_allows():
    allowed = {
        "creating": set(),
        "created": {"start", "kill", "pause", "exec", "update"},
        "running": {"kill", "pause", "exec", "update"},
        "paused": {"kill", "resume", "update"},
        "stopped": {"delete"},
    }
    for name, wanted in allowed.items():
        status = getattr(state, name.upper())
        can = {verb for verb in ("start", "kill", "delete", "pause", "resume", "exec", "update")
               if getattr(status, "can_" + verb)}
        assert can == wanted, name
        assert status == name and str(status) == name


def test_require_cgroups_names_the_operation(cdir):
    st = saved(cdir, cgroup={})
    with pytest.raises(PyruncError, match="cannot pause container c1: it has no cgroup"):
        st.require_cgroups("pause")
