"""What the container looks like from inside: every item of the config, checked
by the static helper /ocitest running as the container's process."""
import json
import os
import pathlib
import subprocess

import pytest

from conftest import IS_PYRUNC, assert_one_line_error, needs_root

pytestmark = needs_root()


def info(runtime, bundle, *extra, pass_fds=()) -> dict:
    bundle.config["process"]["args"] = ["/ocitest", "info"]
    proc = runtime("run", *extra, "-b", bundle.write(), bundle.id, pass_fds=pass_fds)
    return json.loads(proc.stdout)


def mount(data: dict, point: str) -> dict:
    found = [m for m in data["mounts"] if m["mount_point"] == point]
    assert found, f"{point} is not mounted: {[m['mount_point'] for m in data['mounts']]}"
    return found[-1]


def caps_mask(names):
    from runtime.caps import NUMBERS
    return f"{sum(1 << NUMBERS[n] for n in names):016x}"


# -- namespaces and identity --

def test_new_namespaces_and_pid_1(runtime, bundle):
    data = info(runtime, bundle)
    assert data["pid"] == 1
    for ns in ("mnt", "uts", "ipc", "net", "pid", "cgroup"):
        assert data["namespaces"][ns] != os.readlink(f"/proc/self/ns/{ns}"), ns
    assert data["namespaces"]["user"] == os.readlink("/proc/self/ns/user")


def test_join_namespace_by_path(runtime, bundle, tmp_path, rootfs):
    from conftest import Bundle
    first = Bundle(tmp_path / "first", rootfs)
    first.path.mkdir()
    first.args("/ocitest", "sleep", "1000")
    runtime("run", "-d", "-b", first.write(), first.id)
    pid = runtime.state(first.id)["pid"]
    for ns in bundle.config["linux"]["namespaces"]:
        if ns["type"] in ("network", "ipc", "uts"):
            kernel_name = {"network": "net"}.get(ns["type"], ns["type"])
            ns["path"] = f"/proc/{pid}/ns/{kernel_name}"
    data = info(runtime, bundle)
    for ns in ("net", "ipc", "uts"):
        assert data["namespaces"][ns] == os.readlink(f"/proc/{pid}/ns/{ns}"), ns
    assert data["namespaces"]["mnt"] != os.readlink(f"/proc/{pid}/ns/mnt")


@pytest.mark.skipif(not IS_PYRUNC, reason="runc 1.1.5 predates the domainname field (spec 1.1)")
def test_hostname_and_domainname(runtime, bundle):
    bundle.config["hostname"] = "box-1"
    bundle.config["domainname"] = "example.test"
    data = info(runtime, bundle)
    assert data["hostname"] == "box-1"
    assert data["domainname"] == "example.test"


def test_user_groups_umask(runtime, bundle):
    bundle.config["process"]["user"] = {"uid": 1000, "gid": 1001, "additionalGids": [10, 20],
                                        "umask": 0o077}
    data = info(runtime, bundle)
    assert (data["uid"], data["euid"], data["suid"]) == (1000, 1000, 1000)
    assert (data["gid"], data["egid"], data["sgid"]) == (1001, 1001, 1001)
    assert sorted(data["groups"]) == [10, 20]
    assert data["umask"] == 0o077


def test_cwd_env_args(runtime, bundle):
    bundle.private_rootfs()
    bundle.config["process"]["cwd"] = "/work/dir"  # missing: created, like runc
    bundle.config["process"]["env"] = ["PATH=/bin", "A=1", "B=two words"]
    data = info(runtime, bundle)
    assert data["cwd"] == "/work/dir"
    # HOME comes from the container's /etc/passwd when the config has none.
    assert data["env"] == ["PATH=/bin", "A=1", "B=two words", "HOME=/root"]
    assert data["argv"] == ["/ocitest", "info"]


def test_home_from_a_passwd_the_config_mounts(runtime, bundle, tmp_path):
    """As runc: the default HOME is read in the container, after its mounts
    (Podman mounts a passwd of its own), for the process's uid; also for an
    exec. An entry without a home gives an empty HOME; a uid without an
    entry gets /."""
    passwd = tmp_path / "passwd"
    passwd.write_text("root:x:0:0:root:/root:/bin/sh\nbad:x:12x:0::/nope:/bin/sh\n"
                      "app:x:4321:4321:App:/srv/app:/bin/sh\nshort:x:777\n")
    bundle.config["mounts"].append({"destination": "/etc/passwd", "type": "bind",
                                    "source": str(passwd), "options": ["bind", "ro"]})
    bundle.config["process"]["user"] = {"uid": 4321, "gid": 4321}
    bundle.config["process"]["env"] = ["PATH=/bin"]
    assert info(runtime, bundle)["env"] == ["PATH=/bin", "HOME=/srv/app"]
    for uid, home in ((777, ""), (999, "/")):
        bundle.id += "x"
        bundle.config["process"]["user"] = {"uid": uid, "gid": 0}
        assert info(runtime, bundle)["env"] == ["PATH=/bin", f"HOME={home}"]
    bundle.id += "y"
    bundle.config["process"]["user"] = {"uid": 0, "gid": 0}
    runtime("run", "-d", "-b", bundle.args("/ocitest", "sleep", "1000").write(), bundle.id)
    out = runtime("exec", "--user", "4321", bundle.id, "/ocitest", "info").stdout
    assert json.loads(out)["env"] == ["PATH=/bin", "HOME=/srv/app"]
    out = runtime("exec", "--env", "HOME=/mine", bundle.id, "/ocitest", "info").stdout
    assert json.loads(out)["env"] == ["PATH=/bin", "HOME=/mine"]


def test_args_looked_up_on_container_path(runtime, bundle):
    bundle.config["process"]["env"] = ["PATH=/nowhere:/bin"]
    bundle.args("sh", "-c", "echo found")
    assert runtime("run", "-b", bundle.write(), bundle.id).stdout == "found\n"


# -- capabilities, no_new_privs, rlimits, oom --

def test_capabilities(runtime, bundle):
    bundle.config["process"]["capabilities"] = {
        "bounding": ["CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW", "CAP_SETPCAP"],
        "effective": ["CAP_CHOWN", "CAP_KILL"],
        "permitted": ["CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW"],
        "inheritable": ["CAP_KILL", "CAP_NET_RAW"],
        "ambient": ["CAP_KILL"],
    }
    caps = info(runtime, bundle)["caps"]
    assert caps["bounding"] == caps_mask(["CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW", "CAP_SETPCAP"])
    assert caps["inheritable"] == caps_mask(["CAP_KILL", "CAP_NET_RAW"])
    assert caps["ambient"] == caps_mask(["CAP_KILL"])
    # noNewPrivileges (the default config's) keeps execve from widening the
    # permitted set to the bounding set, as it would for root otherwise.
    assert caps["permitted"] == caps_mask(["CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW"])


def host_lacks_a_capability() -> str | None:
    from runtime.caps import NAMES, last_cap
    with open("/proc/self/status") as f:
        bounding = int(next(line for line in f if line.startswith("CapBnd:")).split()[1], 16)
    return next((n for i, n in enumerate(NAMES[:last_cap() + 1]) if not bounding >> i & 1), None)


@pytest.mark.skipif(host_lacks_a_capability() is None,
                    reason="this host's bounding set holds every capability: none to ask for "
                           "in vain (the CI host lacks CAP_SYS_RESOURCE)")
@pytest.mark.skipif(not IS_PYRUNC, reason="runc 1.1.5 fails: 'unable to apply caps'")
def test_capabilities_that_cannot_be_granted_are_left_out(runtime, bundle):
    """config.md: "Runtimes SHOULD NOT fail if the container configuration
    requests capabilities that cannot be granted"; a warning names them."""
    lacking = host_lacks_a_capability()
    bundle.config["process"]["capabilities"] = {
        s: ["CAP_KILL", lacking] for s in ("bounding", "effective", "permitted")}
    bundle.config["process"]["args"] = ["/ocitest", "info"]
    proc = runtime("run", "-b", bundle.write(), bundle.id)
    assert json.loads(proc.stdout)["caps"]["effective"] == caps_mask(["CAP_KILL"])
    assert f"warning: /process/capabilities: {lacking} cannot be granted" in proc.stderr


def test_capabilities_non_root(runtime, bundle):
    bundle.config["process"]["user"] = {"uid": 1000, "gid": 1000}
    bundle.config["process"]["capabilities"] = {
        s: ["CAP_NET_BIND_SERVICE"] for s in ("bounding", "effective", "permitted", "inheritable", "ambient")}
    caps = info(runtime, bundle)["caps"]
    want = caps_mask(["CAP_NET_BIND_SERVICE"])
    assert caps == {s: want for s in ("bounding", "effective", "permitted", "inheritable", "ambient")}


@pytest.mark.parametrize("nnp", [True, False])
def test_no_new_privileges(runtime, bundle, nnp):
    bundle.config["process"]["noNewPrivileges"] = nnp
    assert info(runtime, bundle)["no_new_privs"] == int(nnp)


def test_rlimits_and_oom_score_adj(runtime, bundle):
    bundle.config["process"]["rlimits"] = [
        {"type": "RLIMIT_NOFILE", "soft": 512, "hard": 1024},
        {"type": "RLIMIT_CORE", "soft": 0, "hard": 0},
        {"type": "RLIMIT_NPROC", "soft": 300, "hard": 400},
    ]
    bundle.config["process"]["oomScoreAdj"] = 123
    data = info(runtime, bundle)
    assert data["rlimits"]["RLIMIT_NOFILE"] == {"soft": 512, "hard": 1024}
    assert data["rlimits"]["RLIMIT_CORE"] == {"soft": 0, "hard": 0}
    assert data["rlimits"]["RLIMIT_NPROC"] == {"soft": 300, "hard": 400}
    assert data["oom_score_adj"] == 123


# -- file descriptors --

def test_only_stdio_reaches_the_container(runtime, bundle, tmp_path):
    # An extra fd open in the caller (not marked close-on-exec) must not leak.
    leak = os.open(tmp_path, os.O_RDONLY)
    try:
        data = info(runtime, bundle, pass_fds=(leak,))
    finally:
        os.close(leak)
    assert [f["fd"] for f in data["fds"]] == [0, 1, 2]
    assert data["cwd"] == "/"


def test_preserve_fds(runtime, bundle, tmp_path):
    keep = tmp_path / "keep"
    keep.write_text("x")
    bundle.config["process"]["args"] = ["/ocitest", "fds"]
    # The shell opens fds 3, 4 and 5 for the runtime; only 3 and 4 may pass.
    cmd = (f"exec 3<{keep} 4<{keep} 5<{tmp_path}; exec {runtime.binary} --root {runtime.root}"
           f" run --preserve-fds 2 -b {bundle.write()} {bundle.id}")
    proc = subprocess.run(["sh", "-c", cmd], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    fds = {f["fd"]: f["target"] for f in json.loads(proc.stdout)}
    assert sorted(fds) == [0, 1, 2, 3, 4]
    assert fds[3] == str(keep) and fds[4] == str(keep)


# -- mounts and the root filesystem --

def test_default_mounts(runtime, bundle):
    data = info(runtime, bundle)
    assert mount(data, "/proc")["fs_type"] == "proc"
    dev = mount(data, "/dev")
    assert dev["fs_type"] == "tmpfs" and "nosuid" in dev["options"]
    assert "mode=755" in dev["super_options"] and "size=65536k" in dev["super_options"]
    assert mount(data, "/dev/pts")["fs_type"] == "devpts"
    assert "noexec" in mount(data, "/dev/shm")["options"]
    assert mount(data, "/dev/mqueue")["fs_type"] == "mqueue"
    sys_ = mount(data, "/sys")
    assert sys_["fs_type"] == "sysfs" and sys_["options"].startswith("ro")
    # root.readonly
    assert mount(data, "/")["options"].startswith("ro")


@pytest.mark.cgroup_v2
def test_cgroup_mount_shows_own_cgroup(runtime, bundle):
    data = info(runtime, bundle)
    # v1/hybrid: a tmpfs with one mount per hierarchy; v2: one cgroup2 mount.
    cgroup_mounts = [m for m in data["mounts"] if m["fs_type"] in ("cgroup", "cgroup2")
                     and m["mount_point"].startswith("/sys/fs/cgroup")]
    assert cgroup_mounts and all(m["options"].startswith("ro") for m in cgroup_mounts)
    # In its own cgroup namespace the container sees itself at the root.
    assert all(line.endswith(":/") for line in data["cgroup"])


@pytest.mark.cgroup_v2
def test_cgroup_placement_on_host(runtime, bundle):
    bundle.args("/ocitest", "sleep", "1000")
    runtime("run", "-d", "-b", bundle.write(), bundle.id)
    pid = runtime.state(bundle.id)["pid"]
    with open(f"/proc/{pid}/cgroup") as f:
        lines = f.read().splitlines()
    want = bundle.config["linux"]["cgroupsPath"]
    assert all(line.split(":", 2)[2] == want for line in lines), lines

    def dirs():  # one per v1 hierarchy, or the single v2 one
        v1 = [p for p in pathlib.Path("/sys/fs/cgroup").glob(f"*{want}") if p.is_dir()]
        v2 = pathlib.Path(f"/sys/fs/cgroup{want}")
        return v1 + ([v2] if v2.is_dir() else [])

    assert len(dirs()) == len(lines)
    runtime("delete", "--force", bundle.id)
    assert dirs() == []


def test_bind_mount_readonly_and_options(runtime, bundle, tmp_path):
    src = tmp_path / "shared"
    src.mkdir()
    (src / "hello").write_text("from host")
    src_file = tmp_path / "file.txt"
    src_file.write_text("single file")
    bundle.private_rootfs()
    bundle.config["mounts"] += [
        {"destination": "/data", "type": "bind", "source": str(src), "options": ["rbind", "ro", "nosuid"]},
        {"destination": "/etc/single.txt", "source": str(src_file), "options": ["bind"]},
        {"destination": "/scratch", "type": "tmpfs", "source": "tmpfs",
         "options": ["nodev", "noexec", "size=1m", "mode=700"]},
    ]
    bundle.args("/bin/sh", "-c", "cat /data/hello; echo; cat /etc/single.txt; echo;"
                " /ocitest write /data/new x; /ocitest info")
    out = runtime("run", "-b", bundle.write(), bundle.id).stdout.split("\n", 3)
    assert out[0] == "from host"
    assert out[1] == "single file"
    assert out[2].startswith("error: Read-only file system")
    data = json.loads(out[3])
    data_mount = mount(data, "/data")
    assert data_mount["options"].startswith("ro") and "nosuid" in data_mount["options"]
    scratch = mount(data, "/scratch")
    assert scratch["fs_type"] == "tmpfs" and "noexec" in scratch["options"]
    assert "size=1024k" in scratch["super_options"] and "mode=700" in scratch["super_options"]
    assert not (src / "new").exists()


def test_recursive_read_only(runtime, bundle, tmp_path):
    """rro reaches submounts too (mount_setattr AT_RECURSIVE); plain ro does not."""
    src = tmp_path / "rsrc"
    (src / "sub").mkdir(parents=True)
    subprocess.run(["mount", "-t", "tmpfs", "ocitest-sub", str(src / "sub")], check=True)
    try:
        bundle.private_rootfs()
        bundle.config["mounts"] += [
            {"destination": "/r", "source": str(src), "options": ["rbind", "rro", "rnosuid"]},
            {"destination": "/p", "source": str(src), "options": ["rbind", "ro"]},
        ]
        data = info(runtime, bundle)
    finally:
        subprocess.run(["umount", "-l", str(src / "sub")], check=True)
    assert mount(data, "/r/sub")["options"].startswith("ro")
    assert "nosuid" in mount(data, "/r/sub")["options"]
    assert mount(data, "/p")["options"].startswith("ro")
    assert mount(data, "/p/sub")["options"].startswith("rw")


@pytest.mark.skipif(not IS_PYRUNC, reason="runc 1.1.5 has no time namespace support")
@pytest.mark.skipif(not os.path.exists("/proc/self/ns/time"), reason="kernel without time namespaces")
def test_time_namespace(runtime, bundle):
    bundle.config["linux"]["namespaces"].append({"type": "time"})
    assert info(runtime, bundle)["namespaces"]["time"] != os.readlink("/proc/self/ns/time")


def test_relative_bind_source_is_bundle_relative(runtime, bundle):
    (bundle.path / "local").mkdir()
    (bundle.path / "local" / "f").write_text("bundle-relative")
    bundle.private_rootfs()
    bundle.config["mounts"].append({"destination": "/mnt/local", "source": "local",
                                    "options": ["bind"]})
    bundle.args("/bin/cat", "/mnt/local/f")
    assert runtime("run", "-b", bundle.write(), bundle.id).stdout == "bundle-relative"


def test_masked_and_readonly_paths(runtime, bundle):
    # /proc/keys and /proc/timer_list exist on this kernel (kcore does not).
    bundle.args("/bin/sh", "-c", "cat /proc/keys | wc -c; ls /proc/acpi | wc -l;"
                " /ocitest write /proc/sys/kernel/hostname x;"
                " /ocitest write /proc/irq/default_smp_affinity 1; true")
    out = runtime("run", "-b", bundle.write(), bundle.id).stdout.split("\n")
    assert out[0].strip() == "0"  # /proc/keys is /dev/null
    assert out[1].strip() == "0"  # /proc/acpi is an empty read-only tmpfs
    assert out[2].startswith("error: Read-only file system")
    assert out[3].startswith("error: Read-only file system")


def test_devices_default_and_custom(runtime, bundle):
    bundle.config["linux"]["devices"] = [
        {"path": "/dev/fuse-test", "type": "c", "major": 10, "minor": 229,
         "fileMode": 0o620, "uid": 1000, "gid": 5},
        {"path": "/dev/sub/loop-test", "type": "b", "major": 7, "minor": 0},
    ]
    script = ";".join(f"/ocitest stat {p}" for p in (
        "/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty",
        "/dev/fuse-test", "/dev/sub/loop-test"))
    bundle.args("/bin/sh", "-c", script + "; /ocitest readlink /dev/fd; /ocitest readlink /dev/stdin;"
                " /ocitest readlink /dev/stdout; /ocitest readlink /dev/stderr; /ocitest readlink /dev/ptmx")
    out = runtime("run", "-b", bundle.write(), bundle.id).stdout.splitlines()
    stats = [json.loads(line) for line in out[:8]]
    for st, (major, minor) in zip(stats[:6], [(1, 3), (1, 5), (1, 7), (1, 8), (1, 9), (5, 0)]):
        assert (st["type"], st["rdev_major"], st["rdev_minor"]) == ("chr", major, minor)
        assert st["mode"] & 0o777 == 0o666
    fuse, loop = stats[6], stats[7]
    assert (fuse["type"], fuse["rdev_major"], fuse["rdev_minor"]) == ("chr", 10, 229)
    assert fuse["mode"] & 0o777 == 0o620 and (fuse["uid"], fuse["gid"]) == (1000, 5)
    assert (loop["type"], loop["rdev_major"], loop["rdev_minor"]) == ("blk", 7, 0)
    assert out[8:] == ["/proc/self/fd", "/proc/self/fd/0", "/proc/self/fd/1", "/proc/self/fd/2", "pts/ptmx"]


def test_sysctl_and_loopback(runtime, bundle):
    bundle.config["linux"]["sysctl"] = {"net.ipv4.ip_forward": "1", "kernel.shmmni": "1234"}
    bundle.args("/bin/sh", "-c", "cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmni; /ocitest info")
    out = runtime("run", "-b", bundle.write(), bundle.id).stdout.split("\n", 2)
    assert out[:2] == ["1", "1234"]
    assert json.loads(out[2])["loopback_up"] is True
    with open("/proc/sys/kernel/shmmni") as f:
        assert f.read().strip() != "1234"  # the host's own value is untouched


def test_no_pivot(runtime, bundle):
    data = info(runtime, bundle, "--no-pivot")
    assert mount(data, "/")["options"].startswith("ro")
    assert data["pid"] == 1


def test_no_pivot_leaves_no_bare_proc(runtime, bundle):
    """Under --no-pivot the old root stays underneath the moved one: were the
    host's proc there, a user namespace in the container could mount a new
    proc (runc's no_pivot test). The mount must be refused."""
    caps = bundle.config["process"]["capabilities"]
    for s in ("bounding", "permitted"):
        caps[s] = caps[s] + ["CAP_SETFCAP"]
    bundle.args("unshare", "-mrpf", "sh", "-euxc",
                "mount -t proc none /proc && echo h > /proc/sysrq-trigger")
    proc = runtime("run", "--no-pivot", "-b", bundle.write(), bundle.id, check=False)
    assert proc.returncode == 1
    assert "mount: permission denied" in proc.stderr + proc.stdout


def test_rootfs_propagation_private(runtime, bundle):
    bundle.config["linux"]["rootfsPropagation"] = "private"
    data = info(runtime, bundle)
    assert "master:" not in mount(data, "/")["optional"]
    assert "shared:" not in mount(data, "/")["optional"]


@pytest.mark.skipif(not IS_PYRUNC, reason="runc 1.1.5 sets rootfsPropagation on its copy of "
                                          "the host's / only (runtime-tools fails it too)")
@pytest.mark.parametrize("propagation, tag", [("shared", "shared:"), ("unbindable", "unbindable"),
                                              ("rshared", "shared:")])
def test_rootfs_propagation_on_the_containers_root(runtime, bundle, propagation, tag):
    """config-linux.md: "shared: the rootfs mount belongs to a new peer
    group", "unbindable: ... cannot be bind-mounted": the container's own /."""
    bundle.config["linux"]["rootfsPropagation"] = propagation
    data = info(runtime, bundle)
    assert tag in mount(data, "/")["optional"], mount(data, "/")


def test_relative_destination_and_more_mount_options(runtime, bundle):
    """config.md: a relative destination (deprecated) "MUST be interpreted as
    relative to /"; defaults, iversion and noiversion are mount(8)'s flags,
    not filesystem data (runc passes defaults to the kernel: EINVAL)."""
    bundle.config["mounts"] += [
        {"destination": "mnt/rel", "type": "tmpfs", "source": "tmpfs",
         "options": ["ro", "defaults", "iversion"]},
        {"destination": "/mnt/nover", "type": "tmpfs", "source": "tmpfs",
         "options": ["iversion", "noiversion", "nosuid"]}]
    bundle.config["root"]["readonly"] = False
    data = info(runtime, bundle)
    rel = mount(data, "/mnt/rel")
    assert rel["options"].startswith("rw") and "nosuid" not in rel["options"]
    assert "nosuid" in mount(data, "/mnt/nover")["options"]


@pytest.mark.skipif(not IS_PYRUNC, reason="runc 1.1.5 ignores mknod's EEXIST")
def test_a_listed_device_refuses_another_file_in_its_place(runtime, bundle, inventory):
    """config-linux.md "Devices": "If a file already exists at path that does
    not match the requested device, the runtime MUST generate an error"; the
    same device already there is kept."""
    rootfs = bundle.private_rootfs()
    (rootfs / "not-a-device").write_text("a regular file")
    os.mknod(rootfs / "same-device", 0o600 | 0o020000, os.makedev(1, 3))
    bundle.config["linux"]["devices"] = [
        {"path": "/same-device", "type": "c", "major": 1, "minor": 3, "fileMode": 0o666}]
    bundle.args("/ocitest", "stat", "/same-device")
    assert json.loads(runtime("run", "-b", bundle.write(), bundle.id).stdout)["type"] == "chr"
    before = inventory()
    bundle.config["linux"]["devices"].append(
        {"path": "/not-a-device", "type": "c", "major": 1, "minor": 3})
    proc = runtime("run", "-b", bundle.write(), bundle.id, check=False)
    assert_one_line_error(proc, "device /not-a-device: a file that is not this device")
    assert inventory() == before


def test_read_only_dev(runtime, bundle):
    """ro on the /dev tmpfs: it still gets its devices and sub-mounts, and
    the container sees it read-only (as with runc)."""
    dev = next(m for m in bundle.config["mounts"] if m["destination"] == "/dev")
    dev["options"].append("ro")
    data = info(runtime, bundle)
    assert mount(data, "/dev")["options"].startswith("ro,")
    assert mount(data, "/dev/pts")
    bundle.args("/bin/sh", "-c", "test -c /dev/null && ! touch /dev/x 2>/dev/null && echo ok")
    assert runtime("run", "-b", bundle.write(), bundle.id).stdout == "ok\n"


def test_host_mounts_do_not_change(runtime, bundle):
    with open("/proc/self/mountinfo") as f:
        before = f.read()
    info(runtime, bundle)
    with open("/proc/self/mountinfo") as f:
        assert f.read() == before


def without_mount_namespace(bundle):
    bundle.private_rootfs()
    bundle.config["linux"]["namespaces"] = [ns for ns in bundle.config["linux"]["namespaces"]
                                            if ns["type"] != "mount"]
    for key in ("maskedPaths", "readonlyPaths"):
        bundle.config["linux"].pop(key, None)
    bundle.config["root"]["readonly"] = False


@pytest.mark.skipif(not IS_PYRUNC, reason="runc 1.1.5 leaves the container's mounts in the "
                                          "host's namespace after delete")
def test_without_a_mount_namespace(runtime, bundle, inventory):
    """The spec: a namespace not listed is inherited. The container shares
    ours, chrooted into its rootfs; its mounts (made in ours, as runc makes
    them) are unmounted by delete, which runc leaves behind."""
    before = inventory()
    without_mount_namespace(bundle)
    bundle.args("/ocitest", "sleep", "1000")
    runtime("run", "-d", "-b", bundle.write(), bundle.id)
    pid = runtime.state(bundle.id)["pid"]
    assert os.readlink(f"/proc/{pid}/ns/mnt") == os.readlink("/proc/self/ns/mnt")
    assert os.readlink(f"/proc/{pid}/root") == str(bundle.rootfs)
    with open("/proc/self/mountinfo") as f:
        ours = [line.split()[4] for line in f]
    assert f"{bundle.rootfs}/proc" in ours and f"{bundle.rootfs}/dev" in ours
    runtime("delete", "--force", bundle.id)
    assert inventory() == before


@pytest.mark.skipif(not IS_PYRUNC, reason="runc 1.1.5 applies rootfsPropagation to the host's "
                                          "/, ignores root.readonly, and refuses masked paths "
                                          "without naming the field")
@pytest.mark.parametrize("key, value", [("/linux/maskedPaths", ["/proc/kcore"]),
                                        ("/linux/readonlyPaths", ["/proc/sys"]),
                                        ("/linux/rootfsPropagation", "private"),
                                        ("/root/readonly", True)])
def test_without_a_mount_namespace_host_changes_refused(runtime, bundle, inventory, key, value):
    """What would change the host's own mounts needs a mount namespace."""
    before = inventory()
    without_mount_namespace(bundle)
    section, field = key.strip("/").split("/")
    bundle.config[section][field] = value
    proc = runtime("run", "-b", bundle.write(), bundle.id, check=False)
    assert_one_line_error(proc, key, "needs a mount namespace")
    assert inventory() == before


@pytest.mark.skipif(not IS_PYRUNC, reason="runc 1.1.5 passes the caller's blocked-signal mask on")
def test_signal_dispositions_reset(runtime, bundle):
    """Signals the caller ignores or blocks are default and unblocked inside."""
    import signal as sig

    def ignore_and_block():
        sig.signal(sig.SIGINT, sig.SIG_IGN)
        sig.signal(sig.SIGTERM, sig.SIG_IGN)
        sig.pthread_sigmask(sig.SIG_BLOCK, {sig.SIGUSR1, sig.SIGHUP})

    bundle.config["process"]["args"] = ["/ocitest", "sigmask"]
    proc = subprocess.run([runtime.binary, "--root", runtime.root, "run", "-b", bundle.write(),
                           bundle.id], capture_output=True, text=True, timeout=60,
                          preexec_fn=ignore_and_block)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {"blocked": "0000000000000000", "ignored": "0000000000000000"}


def test_listen_fds_pass_through(runtime, bundle, tmp_path):
    """Socket activation: with LISTEN_FDS=N the container gets fds 3..3+N-1 and
    LISTEN_FDS/LISTEN_PID=1 in its environment."""
    keep = tmp_path / "sock"
    keep.write_text("x")
    bundle.config["process"]["args"] = ["/bin/sh", "-c", "/ocitest fds; echo $LISTEN_FDS $LISTEN_PID"]
    cmd = (f"exec 3<{keep} 4<{keep} 5<{keep}; LISTEN_FDS=2 LISTEN_PID=$$ exec {runtime.binary}"
           f" --root {runtime.root} run -b {bundle.write()} {bundle.id}")
    proc = subprocess.run(["sh", "-c", cmd], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    fds_json, env_line = proc.stdout.strip().split("\n")
    assert sorted(f["fd"] for f in json.loads(fds_json)) == [0, 1, 2, 3, 4]
    assert env_line == "2 1"
