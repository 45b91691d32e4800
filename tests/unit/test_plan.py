"""The launch plan: pure decisions, checked without root."""
import struct

import pytest

from runtime import plan, plan_ops, plan_process
from runtime.cgroups import CgroupMount
from runtime import _consts as lib
from runtime.errors import ConfigError
from runtime.plan import HostProbe, Op, PlanContext


class FakeProbe(HostProbe):
    def __init__(self, dirs=(), files=()):
        self.dirs, self.files = set(dirs), set(files)

    def is_dir(self, path):
        return path in self.dirs

    def exists(self, path):
        return path in self.dirs or path in self.files

    def proc_and_sys_outside(self, rootfs):
        return ["/proc", "/sys", "/srv/other/proc"]


def config(**changes):
    c = {
        "ociVersion": "1.3.0",
        "root": {"path": "rootfs"},
        "process": {"args": ["/bin/sh"], "cwd": "/", "env": ["PATH=/bin"]},
        "mounts": [],
        "linux": {"namespaces": [{"type": "mount"}, {"type": "pid"}]},
    }
    c.update(changes)
    return c


def build(c, **ctx):
    return plan.build(c, PlanContext(bundle="/b", probe=ctx.pop("probe", FakeProbe()), **ctx))


def names(ops):
    return [op.name for op in ops]


def test_order_of_phases():
    ops = names(build(config()))
    # clone first, then wait for the parent, rootfs before pivot, credentials
    # after pivot, the exec fifo after READY, exec last.
    assert ops[0] == "CLONE"
    assert ops.index("WAIT") < ops.index("ROOTFS") < ops.index("PIVOT")
    assert ops.index("PIVOT") < ops.index("SETUID") < ops.index("CAPSET")
    assert ops.index("LOOKUP") < ops.index("READY") < ops.index("EXEC_FIFO") < ops.index("EXEC")
    assert ops[-1] == "EXEC"


def test_namespaces_new_and_joined():
    c = config(linux={"namespaces": [
        {"type": "mount"}, {"type": "pid"}, {"type": "network", "path": "/proc/1/ns/net"},
        {"type": "cgroup"}, {"type": "user", "path": "/proc/1/ns/user"}]})
    ops = build(c)
    setns = [op for op in ops if op.name == "SETNS"]
    # The user namespace is joined first: it grants the right to join others.
    assert [op.args for op in setns] == [(lib.CLONE_NEWUSER, "/proc/1/ns/user"),
                                        (lib.CLONE_NEWNET, "/proc/1/ns/net")]
    clone = next(op for op in ops if op.name == "CLONE")
    # The cgroup namespace is unshared later, once the init is in its cgroup.
    assert clone.args == (lib.CLONE_NEWNS | lib.CLONE_NEWPID, plan.NO_FD)
    assert Op("UNSHARE", (lib.CLONE_NEWCGROUP,)) in ops
    assert names(ops).index("UNSHARE") > names(ops).index("WAIT")


def test_cgroup_placement_without_the_global_lock():
    ops = build(config(), clone_cgroup_fd=9, cgroup_task_fds=[(10, "/cg/cpu/x/tasks"),
                                                             (11, "/cg/pids/x/tasks")])
    assert ops[0] == Op("CLONE", (lib.CLONE_NEWNS | lib.CLONE_NEWPID | lib.CLONE_INTO_CGROUP, 9))
    # The init writes "0" (itself) to each v1 tasks file before anything else.
    assert ops[1:3] == [Op("WRITE_FD", (10, "0", "join cgroup /cg/cpu/x/tasks")),
                        Op("WRITE_FD", (11, "0", "join cgroup /cg/pids/x/tasks"))]
    assert ops[3].name == "WAIT"


def test_loopback_only_with_new_net_namespace():
    assert "LOOPBACK_UP" not in names(build(config()))
    c = config(linux={"namespaces": [{"type": "mount"}, {"type": "network"}]})
    assert "LOOPBACK_UP" in names(build(c))


def test_bind_mount_of_file_and_dir():
    c = config(mounts=[
        {"destination": "/data", "source": "/host/dir", "options": ["rbind", "ro"]},
        {"destination": "/etc/resolv.conf", "source": "conf/resolv.conf", "type": "bind"},
    ])
    ops = build(c, probe=FakeProbe(dirs={"/host/dir"}, files={"/b/conf/resolv.conf"}))
    i = names(ops).index("ROOTFS")
    assert ops[i + 1] == Op("MKDIRS", (0o755, "/data"))
    flags, remount, prop, src, dst, fstype, data, no_symlinks = ops[i + 2].args
    assert (flags, src, dst) == (lib.MS_BIND | lib.MS_REC, "/host/dir", "/data")
    assert remount == lib.MS_BIND | lib.MS_REMOUNT | lib.MS_RDONLY
    assert ops[i + 3] == Op("MKFILE", ("/etc/resolv.conf",))  # relative source: from the bundle
    assert ops[i + 4].args[3] == "/b/conf/resolv.conf"


def test_missing_bind_source_names_the_field():
    c = config(mounts=[{"destination": "/x", "source": "/nope", "options": ["bind"]}])
    with pytest.raises(ConfigError, match=r"/mounts/0/source: /nope: no such file"):
        build(c)


def test_mount_destination_is_cleaned():
    c = config(mounts=[{"destination": "/a/../../b//c/", "type": "tmpfs", "source": "tmpfs"}])
    ops = build(c)
    assert Op("MKDIRS", (0o755, "/b/c")) in ops


def test_proc_and_sysfs_refuse_symlinked_destinations():
    c = config(mounts=[{"destination": "/proc", "type": "proc", "source": "proc"},
                       {"destination": "/sys", "type": "sysfs", "source": "sysfs"},
                       {"destination": "/t", "type": "tmpfs", "source": "tmpfs"}])
    mounts = [op.args for op in build(c) if op.name == "MOUNT"]
    assert [(m[4], m[7]) for m in mounts] == [("/proc", 1), ("/sys", 1), ("/t", 0)]


def test_default_devices_unless_listed():
    c = config()
    c["linux"]["devices"] = [{"path": "/dev/null", "type": "c", "major": 1, "minor": 3, "fileMode": 0o600}]
    mknods = [op.args for op in build(c) if op.name == "MKNOD"]
    paths = [a[-2] for a in mknods]
    assert paths.count("/dev/null") == 1
    # A listed device refuses a different file in its place (replace 0); a
    # default one replaces whatever the rootfs put there (replace 1).
    assert mknods[0] == (lib.S_IFCHR | 0o600, 1, 3, 0, 0, "/dev/null", 0)
    assert {"/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty"} <= set(paths)
    assert all(a[-1] == 1 for a in mknods[1:])


def test_capabilities_and_ambient_needs_inheritable():
    c = config()
    c["process"]["capabilities"] = {"bounding": ["CAP_KILL", "CAP_CHOWN"], "effective": ["CAP_KILL"],
                                    "permitted": ["CAP_KILL"], "inheritable": [],
                                    "ambient": ["CAP_KILL"]}
    ops = build(c, cap_last_cap=40)
    assert Op("DROP_BOUNDING", ((1 << 5) | 1, 40)) in ops
    assert Op("CAPSET", (1 << 5, 1 << 5, 0)) in ops
    assert "AMBIENT" not in names(ops)  # not inheritable: the kernel would refuse


def test_user_and_rlimits():
    c = config()
    c["process"]["user"] = {"uid": 7, "gid": 8, "additionalGids": [9, 10], "umask": 0o27}
    c["process"]["rlimits"] = [{"type": "RLIMIT_NOFILE", "soft": 10, "hard": 20},
                               {"type": "RLIMIT_CORE", "soft": -1, "hard": 2**64 - 1}]
    ops = build(c)
    assert Op("SETGROUPS", ((9, 10),)) in ops
    assert Op("SETGID", (8,)) in ops and Op("SETUID", (7,)) in ops
    assert Op("UMASK", (0o27,)) in ops
    assert Op("RLIMIT", (7, 10, 20)) in ops
    assert Op("RLIMIT", (4, 2**64 - 1, 2**64 - 1)) in ops


def test_lookup_uses_the_containers_path():
    c = config()
    c["process"]["env"] = ["PATH=/a", "X=1", "PATH=/usr/bin:/bin"]
    assert Op("LOOKUP", ("/bin/sh", "/usr/bin:/bin")) in build(c)
    c["process"]["env"] = []
    assert Op("LOOKUP", ("/bin/sh", plan_process.DEFAULT_PATH)) in build(c)


def test_preserve_fds_moves_the_close_point():
    assert Op("CLOSE_FDS", (3,)) in build(config())
    assert Op("CLOSE_FDS", (5,)) in build(config(), preserve_fds=2)


def test_sysctl_hostname_masked_readonly():
    c = config(hostname="h")
    c["linux"].update(sysctl={"net.ipv4.ip_forward": "1"}, maskedPaths=["/proc/kcore"],
                      readonlyPaths=["/proc/sys"])
    c["root"]["readonly"] = True
    ops = build(c)
    after = names(ops)[names(ops).index("PIVOT"):]
    assert Op("WRITE_FILE", ("/proc/sys/net/ipv4/ip_forward", "1")) in ops
    assert Op("HOSTNAME", ("h",)) in ops
    assert after.index("WRITE_FILE") < after.index("READONLY")  # sysctl before /proc/sys is ro
    assert Op("MASK", ("/proc/kcore",)) in ops and Op("REMOUNT_RO", ("/",)) in ops


def test_rootfs_propagation():
    """Our copy of the host's tree becomes a slave (private if asked) before
    the rootfs is bound; rootfsPropagation is set on the new / after the
    pivot (shared: a new peer group; unbindable: no bind of it)."""
    def props(c):
        ops = build(c)
        return [(names(ops)[:i].count("PIVOT"), op.args) for i, op in enumerate(ops)
                if op.name == "MOUNT_PROPAGATE"]
    assert props(config()) == [(0, (lib.MS_SLAVE | lib.MS_REC, "/"))]
    for name, flag, before in (("private", lib.MS_PRIVATE, lib.MS_PRIVATE),
                               ("shared", lib.MS_SHARED, lib.MS_SLAVE),
                               ("unbindable", lib.MS_UNBINDABLE, lib.MS_SLAVE),
                               ("rslave", lib.MS_SLAVE, lib.MS_SLAVE)):
        c = config()
        c["linux"]["rootfsPropagation"] = name
        assert props(c) == [(0, (before | lib.MS_REC, "/")), (1, (flag | lib.MS_REC, "/"))], name


def test_cgroup_mount_v1_with_namespace():
    c = config(mounts=[{"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
                        "options": ["ro", "nosuid"]}])
    ctx_mounts = [CgroupMount("cgroup", "/sys/fs/cgroup/cpu/x", "cpu", "cpu"),
                  CgroupMount("cgroup", "/sys/fs/cgroup/systemd/x", "name=systemd", "systemd"),
                  CgroupMount("cgroup2", "/sys/fs/cgroup/unified/x", "", "unified")]
    ops = [op for op in build(c, cgroup_mounts=ctx_mounts) if op.name == "MOUNT"]
    assert ops[0].args[3:6] == ("tmpfs", "/sys/fs/cgroup", "tmpfs")
    assert ops[1].args[3:7] == ("cgroup", "/sys/fs/cgroup/cpu", "cgroup", "cpu")
    assert ops[2].args[3:7] == ("cgroup", "/sys/fs/cgroup/systemd", "cgroup", "name=systemd")
    assert ops[3].args[3:6] == ("cgroup2", "/sys/fs/cgroup/unified", "cgroup2")
    assert all(op.args[0] & lib.MS_RDONLY for op in ops[1:4])
    assert ops[4].args[0] & lib.MS_REMOUNT and ops[4].args[0] & lib.MS_RDONLY


def test_cgroup_mount_without_namespace_binds():
    c = config(mounts=[{"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup"}])
    bind = CgroupMount("cgroup2", "/sys/fs/cgroup/x", None, None)
    ops = [op for op in build(c, cgroup_mounts=[bind]) if op.name == "MOUNT"]
    assert ops == [Op("MOUNT", (lib.MS_BIND | lib.MS_REC, 0, 0, "/sys/fs/cgroup/x", "/sys/fs/cgroup",
                                "", "", 0))]


def test_recursive_options_follow_the_mount():
    c = config(mounts=[{"destination": "/x", "source": "/h", "options": ["rbind", "rro"]}])
    ops = build(c, probe=FakeProbe(dirs={"/h"}))
    i = names(ops).index("MOUNT_SETATTR")
    assert ops[i - 1].name == "MOUNT"
    assert ops[i] == Op("MOUNT_SETATTR", (lib.MOUNT_ATTR_RDONLY, 0, "/x"))


def test_encoding_matches_plan_h():
    data = plan.encode([Op("SETNS", (lib.CLONE_NEWNET, "/p")), Op("SETGROUPS", ((1, 2),)), Op("EXEC")])
    magic, op, length = struct.unpack_from("<III", data)
    assert magic == lib.PLAN_MAGIC and op == lib.OP_SETNS
    assert data[12:12 + length] == struct.pack("<I", lib.CLONE_NEWNET) + struct.pack("<I", 2) + b"/p\0"
    rest = data[12 + length:]
    assert struct.unpack_from("<II", rest) == (lib.OP_SETGROUPS, 12)
    assert rest[8:20] == struct.pack("<III", 2, 1, 2)
    assert struct.unpack_from("<II", rest, 20) == (lib.OP_EXEC, 0)


def test_every_op_has_a_code_and_signature():
    for name in plan_ops.SIGNATURES:
        assert isinstance(getattr(lib, "OP_" + name), int), name
    with pytest.raises(ValueError):
        plan.encode([Op("SETNS", (1,))])


def test_mount_label_goes_to_filesystems_but_proc_and_sysfs():
    """The plan with a label is what create builds where SELinux is enabled
    (container._mount_label gives "" elsewhere: the kernel would refuse it)."""
    c = config(mounts=[{"destination": "/proc", "type": "proc", "source": "proc"},
                       {"destination": "/t", "type": "tmpfs", "source": "tmpfs",
                        "options": ["size=1m"]},
                       {"destination": "/q", "type": "mqueue", "source": "mqueue"}])
    data = {op.args[4]: op.args[6] for op in build(c, mount_label="system_u:object_r:c_t:s0")
            if op.name == "MOUNT" and op.args[4] in ("/proc", "/t", "/q")}
    assert data == {"/proc": "", "/t": 'size=1m,context="system_u:object_r:c_t:s0"',
                    "/q": 'context="system_u:object_r:c_t:s0"'}
    assert all("context" not in (op.args[6] or "") for op in build(c) if op.name == "MOUNT")


def _filter():
    from runtime.seccomp import Filter
    return Filter(0, b"\0" * 8, False)


@pytest.mark.parametrize("nnp", [True, False])
def test_seccomp_load_point(nnp):
    """The filter goes on last: after it the init makes no system call but
    execve (a profile need allow nothing of the init's own: runtime-tools'
    default profile does not allow close_range). Without no_new_privs the
    load needs CAP_SYS_ADMIN, kept until then: the final capability sets come
    right after the load."""
    c = config()
    c["process"]["noNewPrivileges"] = nnp
    ops = build(c, seccomp=_filter())
    n = names(ops)
    assert n.count("SECCOMP") == 1
    assert n.index("RESET_SIGNALS") < n.index("READY") < n.index("EXEC_FIFO") < n.index("SECCOMP")
    assert n.index("CLOSE_FDS") < n.index("SECCOMP")
    after = n[n.index("SECCOMP") + 1:]
    sys_admin = 1 << 21
    capsets = [op.args for op in ops if op.name == "CAPSET"]
    if nnp:
        assert after == ["EXEC"]
        assert len(capsets) == 1 and not capsets[0][0] & sys_admin
    else:
        assert after == ["CAPSET", "EXEC"]
        interim, final = capsets
        assert interim[0] & sys_admin and interim[1] & sys_admin
        assert not final[0] & sys_admin and not final[1] & sys_admin
    assert "SECCOMP" not in names(build(config()))


def test_a_program_still_compiling_loads_from_its_memfd():
    """create's program compiles while the init sets up (seccomp.PendingProgram):
    the plan names the init's fd of the memfd, at the same point as SECCOMP."""
    from runtime.seccomp import Filter
    ops = build(config(), seccomp=Filter(5, None, False, pending=object()), seccomp_fd=12)
    n = names(ops)
    assert "SECCOMP" not in n and Op("SECCOMP_FD", (5, 12)) in ops
    assert n.index("READY") < n.index("EXEC_FIFO") < n.index("SECCOMP_FD") < n.index("EXEC")


def test_seccomp_notify_loads_before_ready():
    """A notify filter's fd goes to the parent (and on to the listener) at
    create: that load comes before READY."""
    from runtime.seccomp import Filter
    n = names(build(config(), seccomp=Filter(0, b"\0" * 8, True)))
    assert n.index("RESET_SIGNALS") < n.index("SECCOMP") < n.index("READY") < n.index("EXEC")


def test_without_mount_namespace_chroot_and_host_left_alone():
    """No mount namespace: runc's way (mounts in ours, then chroot), without
    a propagation change or a bind of the rootfs that would touch the host."""
    c = config()
    c["linux"]["namespaces"] = [ns for ns in c["linux"]["namespaces"] if ns["type"] != "mount"]
    ops = build(c)
    assert "MOUNT_PROPAGATE" not in names(ops)
    assert [op.args[1] for op in ops if op.name == "ROOTFS"] == [0]
    assert [op.args for op in ops if op.name == "PIVOT"] == [(lib.ROOT_CHROOT,)]
    own = build(config())
    assert [op.args[1] for op in own if op.name == "ROOTFS"] == [1]
    assert [op.args for op in own if op.name == "PIVOT"] == [(lib.ROOT_PIVOT,)]


def test_user_namespace_root_and_bound_devices():
    """A new user namespace: the init becomes its root after the maps (WAIT)
    and before the rootfs; devices are bind mounts (mknod is refused there)."""
    c = config(linux={"namespaces": [{"type": "mount"}, {"type": "user"}],
                      "uidMappings": [{"containerID": 0, "hostID": 1000, "size": 10}],
                      "gidMappings": [{"containerID": 0, "hostID": 1000, "size": 10}],
                      "devices": [{"type": "c", "path": "/dev/fuse", "major": 10, "minor": 229}]})
    ops = build(c)
    n = names(ops)
    assert n.index("WAIT") < n.index("SETGROUPS") < n.index("SETGID") < n.index("SETUID")
    assert n.index("SETUID") < n.index("ROOTFS")
    assert "MKNOD" not in n and Op("BIND_DEV", ("/dev/fuse", "/dev/fuse")) in ops
    assert Op("BIND_DEV", ("/dev/null", "/dev/null")) in ops
    assert ops[n.index("CLONE")].args[0] & lib.CLONE_NEWUSER


def test_joined_user_namespace_keeps_its_groups_setting():
    c = config(linux={"namespaces": [{"type": "mount"},
                                     {"type": "user", "path": "/proc/1/ns/user"}]})
    n = names(build(c))
    # setgroups may be denied in a namespace we did not make: not called
    assert n.index("WAIT") < n.index("SETGID") < n.index("SETUID") < n.index("ROOTFS")
    assert n.count("SETGROUPS") == 1  # the process's own, with the credentials


def test_id_mapped_mount_is_attached_from_the_parents_tree():
    c = config(mounts=[{"destination": "/data", "type": "bind", "source": "/src",
                        "options": ["rbind", "idmap", "ro"]}])
    ops = build(c, probe=FakeProbe(dirs={"/src"}), idmapped={"/mounts/0": 42})
    [attach] = [op for op in ops if op.name == "MOVE_MOUNT"]
    assert attach.args[0] == 42 and attach.args[3] == "/data"
    assert attach.args[1] & lib.MS_RDONLY  # ro still comes from a remount
    assert not [op for op in ops if op.name == "MOUNT" and op.args[4] == "/data"]


def test_a_read_only_mount_that_takes_content_is_made_read_only_after_the_pivot():
    """A read-only /dev still gets its devices, links and sub-mounts (mounted
    read-write, remounted read-only after the pivot, as runc); a read-only
    mount nothing goes into is mounted read-only at once."""
    c = config(mounts=[
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["ro", "nosuid"]},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts"},
        {"destination": "/data", "type": "tmpfs", "source": "tmpfs", "options": ["ro"]}])
    ops = build(c)
    n = names(ops)
    mounts = {op.args[4]: op.args[0] for op in ops if op.name == "MOUNT"}
    assert not mounts["/dev"] & lib.MS_RDONLY and mounts["/dev"] & lib.MS_NOSUID
    assert mounts["/data"] & lib.MS_RDONLY
    assert n.index("PIVOT") < ops.index(Op("REMOUNT_RO", ("/dev",)))
    assert Op("REMOUNT_RO", ("/data",)) not in ops


def test_no_pivot_hides_the_hosts_proc_and_sys_first():
    """--no-pivot keeps the old root underneath: its whole proc and sysfs
    instances go (deepest first) right before the MS_MOVE, as runc does."""
    ops = build(config(), no_pivot=True)
    n = names(ops)
    hidden = [op.args[0] for op in ops if op.name == "HIDE_MOUNT"]
    assert hidden == ["/srv/other/proc", "/sys", "/proc"]
    assert n.index("HIDE_MOUNT") > n.index("ROOTFS") and n[n.index("PIVOT") - 1] == "HIDE_MOUNT"
    assert "HIDE_MOUNT" not in names(build(config()))


def test_oom_score_adj_in_the_first_process():
    """Written before any join or clone, while we are the host's root in our
    namespaces (the child inherits it); in a user namespace the container's
    root may not open the non-dumpable init's file. exec: the container's."""
    c = config()
    c["process"]["oomScoreAdj"] = 100
    c["linux"]["namespaces"].append({"type": "network", "path": "/proc/1/ns/net"})
    ops = build(c)
    assert ops[0] == Op("WRITE_FILE", ("/proc/self/oom_score_adj", "100"))
    assert names(ops).index("SETNS") == 1
    assert not any(op.name == "WRITE_FILE" and "oom" in op.args[0] for op in build(config()))
    exec_ops = plan.build_exec({"args": ["/bin/true"], "cwd": "/"},
                               PlanContext(bundle="/b", probe=FakeProbe()), pidfd=6,
                               ns_flags=lib.CLONE_NEWPID, oom_score_adj=-5)
    assert exec_ops[0] == Op("WRITE_FILE", ("/proc/self/oom_score_adj", "-5"))
