"""--systemd-cgroup without systemd: the unit a cgroupsPath names, and the
properties a config's resources and annotations become. The expected values
are what runc 1.1.5 sends for the same config (its systemd/common.go, v2.go
and specconv's annotation reading, worked out by hand)."""
import pytest

from runtime.cgroups import from_dirs
from runtime.cgroups.systemd import SystemdHybridManager, SystemdManager, SystemdV1Manager
from runtime.cgroups.systemd_props import (UINT64_MAX, annotation_properties, device_properties,
                                           list_to_bits, parse_gvariant, resource_properties,
                                           v1_resource_properties)
from runtime.cgroups.systemd_units import expand_slice, is_unit_name, unit_for
from runtime.errors import ConfigError


@pytest.mark.parametrize("path, slice_name, unit, cgroup", [
    ("machine.slice:libpod:abc", "machine.slice", "libpod-abc.scope",
     "/machine.slice/libpod-abc.scope"),
    ("kubepods-besteffort-pod12.slice:cri-containerd:f00", "kubepods-besteffort-pod12.slice",
     "cri-containerd-f00.scope",
     "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod12.slice/"
     "cri-containerd-f00.scope"),
    (":docker:1234", "system.slice", "docker-1234.scope", "/system.slice/docker-1234.scope"),
    ("-:p:x", "-.slice", "p-x.scope", "/p-x.scope"),
    ("a-b.slice::c", "a-b.slice", "c.scope", "/a.slice/a-b.slice/c.scope"),
    ("system.slice:ignored:mine.slice", "system.slice", "mine.slice",
     "/system.slice/mine.slice"),
    ("", "system.slice", "runc-cid.scope", "/system.slice/runc-cid.scope"),
    (None, "system.slice", "runc-cid.scope", "/system.slice/runc-cid.scope"),
])
def test_unit_for_a_cgroups_path(path, slice_name, unit, cgroup):
    got = unit_for(path, "cid", rootless=False)
    assert (got.slice, got.name, got.cgroup) == (slice_name, unit, cgroup)


def test_rootless_default_slice():
    assert unit_for("", "cid", rootless=True).slice == "user.slice"


@pytest.mark.parametrize("path, says", [
    ("/machine.slice/abc", "must be \"slice:prefix:name\""),
    ("a:b", "must be \"slice:prefix:name\""),
    ("a:b:c:d", "must be \"slice:prefix:name\""),
    ("machine.slice:libpod:", r"the name \(after the second ':'\) is empty"),
    ("machine:libpod:x", "not a valid systemd slice name"),
    ("a--b.slice:p:x", "not a valid systemd slice name"),
    ("-a.slice:p:x", "not a valid systemd slice name"),
    ("a/b.slice:p:x", "not a valid systemd unit name"),
    ("system.slice:p:a b", "not a valid systemd unit name"),
])
def test_bad_cgroups_paths_name_the_field(path, says):
    with pytest.raises(ConfigError, match=says) as e:
        unit_for(path, "cid", rootless=False)
    assert e.value.pointer == "/linux/cgroupsPath"


def test_expand_slice():
    assert expand_slice("-.slice") == "/"
    assert expand_slice("user-1000.slice") == "/user.slice/user-1000.slice"


def test_unit_names_read_back_from_state():
    assert is_unit_name("libpod-abc.scope") and is_unit_name("x.slice")
    assert not is_unit_name("../x.scope") and not is_unit_name("x.service")
    assert not is_unit_name(7)


def test_resources_as_runc_sends_them():
    props = dict(resource_properties({
        "memory": {"limit": 256 << 20, "reservation": 128 << 20, "swap": 512 << 20},
        "cpu": {"shares": 1024, "quota": 50000, "period": 100000, "cpus": "0-2,4", "mems": "0"},
        "pids": {"limit": 1024},
        "blockIO": {"weight": 500},
    }))
    assert props == {
        "MemoryMax": ("t", 256 << 20), "MemoryLow": ("t", 128 << 20),
        "MemorySwapMax": ("t", 256 << 20),  # memory+swap 512M - memory 256M
        "CPUWeight": ("t", 39),  # 1 + (1024-2)*9999/262142
        "CPUQuotaPeriodUSec": ("t", 100000), "CPUQuotaPerSecUSec": ("t", 500000),
        "AllowedCPUs": ("ay", bytes([0b10111])), "AllowedMemoryNodes": ("ay", b"\x01"),
        "TasksMax": ("t", 1024),
        "IOWeight": ("t", 1 + (500 - 10) * 9999 // 990),
    }


def test_unlimited_values_are_systemd_infinity():
    props = dict(resource_properties({"memory": {"limit": -1, "swap": -1},
                                      "pids": {"limit": -1}, "cpu": {"quota": -1}}))
    assert props["MemoryMax"] == props["MemorySwapMax"] == props["TasksMax"] == ("t", UINT64_MAX)
    assert props["CPUQuotaPerSecUSec"] == ("t", UINT64_MAX)


def test_cpu_quota_rounds_up_to_whole_percent():
    props = dict(resource_properties({"cpu": {"quota": 33333, "period": 100000}}))
    assert props["CPUQuotaPerSecUSec"] == ("t", 340000)  # 333330 µs/s is 33.3%: 34%


def test_unified_keys_systemd_knows():
    props = dict(resource_properties({"unified": {"memory.high": "max", "memory.min": "4096",
                                                  "pids.max": "20", "io.max": "8:0 rbps=1"}}))
    assert props == {"MemoryHigh": ("t", UINT64_MAX), "MemoryMin": ("t", 4096),
                     "TasksMax": ("t", 20)}


def test_bad_resources_fail_as_on_v2():
    with pytest.raises(ConfigError, match="below the memory limit") as e:
        resource_properties({"memory": {"limit": 200, "swap": 100}})
    assert e.value.pointer == "/linux/resources/memory/swap"


def test_list_to_bits():
    assert list_to_bits("0") == b"\x01"
    assert list_to_bits("8-9") == b"\x00\x03"
    assert list_to_bits("") == b""


def test_default_devices_as_an_allow_list(tmp_path):
    devices = tmp_path / "devices"
    devices.write_text("Character devices:\n  1 mem\n  5 /dev/tty\n136 pts\n\n"
                       "Block devices:\n  8 sd\n")
    props = dict(device_properties([{"allow": False, "access": "rwm"}], str(devices)))
    assert props["DevicePolicy"] == ("s", "strict")
    sig, allowed = props["DeviceAllow"]
    assert sig == "a(ss)"
    assert sorted(allowed) == sorted([
        ("block-*", "m"), ("char-*", "m"), ("char-pts", "rwm"),
        ("/dev/char/1:3", "rwm"), ("/dev/char/1:5", "rwm"), ("/dev/char/1:7", "rwm"),
        ("/dev/char/1:8", "rwm"), ("/dev/char/1:9", "rwm"), ("/dev/char/5:0", "rwm"),
        ("/dev/char/5:1", "rwm"), ("/dev/char/5:2", "rwm")])


def test_devices_allowed_by_default_leave_systemd_out():
    # An allow-all list with exceptions is not an allow list: systemd adds no
    # filter, and the container's own device program enforces the denials.
    props = device_properties([{"allow": True, "access": "rwm"},
                               {"allow": False, "type": "c", "major": 10, "minor": 200,
                                "access": "rwm"}])
    assert props == [("DevicePolicy", ("s", "auto"))]


def test_annotations_as_runc_reads_them():
    props = annotation_properties({
        "org.systemd.property.TimeoutStopUSec": "uint64 123456789",
        "org.systemd.property.CollectMode": "'inactive-or-failed'",
        "org.systemd.property.TimeoutStartSec": "5",
        "org.systemd.property.Wants": "['a.service', \"b.service\"]",
        "org.systemd.property.AllowedCPUs": "@ay []",
        "io.kubernetes.cri.sandbox-id": "not ours",
    })
    assert props == [
        ("AllowedCPUs", ("ay", [])),
        ("CollectMode", ("s", "inactive-or-failed")),
        ("TimeoutStartUSec", ("t", 5_000_000)),
        ("TimeoutStopUSec", ("t", 123456789)),
        ("Wants", ("as", ["a.service", "b.service"])),
    ]


@pytest.mark.parametrize("name, value, says", [
    ("lower", "1", "not a systemd property name"),
    ("Bad-Name", "1", "not a systemd property name"),
    ("CPUWeight", "uint64 -1", "out of range"),
    ("CPUWeight", "'unterminated", "unterminated string"),
    ("Wants", "[]", "needs its type"),
    ("Wants", "['a', 1]", "not of type s"),
    ("TimeoutStopSec", "'x'", "seconds must be a number"),
    ("Delegate", "true false", "unexpected"),
])
def test_bad_annotations_name_the_annotation(name, value, says):
    with pytest.raises(ConfigError, match=says) as e:
        annotation_properties({f"org.systemd.property.{name}": value})
    assert e.value.pointer == f"/annotations/org.systemd.property.{name}"


def test_gvariant_types():
    assert parse_gvariant("true") == ("b", True)
    assert parse_gvariant("int64 -5") == ("x", -5)
    assert parse_gvariant("1.5") == ("d", 1.5)
    assert parse_gvariant("0x10") == ("i", 16)


def test_a_saved_systemd_container_comes_back(tmp_path):
    saved = {"unified": "/sys/fs/cgroup/machine.slice/libpod-abc.scope",
             "systemd_unit": "libpod-abc.scope"}
    manager = from_dirs(saved)
    assert isinstance(manager, SystemdManager)
    assert manager.unit_name == "libpod-abc.scope" and manager.saved() == saved
    # A running container's unit exists: exec joins its directory as on v2.
    assert manager.placement().clone_dir == saved["unified"]


def test_v1_resources_as_runc_legacy_sends_them():
    props = dict(v1_resource_properties({
        "memory": {"limit": 256 << 20},
        "cpu": {"shares": 512, "quota": 25000, "period": 50000, "cpus": "1"},
        "pids": {"limit": -1},
        "blockIO": {"weight": 300},
    }))
    assert props == {"MemoryLimit": ("t", 256 << 20), "CPUShares": ("t", 512),
                     "CPUQuotaPeriodUSec": ("t", 50000), "CPUQuotaPerSecUSec": ("t", 500000),
                     "AllowedCPUs": ("ay", b"\x02"), "TasksMax": ("t", UINT64_MAX),
                     "BlockIOWeight": ("t", 300)}
    # 0 is "not set" (Go's zero value), and so is a pids limit of 0 for systemd
    assert v1_resource_properties({"memory": {"limit": 0}, "pids": {"limit": 0}}) == []


@pytest.mark.parametrize("dirs, kind", [
    ({"unified": "/sys/fs/cgroup/s.slice/u.scope"}, SystemdManager),
    ({"unified": "/sys/fs/cgroup/unified/s.slice/u.scope",
      "name=systemd": "/sys/fs/cgroup/systemd/s.slice/u.scope",
      "memory": "/sys/fs/cgroup/memory/s.slice/u.scope"}, SystemdHybridManager),
    ({"name=systemd": "/sys/fs/cgroup/systemd/s.slice/u.scope",
      "memory": "/sys/fs/cgroup/memory/s.slice/u.scope"}, SystemdV1Manager),
])
def test_each_kind_of_host_has_its_systemd_manager(dirs, kind):
    manager = from_dirs({**dirs, "systemd_unit": "u.scope"})
    assert type(manager) is kind and manager.dirs == dirs


def test_a_users_systemd_is_found_through_xdg_runtime_dir(monkeypatch, tmp_path):
    from runtime.cgroups import systemd_bus
    from runtime.errors import PyruncError
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    with pytest.raises(PyruncError, match="XDG_RUNTIME_DIR .* which is not set"):
        systemd_bus._connect(user=True)
    # Nobody listens there: the error names both places tried.
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    monkeypatch.delenv("DBUS_SESSION_BUS_ADDRESS", raising=False)
    (tmp_path / "systemd").mkdir()
    (tmp_path / "systemd" / "private").touch()
    with pytest.raises(PyruncError, match=f"cannot reach the user's systemd \\(unix:path="
                                          f"{tmp_path}/bus, then {tmp_path}/systemd/private"):
        systemd_bus._connect(user=True)
