"""Cgroup ownership (config-linux.md): when a container's cgroup is given to
its user, and to which host uid."""
import pytest

from runtime.cgroups import delegation, from_dirs

MAPS = [{"containerID": 0, "hostID": 100000, "size": 65536}]
CGROUP_RW = {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
             "options": ["nosuid"]}


def config(uid=0, maps=MAPS, mounts=(CGROUP_RW,), namespaces=({"type": "cgroup"},)):
    linux = {"namespaces": list(namespaces)}
    if maps:
        linux["uidMappings"] = maps
    return {"process": {"user": {"uid": uid}}, "mounts": list(mounts), "linux": linux}


@pytest.mark.parametrize("uid, maps, want", [
    (0, MAPS, 100000), (1000, MAPS, 101000), (70000, MAPS, None), (1000, None, 1000)])
def test_host_uid(uid, maps, want):
    assert delegation.host_uid(config(uid, maps)) == want


def test_wanted_only_with_an_own_cgroupns_and_a_read_write_cgroupfs():
    assert delegation._wanted(config())
    ro = dict(CGROUP_RW, options=["ro"])
    assert not delegation._wanted(config(mounts=[ro]))
    assert not delegation._wanted(config(mounts=[]))
    assert not delegation._wanted(config(namespaces=[{"type": "cgroup", "path": "/proc/1/ns/cgroup"}]))
    assert not delegation._wanted(config(namespaces=[]))


def test_never_on_v1_or_hybrid(tmp_path):
    d = tmp_path / "cg"
    d.mkdir()
    from_dirs({"memory": str(d), "unified": str(d)}).delegate(config())  # hybrid: untouched
    from_dirs({"memory": str(d)}).delegate(config())  # v1: untouched
    assert d.stat().st_uid == 0
    from_dirs({"unified": str(d)}).delegate(config())  # v2: the user's
    assert d.stat().st_uid == 100000
