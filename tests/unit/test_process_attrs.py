"""Process attributes (runtime-spec 1.3 config.md): process.ioPriority,
process.scheduler, process.execCPUAffinity, linux.personality,
linux.timeOffsets, the LSM labels and linux.intelRdt.

runtime/process_attrs.py turns each into the arguments of one plan op or a
ConfigError naming the field; plan.build/build_exec put those ops where they
take effect. Pure: no root, no container."""
import io
import struct

import pytest

from runtime import plan, process_attrs, procfs
from runtime import _consts as lib
from runtime.errors import ConfigError
from runtime.plan import HostProbe, Op, PlanContext


# -- helpers --

class FakeProbe(HostProbe):
    def is_dir(self, path):
        return False

    def exists(self, path):
        return False


def config(process=None, **linux):
    """A minimal config; process keys and linux keys are added to the defaults."""
    c = {
        "ociVersion": "1.3.0",
        "root": {"path": "rootfs"},
        "process": {"args": ["/bin/sh"], "cwd": "/", "env": ["PATH=/bin"],
                    "user": {"uid": 1000, "gid": 1000},
                    "rlimits": [{"type": "RLIMIT_NOFILE", "soft": 10, "hard": 10}]},
        "mounts": [],
        "linux": {"namespaces": [{"type": "mount"}, {"type": "pid"}]},
    }
    c["process"].update(process or {})
    c["linux"].update(linux)
    return c


def build(c, **ctx):
    return plan.build(c, PlanContext(bundle="/b", probe=FakeProbe(), **ctx))


def build_exec(process, pointer="/process", mempolicy=None, **ctx):
    ctx.setdefault("clone_cgroup_fd", 7)
    return plan.build_exec(process, PlanContext(bundle="/b", probe=FakeProbe(), **ctx),
                           pidfd=6, ns_flags=lib.CLONE_NEWNS | lib.CLONE_NEWPID, pointer=pointer,
                           mempolicy=mempolicy)


def names(ops):
    return [op.name for op in ops]


def only(ops, name):
    found = [op for op in ops if op.name == name]
    assert len(found) == 1, ops
    return found[0]


def config_error(fn, *args, **kwargs) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        fn(*args, **kwargs)
    return info.value


def assert_error(err: ConfigError, pointer: str, problem: str):
    assert (err.pointer, err.problem) == (pointer, problem)
    assert str(err) == f"config.json: {pointer}: {problem}"


def mask(*cpus, words=1) -> bytes:
    bits = 0
    for cpu in cpus:
        bits |= 1 << cpu
    return bits.to_bytes(8 * words, "little")


# -- ioPriority --

@pytest.mark.parametrize("prio, value", [
    ({"class": "IOPRIO_CLASS_RT", "priority": 0}, 1 << 13),
    ({"class": "IOPRIO_CLASS_RT", "priority": 7}, 1 << 13 | 7),
    ({"class": "IOPRIO_CLASS_BE", "priority": 5}, 2 << 13 | 5),
    ({"class": "IOPRIO_CLASS_IDLE", "priority": 0}, 3 << 13),
    ({"class": "IOPRIO_CLASS_IDLE"}, 3 << 13),  # the level defaults to 0
])
def test_ioprio_value_is_the_kernels_encoding(prio, value):
    # IOPRIO_PRIO_VALUE(class, data) = class << 13 | data (linux/ioprio.h)
    assert process_attrs.ioprio_value({"ioPriority": prio}) == value


def test_ioprio_absent_is_none():
    assert process_attrs.ioprio_value({}) is None
    assert process_attrs.ioprio_value({"args": ["x"]}) is None


@pytest.mark.parametrize("prio, pointer, problem", [
    ({"class": "IOPRIO_CLASS_NONE", "priority": 0}, "/process/ioPriority/class",
     "unknown class 'IOPRIO_CLASS_NONE': expected one of IOPRIO_CLASS_RT, IOPRIO_CLASS_BE, "
     "IOPRIO_CLASS_IDLE"),
    ({"priority": 0}, "/process/ioPriority/class",
     "unknown class None: expected one of IOPRIO_CLASS_RT, IOPRIO_CLASS_BE, IOPRIO_CLASS_IDLE"),
    ({"class": "ioprio_class_be", "priority": 0}, "/process/ioPriority/class",
     "unknown class 'ioprio_class_be': expected one of IOPRIO_CLASS_RT, IOPRIO_CLASS_BE, "
     "IOPRIO_CLASS_IDLE"),
    ({"class": "IOPRIO_CLASS_BE", "priority": 8}, "/process/ioPriority/priority",
     "8 is not a level from 0 to 7"),
    ({"class": "IOPRIO_CLASS_RT", "priority": -1}, "/process/ioPriority/priority",
     "-1 is not a level from 0 to 7"),
])
def test_ioprio_errors_name_the_field(prio, pointer, problem):
    assert_error(config_error(process_attrs.ioprio_value, {"ioPriority": prio}), pointer, problem)


def test_ioprio_errors_in_a_process_file_point_into_it():
    err = config_error(process_attrs.ioprio_value, {"ioPriority": {"class": "X"}}, "")
    assert err.pointer == "/ioPriority/class"


# -- scheduler --

@pytest.mark.parametrize("sched, args", [
    ({"policy": "SCHED_OTHER"}, (0, 0, 0, 0, 0, 0, 0)),
    ({"policy": "SCHED_BATCH", "nice": 5}, (3, 0, 5, 0, 0, 0, 0)),
    ({"policy": "SCHED_IDLE", "nice": 19}, (5, 0, 19, 0, 0, 0, 0)),
    ({"policy": "SCHED_ISO"}, (4, 0, 0, 0, 0, 0, 0)),
    ({"policy": "SCHED_FIFO", "priority": 10}, (1, 0, 0, 10, 0, 0, 0)),
    ({"policy": "SCHED_RR", "priority": 1}, (2, 0, 0, 1, 0, 0, 0)),
    ({"policy": "SCHED_RR", "priority": 99}, (2, 0, 0, 99, 0, 0, 0)),
    # A negative nice travels as the u32 of its two's complement: the C side
    # reads it back as int32_t sched_nice.
    ({"policy": "SCHED_OTHER", "nice": -20}, (0, 0, 0xFFFFFFEC, 0, 0, 0, 0)),
    ({"policy": "SCHED_BATCH", "nice": -1}, (3, 0, 0xFFFFFFFF, 0, 0, 0, 0)),
    ({"policy": "SCHED_DEADLINE", "runtime": 10_000_000, "deadline": 30_000_000,
      "period": 30_000_000}, (6, 0, 0, 0, 10_000_000, 30_000_000, 30_000_000)),
    ({"policy": "SCHED_DEADLINE", "runtime": 2**64 - 1}, (6, 0, 0, 0, 2**64 - 1, 0, 0)),
])
def test_sched_args(sched, args):
    assert process_attrs.sched_args({"scheduler": sched}) == args


@pytest.mark.parametrize("flag, bit", [
    ("SCHED_FLAG_RESET_ON_FORK", 0x01), ("SCHED_FLAG_RECLAIM", 0x02),
    ("SCHED_FLAG_DL_OVERRUN", 0x04), ("SCHED_FLAG_KEEP_POLICY", 0x08),
    ("SCHED_FLAG_KEEP_PARAMS", 0x10), ("SCHED_FLAG_UTIL_CLAMP_MIN", 0x20),
    ("SCHED_FLAG_UTIL_CLAMP_MAX", 0x40),
])
def test_each_sched_flag_is_the_kernels_bit(flag, bit):
    # include/uapi/linux/sched.h
    assert process_attrs.sched_args({"scheduler": {"policy": "SCHED_OTHER",
                                                   "flags": [flag]}})[1] == bit


def test_sched_flags_are_ored():
    args = process_attrs.sched_args({"scheduler": {
        "policy": "SCHED_BATCH", "flags": ["SCHED_FLAG_RESET_ON_FORK", "SCHED_FLAG_KEEP_PARAMS",
                                           "SCHED_FLAG_RESET_ON_FORK"]}})
    assert args[1] == 0x11


def test_sched_absent_is_none():
    assert process_attrs.sched_args({}) is None


@pytest.mark.parametrize("sched, pointer, problem", [
    ({"policy": "SCHED_NOPE"}, "/process/scheduler/policy", "unknown policy 'SCHED_NOPE'"),
    ({}, "/process/scheduler/policy", "unknown policy None"),
    ({"policy": "SCHED_OTHER", "flags": ["SCHED_FLAG_RECLAIM", "SCHED_FLAG_NOPE"]},
     "/process/scheduler/flags/1", "unknown flag 'SCHED_FLAG_NOPE'"),
    ({"policy": "SCHED_OTHER", "nice": 20}, "/process/scheduler/nice", "20 is outside -20..19"),
    ({"policy": "SCHED_BATCH", "nice": -21}, "/process/scheduler/nice", "-21 is outside -20..19"),
    ({"policy": "SCHED_FIFO"}, "/process/scheduler/priority",
     "SCHED_FIFO needs a priority from 1 to 99"),
    ({"policy": "SCHED_FIFO", "priority": 0}, "/process/scheduler/priority",
     "SCHED_FIFO needs a priority from 1 to 99"),
    ({"policy": "SCHED_RR", "priority": 100}, "/process/scheduler/priority",
     "SCHED_RR needs a priority from 1 to 99"),
    ({"policy": "SCHED_BATCH", "priority": 5}, "/process/scheduler/priority",
     "SCHED_BATCH takes no priority (only SCHED_FIFO and SCHED_RR do)"),
    ({"policy": "SCHED_DEADLINE", "priority": 1, "runtime": 1}, "/process/scheduler/priority",
     "SCHED_DEADLINE takes no priority (only SCHED_FIFO and SCHED_RR do)"),
    ({"policy": "SCHED_OTHER", "runtime": 1}, "/process/scheduler",
     "runtime, deadline and period are for SCHED_DEADLINE only"),
    ({"policy": "SCHED_FIFO", "priority": 5, "period": 1000}, "/process/scheduler",
     "runtime, deadline and period are for SCHED_DEADLINE only"),
])
def test_sched_errors_name_the_field(sched, pointer, problem):
    assert_error(config_error(process_attrs.sched_args, {"scheduler": sched}), pointer, problem)


def test_sched_errors_in_a_process_file_point_into_it():
    err = config_error(process_attrs.sched_args, {"scheduler": {"policy": "SCHED_FIFO"}}, "")
    assert err.pointer == "/scheduler/priority"


def test_sched_op_encodes_like_struct_sched_attr():
    args = process_attrs.sched_args({"scheduler": {"policy": "SCHED_BATCH", "nice": -3,
                                                   "flags": ["SCHED_FLAG_RESET_ON_FORK"]}})
    data = plan.encode([Op("SCHED", args)])
    op, length = struct.unpack_from("<II", data, 4)
    assert op == lib.OP_SCHED and length == 4 + 8 + 4 + 4 + 8 * 3
    policy, flags, nice, prio, rt, dl, period = struct.unpack_from("<IQiIQQQ", data, 12)
    assert (policy, flags, nice, prio, rt, dl, period) == (3, 1, -3, 0, 0, 0, 0)


# -- execCPUAffinity --

@pytest.mark.parametrize("cpus, want", [
    ("0", mask(0)),
    ("1", mask(1)),
    ("0-3,7", mask(0, 1, 2, 3, 7)),
    ("7,0-3", mask(0, 1, 2, 3, 7)),
    ("2-2", mask(2)),
    ("0,0,0-1", mask(0, 1)),
    (" 1 - 3 , 5 ", mask(1, 2, 3, 5)),  # the schema allows spaces
    ("63", mask(63)),
    ("64", mask(64, words=2)),  # whole 64-bit words, as the kernel's cpumask
    ("0,64-65", mask(0, 64, 65, words=2)),
    ("8191", mask(8191, words=128)),
])
def test_cpu_mask(cpus, want):
    assert process_attrs.cpu_mask(cpus, "/p") == want


@pytest.mark.parametrize("cpus", [
    "3-1", "", ",", "0,", ",0", "0,,1", "-1", "1-", "-", "1-2-3", "a", "0x1", "1.0", "0 1",
    "8192", "0-8192", "99999999999999999999",
])
def test_bad_cpu_lists_name_the_field(cpus):
    err = config_error(process_attrs.cpu_mask, cpus, "/process/execCPUAffinity/final")
    assert_error(err, "/process/execCPUAffinity/final", f"{cpus!r} is not a CPU list like 0-3,7")


@pytest.mark.parametrize("cpus", ["1_0", "\u0661"])
def test_cpu_list_digits_are_ascii_digits(cpus):
    config_error(process_attrs.cpu_mask, cpus, "/p")


@pytest.mark.parametrize("which", ["initial", "final"])
def test_affinity_picks_its_field_and_names_it(which):
    other = "final" if which == "initial" else "initial"
    process = {"execCPUAffinity": {which: "1", other: "0"}}
    assert process_attrs.affinity(process, which) == mask(1)
    bad = {"execCPUAffinity": {which: "3-1"}}
    assert_error(config_error(process_attrs.affinity, bad, which),
                 f"/process/execCPUAffinity/{which}", "'3-1' is not a CPU list like 0-3,7")
    assert config_error(process_attrs.affinity, bad, which, "").pointer == \
        f"/execCPUAffinity/{which}"


@pytest.mark.parametrize("process", [{}, {"execCPUAffinity": {}},
                                     {"execCPUAffinity": {"initial": "", "final": ""}}])
def test_affinity_absent_or_empty_is_none(process):
    assert process_attrs.affinity(process, "initial") is None
    assert process_attrs.affinity(process, "final") is None


# -- personality --

def test_personality():
    assert process_attrs.personality({}) is None
    assert process_attrs.personality({"personality": {"domain": "LINUX"}}) == 0
    # PER_LINUX32
    assert process_attrs.personality({"personality": {"domain": "LINUX32"}}) == 0x0008
    assert process_attrs.personality({"personality": {"domain": "LINUX32", "flags": []}}) == 8


@pytest.mark.parametrize("pers, pointer, problem", [
    ({"domain": "LINUX64"}, "/linux/personality/domain",
     "unknown domain 'LINUX64': expected LINUX or LINUX32"),
    ({}, "/linux/personality/domain", "unknown domain None: expected LINUX or LINUX32"),
    ({"domain": "LINUX32", "flags": ["ADDR_NO_RANDOMIZE"]}, "/linux/personality/flags",
     "personality flags are not supported"),
    ({"domain": "LINUX", "flags": ["SHORT_INODE", "WHOLE_SECONDS"]}, "/linux/personality/flags",
     "personality flags are not supported"),
])
def test_personality_errors_name_the_field(pers, pointer, problem):
    assert_error(config_error(process_attrs.personality, {"personality": pers}), pointer, problem)


# -- timeOffsets --

def test_time_offsets_lines_for_timens_offsets():
    linux = {"timeOffsets": {"monotonic": {"secs": 86400, "nanosecs": 5},
                             "boottime": {"secs": -7}}}
    # clock secs nanosecs, one line each (Documentation: time_namespaces(7))
    assert process_attrs.time_offsets(linux, True) == "monotonic 86400 5\nboottime -7 0\n"
    assert process_attrs.time_offsets({"timeOffsets": {"boottime": {}}}, True) == "boottime 0 0\n"
    assert process_attrs.time_offsets(
        {"timeOffsets": {"monotonic": {"nanosecs": 999_999_999}}}, True) == \
        "monotonic 0 999999999\n"


@pytest.mark.parametrize("linux", [{}, {"timeOffsets": {}}])
def test_no_time_offsets_is_none_with_or_without_a_time_namespace(linux):
    assert process_attrs.time_offsets(linux, True) is None
    assert process_attrs.time_offsets(linux, False) is None


@pytest.mark.parametrize("offsets, new_ns, pointer, problem", [
    ({"monotonic": {"secs": 1}}, False, "/linux/timeOffsets",
     "needs a new time namespace in /linux/namespaces"),
    ({"realtime": {"secs": 1}}, True, "/linux/timeOffsets/realtime",
     "unknown clock: expected monotonic or boottime"),
    ({"monotonic": {"secs": 1}, "MONOTONIC": {}}, True, "/linux/timeOffsets/MONOTONIC",
     "unknown clock: expected monotonic or boottime"),
    ({"boottime": {"nanosecs": 10**9}}, True, "/linux/timeOffsets/boottime/nanosecs",
     "1000000000 is not below 1e9"),
    ({"monotonic": {"nanosecs": -1}}, True, "/linux/timeOffsets/monotonic/nanosecs",
     "-1 is not below 1e9"),
])
def test_time_offset_errors_name_the_field(offsets, new_ns, pointer, problem):
    err = config_error(process_attrs.time_offsets, {"timeOffsets": offsets}, new_ns)
    assert_error(err, pointer, problem)


def test_time_offset_pointer_escapes_the_clock_name():
    err = config_error(process_attrs.time_offsets, {"timeOffsets": {"mono/tonic~": {}}}, True)
    assert err.pointer == "/linux/timeOffsets/mono~1tonic~0"


# -- LSM labels --

def test_lsm_writes(monkeypatch):
    monkeypatch.setattr(process_attrs, "apparmor_enabled", lambda: True)
    monkeypatch.setattr(process_attrs, "selinux_enabled", lambda: True)
    assert process_attrs.lsm_writes({}) == []
    assert process_attrs.lsm_writes({"apparmorProfile": "", "selinuxLabel": ""}) == []
    # AppArmor wants "exec PROFILE" in its own attr dir; both apply at execve.
    assert process_attrs.lsm_writes({"apparmorProfile": "docker-default",
                                     "selinuxLabel": "system_u:system_r:container_t:s0"}) == [
        ("/proc/self/attr/apparmor/exec", "exec docker-default"),
        ("/proc/self/attr/exec", "system_u:system_r:container_t:s0")]


@pytest.mark.parametrize("field, enabled, problem", [
    ("apparmorProfile", "apparmor_enabled", "AppArmor is not enabled on this host"),
    ("selinuxLabel", "selinux_enabled", "SELinux is not enabled on this host"),
])
def test_lsm_label_without_the_lsm_names_the_field(monkeypatch, field, enabled, problem):
    monkeypatch.setattr(process_attrs, "apparmor_enabled", lambda: True)
    monkeypatch.setattr(process_attrs, "selinux_enabled", lambda: True)
    monkeypatch.setattr(process_attrs, enabled, lambda: False)
    err = config_error(process_attrs.lsm_writes, {field: "x"})
    assert_error(err, f"/process/{field}", problem)
    assert config_error(process_attrs.lsm_writes, {field: "x"}, "").pointer == f"/{field}"


def fake_open(files: dict):
    def opener(path, *args, **kwargs):
        if path not in files or files[path] is None:
            raise FileNotFoundError(2, "No such file or directory", path)
        return io.StringIO(files[path])
    return opener


MOUNTINFO = ("22 1 0:21 / /proc rw,nosuid - proc proc rw\n"
             "25 1 0:23 / /sys rw - sysfs sysfs rw\n"
             "30 25 0:26 / /sys/fs/cgroup rw - tmpfs tmpfs rw,mode=755\n")


@pytest.mark.parametrize("files, apparmor, selinux, resctrl", [
    ({"/proc/self/mountinfo": MOUNTINFO}, False, False, False),
    ({"/sys/module/apparmor/parameters/enabled": "Y\n", "/proc/self/mountinfo": MOUNTINFO},
     True, False, False),
    ({"/sys/module/apparmor/parameters/enabled": "N\n", "/proc/self/mountinfo": MOUNTINFO
      + "40 25 0:30 / /sys/fs/selinux rw - selinuxfs selinuxfs rw\n"
      + "41 25 0:31 / /sys/fs/resctrl rw - resctrl resctrl rw\n"}, False, True, True),
    # A mount *point* or source named like the fs type is not the fs type;
    # neither is a type that only begins like it.
    ({"/sys/module/apparmor/parameters/enabled": "",
      "/proc/self/mountinfo": MOUNTINFO
      + "42 1 0:32 / /mnt/resctrl\\040x rw - tmpfs resctrl rw\n"
      + "43 1 0:33 / /selinuxfs rw - tmpfs selinuxfs rw\n"
      + "44 1 0:34 / /x rw - selinuxfs2 none rw\n"}, False, False, False),
    ({}, False, False, False),  # nothing readable: nothing enabled
])
def test_host_checks_read_sysfs_and_mountinfo(monkeypatch, files, apparmor, selinux, resctrl):
    monkeypatch.setattr(process_attrs, "open", fake_open(files), raising=False)
    monkeypatch.setattr(procfs, "open", fake_open(files), raising=False)  # mountinfo
    assert process_attrs.apparmor_enabled() is apparmor
    assert process_attrs.selinux_enabled() is selinux
    assert process_attrs.resctrl_mounted() is resctrl


# -- intelRdt --

def test_intel_rdt(monkeypatch):
    monkeypatch.setattr(process_attrs, "resctrl_mounted", lambda: False)
    assert process_attrs.check_intel_rdt({}) is None
    for rdt in ({}, {"closID": "c"}, {"l3CacheSchema": "L3:0=ff"}):
        assert_error(config_error(process_attrs.check_intel_rdt, {"intelRdt": rdt}),
                     "/linux/intelRdt", "not supported on this host: no resctrl filesystem "
                     "is mounted (Intel RDT needs /sys/fs/resctrl)")
    monkeypatch.setattr(process_attrs, "resctrl_mounted", lambda: True)
    assert_error(config_error(process_attrs.check_intel_rdt, {"intelRdt": {"closID": "c"}}),
                 "/linux/intelRdt", "Intel RDT is not supported by pyrunc yet")


# -- where plan.build puts the ops --

def test_no_attributes_no_ops():
    ops = names(build(config()))
    for name in ("IOPRIO", "SCHED", "AFFINITY", "PERSONALITY"):
        assert name not in ops
    assert "UNSHARE" not in ops
    assert not any(op.name == "WRITE_FILE" and op.args[0].startswith("/proc/self/attr")
                   for op in build(config()))


def test_ioprio_and_sched_run_after_pivot_while_still_root():
    ops = build(config({"ioPriority": {"class": "IOPRIO_CLASS_BE", "priority": 5},
                        "scheduler": {"policy": "SCHED_BATCH", "nice": 5}}))
    n = names(ops)
    assert only(ops, "IOPRIO") == Op("IOPRIO", (2 << 13 | 5,))
    assert only(ops, "SCHED") == Op("SCHED", (3, 0, 5, 0, 0, 0, 0))
    # Raising a priority needs CAP_SYS_NICE / CAP_SYS_ADMIN: before the
    # credential ops (uid 1000, capabilities dropped) and before rlimits
    # (RLIMIT_NICE/RTPRIO would not limit root anyway, but must not race it).
    assert n.index("PIVOT") < n.index("IOPRIO") < n.index("SCHED") < n.index("RLIMIT")
    assert n.index("SCHED") < n.index("DROP_BOUNDING") < n.index("SETUID") < n.index("CAPSET")
    assert n.index("SCHED") < n.index("EXEC")


def test_sched_alone_and_ioprio_alone():
    n = names(build(config({"scheduler": {"policy": "SCHED_FIFO", "priority": 10}})))
    assert "IOPRIO" not in n and n.index("SCHED") < n.index("DROP_BOUNDING")
    n = names(build(config({"ioPriority": {"class": "IOPRIO_CLASS_IDLE", "priority": 0}})))
    assert "SCHED" not in n and n.index("IOPRIO") < n.index("DROP_BOUNDING")


def test_lsm_writes_after_rlimits_before_credentials(monkeypatch):
    monkeypatch.setattr(process_attrs, "apparmor_enabled", lambda: True)
    ops = build(config({"apparmorProfile": "p"}))
    n = names(ops)
    i = ops.index(Op("WRITE_FILE", ("/proc/self/attr/apparmor/exec", "exec p")))
    assert n.index("RLIMIT") < i < n.index("DROP_BOUNDING")


def test_personality_op_after_pivot_before_the_process_ops():
    ops = build(config({"ioPriority": {"class": "IOPRIO_CLASS_IDLE", "priority": 0}},
                       personality={"domain": "LINUX32"}))
    n = names(ops)
    assert only(ops, "PERSONALITY") == Op("PERSONALITY", (8,))
    assert n.index("PIVOT") < n.index("PERSONALITY") < n.index("IOPRIO") < n.index("EXEC")
    assert only(build(config(personality={"domain": "LINUX"})), "PERSONALITY") == \
        Op("PERSONALITY", (0,))


def test_affinity_is_not_for_the_init():
    """config.md: execCPUAffinity "is not applicable to the container's init
    process": checked at create, applied to exec'd processes (build_exec)."""
    c = config({"execCPUAffinity": {"initial": "1", "final": "0-1"}})
    assert "AFFINITY" not in names(build(c, clone_cgroup_fd=9))
    bad = config({"execCPUAffinity": {"final": "3-1"}})
    assert config_error(build, bad).pointer == "/process/execCPUAffinity/final"


def test_time_offsets_are_written_before_the_clone_into_the_namespace():
    c = config({},
               timeOffsets={"monotonic": {"secs": 31536000},
                            "boottime": {"secs": 1, "nanosecs": 2}})
    c["linux"]["namespaces"].append({"type": "time"})
    ops = build(c)
    # The first init unshares (its children get the namespace), writes the
    # offsets while no process is in it yet, then clones without CLONE_NEWTIME.
    assert ops[:3] == [
        Op("UNSHARE", (lib.CLONE_NEWTIME,)),
        Op("WRITE_FILE", ("/proc/self/timens_offsets", "monotonic 31536000 0\nboottime 1 2\n")),
        Op("CLONE", (lib.CLONE_NEWNS | lib.CLONE_NEWPID, plan.NO_FD)),
    ]
    assert not only(ops, "CLONE").args[0] & lib.CLONE_NEWTIME
    assert names(ops).count("UNSHARE") == 1


def test_time_namespace_without_offsets_is_cloned():
    c = config()
    c["linux"]["namespaces"].append({"type": "time"})
    ops = build(c)
    assert ops[0] == Op("CLONE", (lib.CLONE_NEWNS | lib.CLONE_NEWPID | lib.CLONE_NEWTIME,
                                  plan.NO_FD))
    assert "UNSHARE" not in names(ops)


def test_time_offsets_with_joins_and_cgroup_namespace():
    c = config(timeOffsets={"boottime": {"secs": 5}})
    c["linux"]["namespaces"] += [{"type": "time"}, {"type": "cgroup"},
                                 {"type": "ipc", "path": "/proc/1/ns/ipc"}]
    ops = build(c, clone_cgroup_fd=4)
    assert ops[:4] == [
        Op("SETNS", (lib.CLONE_NEWIPC, "/proc/1/ns/ipc")),
        Op("UNSHARE", (lib.CLONE_NEWTIME,)),
        Op("WRITE_FILE", ("/proc/self/timens_offsets", "boottime 5 0\n")),
        Op("CLONE", (lib.CLONE_NEWNS | lib.CLONE_NEWPID | lib.CLONE_INTO_CGROUP, 4)),
    ]
    # the cgroup namespace is still unshared later, in the init
    n = names(ops)
    assert ops[n.index("UNSHARE", 2)] == Op("UNSHARE", (lib.CLONE_NEWCGROUP,))


@pytest.mark.parametrize("namespaces", [
    [],  # no time namespace at all
    [{"type": "time", "path": "/proc/1/ns/time"}],  # joined: its offsets are fixed
])
def test_time_offsets_need_a_new_time_namespace(namespaces):
    c = config(timeOffsets={"monotonic": {"secs": 1}})
    c["linux"]["namespaces"] += namespaces
    assert_error(config_error(build, c), "/linux/timeOffsets",
                 "needs a new time namespace in /linux/namespaces")


def test_intel_rdt_is_refused_by_build(monkeypatch):
    monkeypatch.setattr(process_attrs, "resctrl_mounted", lambda: False)
    err = config_error(build, config(intelRdt={"closID": "c"}))
    assert_error(err, "/linux/intelRdt", "not supported on this host: no resctrl filesystem "
                 "is mounted (Intel RDT needs /sys/fs/resctrl)")
    monkeypatch.setattr(process_attrs, "resctrl_mounted", lambda: True)
    assert config_error(build, config(intelRdt={})).problem == \
        "Intel RDT is not supported by pyrunc yet"


@pytest.mark.parametrize("process, linux, pointer", [
    ({"ioPriority": {"class": "IOPRIO_CLASS_X", "priority": 0}}, {}, "/process/ioPriority/class"),
    ({"scheduler": {"policy": "SCHED_FIFO"}}, {}, "/process/scheduler/priority"),
    ({"execCPUAffinity": {"initial": "3-1"}}, {}, "/process/execCPUAffinity/initial"),
    ({"execCPUAffinity": {"final": "3-1"}}, {}, "/process/execCPUAffinity/final"),
    ({}, {"personality": {"domain": "LINUX", "flags": ["x"]}}, "/linux/personality/flags"),
    ({}, {"timeOffsets": {"monotonic": {"secs": 1}}}, "/linux/timeOffsets"),
])
def test_build_refuses_bad_attributes(process, linux, pointer):
    assert config_error(build, config(process, **linux)).pointer == pointer


def test_every_attribute_op_encodes():
    c = config({"ioPriority": {"class": "IOPRIO_CLASS_BE", "priority": 5},
                "scheduler": {"policy": "SCHED_DEADLINE", "runtime": 1, "deadline": 2, "period": 3},
                "execCPUAffinity": {"initial": "0-1", "final": "64"}},
               personality={"domain": "LINUX32"}, timeOffsets={"monotonic": {"secs": -1}})
    c["linux"]["namespaces"].append({"type": "time"})
    data = plan.encode(build(c))
    assert data.startswith(struct.pack("<I", lib.PLAN_MAGIC))
    # The first op after the magic: UNSHARE CLONE_NEWTIME (a u64).
    assert struct.unpack_from("<IIQ", data, 4) == (lib.OP_UNSHARE, 8, lib.CLONE_NEWTIME)
    # AFFINITY (an exec'd process's) is a byte string: its length, the mask, a NUL.
    data = plan.encode(build_exec(c["process"]))
    aff = (struct.pack("<II", lib.OP_AFFINITY, 4 + 16 + 1) + struct.pack("<I", 16)
           + mask(64, words=2))
    assert aff + b"\0" in data


# -- exec: build_exec --

def test_exec_ops_order():
    process = {"args": ["/bin/sh"], "cwd": "/", "env": ["PATH=/bin"],
               "ioPriority": {"class": "IOPRIO_CLASS_IDLE", "priority": 0},
               "scheduler": {"policy": "SCHED_BATCH", "nice": 3},
               "execCPUAffinity": {"initial": "1", "final": "0"}}
    ops = build_exec(process, cgroup_task_fds=[(8, "/cg/cpuset/x/tasks")])
    n = names(ops)
    assert ops[:3] == [Op("SETNS_FD", (6, lib.CLONE_NEWNS | lib.CLONE_NEWPID)),
                       Op("AFFINITY", (mask(1),)),
                       Op("CLONE", (lib.CLONE_INTO_CGROUP, 7))]
    assert ops[3] == Op("WRITE_FD", (8, "0", "join cgroup /cg/cpuset/x/tasks"))
    final = n.index("AFFINITY", 2)
    assert ops[final] == Op("AFFINITY", (mask(0),))
    assert n.index("WRITE_FD") < final < n.index("IOPRIO") < n.index("SCHED")
    assert n.index("SCHED") < n.index("DROP_BOUNDING")
    assert ops[n.index("IOPRIO")] == Op("IOPRIO", (3 << 13,))
    assert ops[n.index("SCHED")] == Op("SCHED", (3, 0, 3, 0, 0, 0, 0))
    assert "EXEC_FIFO" not in n and n[-1] == "EXEC"


def test_exec_without_attributes_has_none_of_their_ops():
    n = names(build_exec({"args": ["/bin/true"], "cwd": "/"}))
    for name in ("AFFINITY", "IOPRIO", "SCHED", "PERSONALITY", "UNSHARE"):
        assert name not in n


@pytest.mark.parametrize("process, field", [
    ({"ioPriority": {"class": "nope", "priority": 0}}, "/ioPriority/class"),
    ({"scheduler": {"policy": "SCHED_RR", "priority": 0}}, "/scheduler/priority"),
    ({"execCPUAffinity": {"initial": "x"}}, "/execCPUAffinity/initial"),
    ({"execCPUAffinity": {"final": "1-0"}}, "/execCPUAffinity/final"),
])
@pytest.mark.parametrize("pointer", ["/process", ""])
def test_exec_errors_name_the_field_under_the_given_pointer(process, field, pointer):
    process = {"args": ["/bin/true"], "cwd": "/", **process}
    assert config_error(build_exec, process, pointer).pointer == pointer + field


# -- linux.memoryPolicy --

@pytest.mark.parametrize("policy, want", [
    ({"mode": "MPOL_DEFAULT"}, (0, b"")),
    ({"mode": "MPOL_LOCAL"}, (4, b"")),
    ({"mode": "MPOL_PREFERRED"}, (1, b"")),
    ({"mode": "MPOL_BIND", "nodes": "0", "flags": ["MPOL_F_STATIC_NODES"]}, (2 | 1 << 15, mask(0))),
    ({"mode": "MPOL_INTERLEAVE", "nodes": "0-1,3"}, (3, mask(0, 1, 3))),
])
def test_memory_policy(policy, want):
    assert process_attrs.memory_policy({"memoryPolicy": policy}) == want


@pytest.mark.parametrize("policy, pointer, words", [
    ({"mode": "MPOL_BIND"}, "/linux/memoryPolicy/nodes", "needs at least one node"),
    ({"mode": "MPOL_LOCAL", "nodes": "0"}, "/linux/memoryPolicy/nodes", "takes no nodes"),
    ({"mode": "MPOL_BIND", "nodes": "0-"}, "/linux/memoryPolicy/nodes", "memory node list"),
    ({"mode": "MPOL_BIND", "nodes": "0",
      "flags": ["MPOL_F_STATIC_NODES", "MPOL_F_RELATIVE_NODES"]}, "/linux/memoryPolicy/flags",
     "exclude each other"),
])
def test_memory_policy_errors(policy, pointer, words):
    err = config_error(process_attrs.memory_policy, {"memoryPolicy": policy})
    assert err.pointer == pointer and words in err.problem, err


def test_memory_policy_op_for_the_init_and_exec():
    c = config(memoryPolicy={"mode": "MPOL_BIND", "nodes": "0"})
    assert only(build(c), "MEMPOLICY") == Op("MEMPOLICY", (2, mask(0)))
    ops = build_exec({"args": ["/bin/true"], "cwd": "/"}, mempolicy=(2, mask(0)))
    assert only(ops, "MEMPOLICY") == Op("MEMPOLICY", (2, mask(0)))
