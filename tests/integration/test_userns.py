"""User namespaces: root inside is an unprivileged id outside (uid_map, file
ownership seen from the host, the init's ids), exec joins it, a container can
join another's by path, and bad mappings fail cleanly."""
import json
import os
import shutil

import pytest

from conftest import IS_PYRUNC, assert_one_line_error, host_ids, needs_root

pytestmark = [needs_root()]

HOST_ID = 100000  # container ids 0..65535 are host ids 100000..165535
SIZE = 65536


def mapped(bundle, reachable, path=None):
    """A private rootfs owned by the mapped root, where it can reach it, and
    the mappings."""
    rootfs = reachable / bundle.id
    shutil.copytree(bundle.rootfs, rootfs, symlinks=True)
    bundle.rootfs = rootfs
    bundle.config["root"]["path"] = str(rootfs)
    for top, dirs, files in os.walk(rootfs):
        for name in [top, *(os.path.join(top, n) for n in dirs + files)]:
            os.lchown(name, HOST_ID, HOST_ID)
    bundle.config["root"]["readonly"] = False
    ns = {"type": "user", **({"path": path} if path else {})}
    bundle.config["linux"]["namespaces"].append(ns)
    if not path:
        mapping = [{"containerID": 0, "hostID": HOST_ID, "size": SIZE}]
        bundle.config["linux"]["uidMappings"] = mapping
        bundle.config["linux"]["gidMappings"] = mapping
    return rootfs


def test_root_inside_is_an_unprivileged_id_outside(runtime, bundle, reachable):
    rootfs = mapped(bundle, reachable)
    bundle.args("/bin/sh", "-c", "cat /proc/self/uid_map /proc/self/gid_map; id -u; id -g; "
                "mkdir /made && touch /made/file; exec /ocitest sleep 1000")
    runtime("run", "-d", "-b", bundle.write(), bundle.id)
    pid = runtime.state(bundle.id)["pid"]
    assert host_ids(pid) == (HOST_ID, HOST_ID)
    assert os.readlink(f"/proc/{pid}/ns/user") != os.readlink("/proc/self/ns/user")
    deadline_file = rootfs / "made" / "file"
    for _ in range(500):
        if deadline_file.exists():
            break
        import time
        time.sleep(0.01)
    st = os.stat(deadline_file)
    assert (st.st_uid, st.st_gid) == (HOST_ID, HOST_ID)


def test_maps_and_ids_seen_inside(runtime, bundle, reachable):
    mapped(bundle, reachable)
    bundle.args("/bin/sh", "-c", "cat /proc/self/uid_map /proc/self/gid_map; id -u; id -g")
    out = runtime("run", "-b", bundle.write(), bundle.id).stdout.split()
    assert out == ["0", str(HOST_ID), str(SIZE)] * 2 + ["0", "0"]


def test_non_root_process_user(runtime, bundle, reachable):
    mapped(bundle, reachable)
    bundle.config["process"]["user"] = {"uid": 1000, "gid": 1000}
    bundle.args("/ocitest", "sleep", "1000")
    runtime("run", "-d", "-b", bundle.write(), bundle.id)
    assert host_ids(runtime.state(bundle.id)["pid"]) == (HOST_ID + 1000, HOST_ID + 1000)


def test_exec_joins_the_user_namespace(runtime, bundle, reachable, tmp_path):
    mapped(bundle, reachable)
    bundle.args("/ocitest", "sleep", "1000")
    runtime("run", "-d", "-b", bundle.write(), bundle.id)
    init = runtime.state(bundle.id)["pid"]
    out = runtime("exec", bundle.id, "/bin/sh", "-c", "cat /proc/self/uid_map; id -u").stdout
    assert out.split() == ["0", str(HOST_ID), str(SIZE), "0"]
    pid_file = tmp_path / "exec.pid"
    runtime("exec", "-d", "--pid-file", pid_file, bundle.id, "/ocitest", "sleep", "1000")
    pid = int(pid_file.read_text())
    assert host_ids(pid) == (HOST_ID, HOST_ID)
    assert os.readlink(f"/proc/{pid}/ns/user") == os.readlink(f"/proc/{init}/ns/user")


@pytest.mark.parametrize("with_maps", [True, False], ids=["maps-repeated", "maps-left-out"])
def test_join_another_containers_user_namespace(runtime, bundle, reachable, with_maps):
    """CRI repeats the namespace's maps (runc 1.1.5 requires them); pyrunc
    also takes none and checks repeated ones against the namespace."""
    if not with_maps and not IS_PYRUNC:
        pytest.skip("runc 1.1.5 requires the maps with a joined user namespace")
    mapped(bundle, reachable)
    bundle.args("/ocitest", "sleep", "1000")
    first = bundle.id + "a"
    runtime("run", "-d", "-b", bundle.write(), first)
    try:
        owner = runtime.state(first)["pid"]
        config = json.loads((bundle.path / "config.json").read_text())
        if not with_maps:
            config["linux"].pop("uidMappings")
            config["linux"].pop("gidMappings")
        for ns in config["linux"]["namespaces"]:
            if ns["type"] == "user":
                ns["path"] = f"/proc/{owner}/ns/user"
        (bundle.path / "config.json").write_text(json.dumps(config))
        runtime("run", "-d", "-b", bundle.path, bundle.id)
        pid = runtime.state(bundle.id)["pid"]
        assert os.readlink(f"/proc/{pid}/ns/user") == os.readlink(f"/proc/{owner}/ns/user")
        assert host_ids(pid) == (HOST_ID, HOST_ID)
    finally:
        runtime("delete", "--force", first, check=False)


@pytest.mark.skipif(not IS_PYRUNC, reason="pyrunc's messages")
@pytest.mark.parametrize("case, pointer, text", [
    ("mappings-without-namespace", "/linux/uidMappings", "need a user namespace"),
    ("namespace-without-mappings", "/linux/uidMappings", "needs mappings"),
    ("path-and-other-mappings", "/linux/uidMappings", "differ from the joined"),
    ("overlapping", "/linux/uidMappings", "invalid argument"),
    ("root-unmapped", "/linux/uidMappings", "container id 0 is not mapped"),
    ("unreachable", "/root/path", "cannot be searched by the container's root"),
])
def test_bad_mappings_fail_cleanly(runtime, bundle, reachable, inventory, case, pointer, text):
    before = inventory()
    mapping = [{"containerID": 0, "hostID": HOST_ID, "size": SIZE}]
    linux = bundle.config["linux"]
    if case == "mappings-without-namespace":
        linux["uidMappings"] = linux["gidMappings"] = mapping
    elif case == "namespace-without-mappings":
        linux["namespaces"].append({"type": "user"})
    elif case == "path-and-other-mappings":
        linux["namespaces"].append({"type": "user", "path": "/proc/self/ns/user"})
        linux["uidMappings"] = linux["gidMappings"] = mapping
    elif case == "overlapping":  # the kernel refuses them when the map is written
        mapped(bundle, reachable)
        linux["uidMappings"] = [*mapping, {"containerID": 10, "hostID": 300000, "size": 5}]
    elif case == "root-unmapped":
        linux["namespaces"].append({"type": "user"})
        linux["gidMappings"] = mapping
        linux["uidMappings"] = [{"containerID": 1, "hostID": HOST_ID, "size": 10}]
    else:  # the bundle under pytest's 0700 base dir
        linux["namespaces"].append({"type": "user"})
        linux["uidMappings"] = linux["gidMappings"] = mapping
    bundle.args("/ocitest", "exit", "0")
    proc = runtime("create", "-b", bundle.write(), bundle.id, check=False)
    assert_one_line_error(proc, pointer, text)
    assert inventory() == before


def test_the_rootless_spec_runs(runtime, bundle, tmp_path):
    """`spec --rootless` (run here as root, so root maps to root): a user
    namespace without a network namespace, /sys bound from the host."""
    spec_dir = tmp_path / "spec"
    spec_dir.mkdir()
    runtime("spec", "--rootless", "--bundle", spec_dir)
    config = json.loads((spec_dir / "config.json").read_text())
    config["root"] = bundle.config["root"]
    config["process"].update(terminal=False, args=["/bin/sh", "-c",
                             "cat /proc/self/uid_map; ls /sys/fs/cgroup > /dev/null && echo sys"])
    bundle.config = config
    out = runtime("run", "-b", bundle.write(), bundle.id).stdout.split()
    assert out == ["0", "0", "1", "sys"]


def test_bind_sources_the_mapped_root_cannot_reach(runtime, bundle, reachable, tmp_path):
    """Sources inside directories only the host's root may enter (0700):
    the parent, still the host's root, clones them and the init attaches
    the clones (runc passes open fds); exec still sees them."""
    mapped(bundle, reachable)
    for i in (1, 2):
        locked = tmp_path / f"source-inaccessible-{i}"
        (locked / "dir").mkdir(parents=True)
        (locked / "dir" / f"file{i}").write_text(f"{i}\n")
        locked.chmod(0o700)
        bundle.config["mounts"].append({"destination": f"/tmp/mount-{i}", "type": "bind",
                                        "source": str(locked / "dir"), "options": ["bind"]})
    bundle.args("/bin/sh", "-c", "cat /tmp/mount-1/file1 /tmp/mount-2/file2; "
                "exec /ocitest sleep 1000")
    runtime("run", "-d", "-b", bundle.write(), bundle.id)
    assert runtime("exec", bundle.id, "cat", "/tmp/mount-2/file2").stdout == "2\n"


def test_oom_score_adj_with_a_user_namespace(runtime, bundle, reachable):
    """Docker always sends oomScoreAdj (0): with a user namespace (userns-remap)
    the init's own /proc/self/oom_score_adj is not the mapped root's to open
    once the init is non-dumpable, so the first process writes it; exec'd
    processes get the container's too, as with runc."""
    mapped(bundle, reachable)
    bundle.config["process"]["oomScoreAdj"] = 321
    bundle.args("/bin/sh", "-c", "cat /proc/self/oom_score_adj; exec /ocitest sleep 1000")
    runtime("run", "-d", "-b", bundle.write(), bundle.id)
    pid = runtime.state(bundle.id)["pid"]
    with open(f"/proc/{pid}/oom_score_adj") as f:
        assert f.read().strip() == "321"
    assert runtime("exec", bundle.id, "cat", "/proc/self/oom_score_adj").stdout == "321\n"
