"""The front record (runtime/front_record.py): what create decides for the
front door. The front door's reading of it is tested on real containers
(tests/integration/test_front_door.py)."""
from runtime import front_record, jsonlite
from runtime.cgroups import from_dirs
from runtime.state import PAUSED, STOPPED, State

DIRS = {"memory": "/sys/fs/cgroup/memory/c1", "freezer": "/sys/fs/cgroup/freezer/c1",
        "unified": "/sys/fs/cgroup/unified/c1"}


def _state(**extra) -> State:
    st = State.new("c1", "/b", "/b/rootfs", {"a": "x\ny\u00e9"})
    st.creating, st.init_pid, st.init_start, st.cgroup = False, 42, 1234, DIRS
    for key, value in extra.items():
        setattr(st, key, value)
    return st


def test_the_parts_rebuild_state_and_list_for_each_status():
    st = _state()
    record = front_record.decode(front_record.encode(front_record.fields(st, st.cgroups())))
    for status in (PAUSED, STOPPED):
        pid = "0" if status == STOPPED else "42"
        text = record["state_a"] + pid + record["state_b"] + status + record["state_c"]
        assert text == jsonlite.dumps(st.oci(status), indent=2)
        text = record["list_a"] + pid + record["list_b"] + status + record["list_c"]
        assert text == jsonlite.dumps(st.oci(status), compact=True)
    assert (record["pid"], record["init_start"], record["version"]) == ("42", "1234", "1")


def test_the_cgroup_facts_on_a_hybrid_host():
    st = _state()
    record = front_record.fields(st, st.cgroups())
    assert record["dirs"].split("\n") == list(DIRS.values())
    assert record["kill_dir"] == DIRS["unified"]
    assert (record["freeze_file"], record["frozen_when"], record["settle_file"]) == (
        DIRS["freezer"] + "/freezer.state", "FROZEN FREEZING", DIRS["freezer"] + "/freezer.state")
    assert (record["freeze_value"], record["thaw_value"]) == ("FROZEN", "THAWED")
    assert (record["frozen_line"], record["thawed_line"]) == ("FROZEN", "THAWED")
    v2 = from_dirs({"unified": "/sys/fs/cgroup/c1"}).front_facts()
    assert (v2["freeze_file"], v2["settle_file"], v2["frozen_line"]) == (
        "/sys/fs/cgroup/c1/cgroup.freeze", "/sys/fs/cgroup/c1/cgroup.events", "frozen 1")


def test_what_the_front_door_may_do_itself():
    plain = front_record.fields(_state(), _state().cgroups())
    assert (plain["start"], plain["delete"], plain["notify"]) == ("1", "1", "0")
    hooks = _state(hooks={"poststart": [{"path": "/x"}], "poststop": [{"path": "/x"}]})
    record = front_record.fields(hooks, hooks.cgroups())
    assert (record["start"], record["delete"]) == ("0", "0")
    mounts = _state(host_mounts={"rootfs": "/b/rootfs", "before": []}, notify=True)
    record = front_record.fields(mounts, mounts.cgroups())
    assert (record["delete"], record["notify"]) == ("0", "1")
    unit = _state(cgroup={"unified": "/sys/fs/cgroup/s.slice/u.scope", "systemd_unit": "u.scope"})
    assert front_record.fields(unit, unit.cgroups())["delete"] == "0"


def test_no_record_where_a_value_holds_a_sentinel(tmp_path):
    st = _state(annotations={"a": "4611686018427400249"})
    assert front_record.fields(st, st.cgroups()) is None
    front_record.write(str(tmp_path), st, st.cgroups())
    assert not (tmp_path / "front").exists()
    st = _state(id="@pyrunc-status@")
    assert front_record.fields(st, st.cgroups()) is None


def test_the_record_names_the_state_file_it_was_written_with(tmp_path):
    (tmp_path / "state.json").write_text("{}")
    st = _state()
    front_record.write(str(tmp_path), st, st.cgroups())
    record = front_record.decode((tmp_path / "front").read_bytes())
    saved = (tmp_path / "state.json").stat()
    assert record["state_json"] == f"{saved.st_size} {saved.st_mtime_ns}"
