"""Status is derived from the system, not trusted from state.json."""
import json
import os

import pytest

from runtime.errors import ContainerNotExist, PyruncError
from runtime.procfs import start_time as proc_start_time
from runtime.state import ContainerDir, new_state, oci_state


@pytest.fixture
def cdir(tmp_path):
    d = ContainerDir(str(tmp_path / "root"), "c1")
    d.claim()
    d.unlock()
    return d


def saved(cdir, **fields):
    st = new_state("c1", "/b", "/b/rootfs", {})
    st.update(fields)
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
    # process is not the pyrunc-init memfd): running.
    assert cdir.status(st) == "running"
    monkeypatch.setattr("runtime.state.INIT_EXE_PREFIX", os.readlink("/proc/self/exe"))
    assert cdir.status(st) == "created"


def test_status_stopped_on_pid_reuse(cdir):
    me = os.getpid()
    st = saved(cdir, init_pid=me, init_start=proc_start_time(me) + 1, creating=False)
    assert cdir.status(st) == "stopped"
    assert oci_state(st, "stopped")["pid"] == 0


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
    assert sorted(os.listdir(cdir.path)) == ["state.json"]
