"""Rootless mode: the runtime run by an unprivileged user (nobody) with a
config from `spec --rootless`: state under $XDG_RUNTIME_DIR, root inside
mapped to the caller, cgroups left out where the caller may not write them
(every one on this host), subordinate ids through newuidmap/newgidmap, and
clean one-line failures for what a rootless container cannot have."""
import json
import os
import pwd
import shutil
import uuid

import pytest

from conftest import (CGROUP_PARENT, IS_PYRUNC, V2_ONLY, Bundle, Runtime, assert_one_line_error,
                      host_ids, needs_root, proc_state, wait_for)

pytestmark = [needs_root()]

USER = pwd.getpwnam("nobody")
UID, GID = USER.pw_uid, USER.pw_gid
SUB_START, SUB_SIZE = 300000, 65536  # the subordinate ids the tests give nobody
pyrunc_only = pytest.mark.skipif(not IS_PYRUNC, reason="pyrunc's own message or feature")


def beyond_runc(what: str):
    return pytest.mark.skipif(not IS_PYRUNC, reason=f"runc 1.1.5 {what}")


class AsUser(Runtime):
    """The runtime run as nobody (setpriv drops every capability), without
    --root: the state goes where the runtime's rootless default puts it."""

    def __init__(self, binary: str, xdg: str):
        super().__init__(binary, os.path.join(xdg, os.path.basename(binary)))
        self.xdg = xdg
        self.cgroup = None  # a cgroup-v2 dir to start the runtime in

    def command(self, args) -> list[str]:
        enter = [] if self.cgroup is None else [
            "sh", "-c", 'echo $$ > "$0" && exec "$@"', f"{self.cgroup}/cgroup.procs"]
        return [*enter, "setpriv", f"--reuid={UID}", f"--regid={GID}", "--clear-groups", "--",
                self.binary, *map(str, args)]

    def __call__(self, *args, env=None, **kwargs):
        if env is None:
            env = {"PATH": os.environ["PATH"], "XDG_RUNTIME_DIR": self.xdg}
        return super().__call__(*args, env=env, **kwargs)


@pytest.fixture
def home(reachable):
    """The user's XDG_RUNTIME_DIR and a bundle directory of its own."""
    xdg, bundle_dir = reachable / "xdg", reachable / "bundle"
    for d in (xdg, bundle_dir):
        d.mkdir(mode=0o700)
        os.chown(d, UID, GID)
    return reachable


@pytest.fixture
def user_runtime(runtime_binary, home):
    rt = AsUser(runtime_binary, str(home / "xdg"))
    yield rt
    for cid in rt.ids():
        rt("delete", "--force", cid, check=False)


@pytest.fixture
def rootless_bundle(user_runtime, home, rootfs):
    """`spec --rootless` written by the user; the shared rootfs copied where
    the user can reach it (it stays root's: the container only reads it)."""
    bundle_dir = home / "bundle"
    user_runtime("spec", "--rootless", cwd=bundle_dir)
    shutil.copytree(rootfs, home / "rootfs", symlinks=True)
    return RootlessBundle(bundle_dir, home / "rootfs")


class RootlessBundle(Bundle):
    """conftest's Bundle, but its config is the one `spec --rootless` wrote
    (no cgroupsPath: the user may not write the test's cgroup parent)."""
    def __init__(self, path, rootfs):
        self.path = path
        self.rootfs = rootfs
        self.id = f"rl{uuid.uuid4().hex[:10]}"
        with open(path / "config.json") as f:
            self.config = json.load(f)
        self.config["root"]["path"] = str(rootfs)
        self.config["process"]["terminal"] = False

    def map_subordinate_ids(self) -> None:
        """Root is the user, 1..65536 its subordinate ids (newuidmap's job)."""
        for key in ("uidMappings", "gidMappings"):
            own = UID if key == "uidMappings" else GID
            self.config["linux"][key] = [
                {"containerID": 0, "hostID": own, "size": 1},
                {"containerID": 1, "hostID": SUB_START, "size": SUB_SIZE}]


@pytest.fixture
def subordinate_ids():
    """nobody:300000:65536 in /etc/subuid and /etc/subgid, as the tests need it
    (this host's files are empty); the files restored afterwards."""
    saved = {}
    for path in ("/etc/subuid", "/etc/subgid"):
        saved[path] = None
        if os.path.exists(path):
            with open(path) as f:
                saved[path] = f.read()
        with open(path, "a") as f:
            f.write(f"{USER.pw_name}:{SUB_START}:{SUB_SIZE}\n")
    yield
    for path, text in saved.items():
        if text is None:
            os.unlink(path)
        else:
            with open(path, "w") as f:
                f.write(text)


def leftovers(rt: AsUser, cid: str) -> list[str]:
    """What a container of nobody's may leave: its state dir, an init, a cgroup."""
    found = [f"state {p}" for p in [os.path.join(rt.root, cid)] if os.path.exists(p)]
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            comm = _read(f"/proc/{pid}/comm")
            owner = host_ids(pid)[0]  # /proc/PID itself is root's if not dumpable
        except OSError:
            continue
        alive = proc_state(pid) not in ("Z", "X")
        if owner == UID and comm in ("pyrunc:init", "ocitest") and alive:
            found.append(f"process {pid} {comm}")
    for top, dirs, _files in os.walk("/sys/fs/cgroup"):
        found += [f"cgroup {top}/{d}" for d in dirs if d == cid]
        if top.count("/") > 5:
            dirs[:] = []
    return found


# -- the default root --

def test_state_goes_under_xdg_runtime_dir(user_runtime, rootless_bundle):
    b = rootless_bundle.args("/ocitest", "sleep", "1000")
    user_runtime("create", "-b", b.write(), b.id)
    assert os.path.isdir(os.path.join(user_runtime.xdg, os.path.basename(user_runtime.binary),
                                      b.id))
    assert user_runtime.state(b.id)["status"] == "created"
    user_runtime("delete", "--force", b.id)
    assert leftovers(user_runtime, b.id) == []


def test_empty_xdg_runtime_dir_counts_as_unset(user_runtime, rootless_bundle):
    """The system root then, which the user may not write: a clear failure."""
    b = rootless_bundle.args("/bin/true")
    proc = user_runtime("run", "-b", b.write(), b.id, check=False,
                        env={"PATH": os.environ["PATH"], "XDG_RUNTIME_DIR": ""})
    assert proc.returncode == 1
    name = os.path.basename(user_runtime.binary)
    if IS_PYRUNC:
        assert_one_line_error(proc, "--root /run/pyrunc", "permission denied",
                              f"pyrunc runs as uid {UID}: set XDG_RUNTIME_DIR")
    else:
        assert f"/run/{name}" in proc.stderr and "permission denied" in proc.stderr
    assert leftovers(user_runtime, b.id) == []


class DefaultRoot(Runtime):
    """The runtime run as root without --root."""

    def command(self, args) -> list[str]:
        return [self.binary, *map(str, args)]


def test_root_ignores_xdg_runtime_dir(runtime_binary, bundle, tmp_path):
    """As runc: XDG_RUNTIME_DIR is the user's, not root's (outside a user namespace)."""
    name = os.path.basename(runtime_binary)
    rt = DefaultRoot(runtime_binary, f"/run/{name}")
    env = {"PATH": os.environ["PATH"], "XDG_RUNTIME_DIR": str(tmp_path)}
    bundle.args("/ocitest", "sleep", "1000")
    try:
        rt("create", "-b", bundle.write(), bundle.id, env=env)
        assert os.path.isdir(f"{rt.root}/{bundle.id}")
        assert not os.path.exists(tmp_path / name)
    finally:
        rt("delete", "--force", bundle.id, env=env, check=False)
    assert not os.path.exists(f"{rt.root}/{bundle.id}")


# -- a rootless container --

def test_run_maps_root_to_the_caller_and_leaves_cgroups_out(user_runtime, rootless_bundle):
    b = rootless_bundle.args("/bin/sh", "-c", "cat /proc/self/uid_map /proc/self/gid_map "
                             "/proc/self/setgroups; id -u; id -g; exec /ocitest sleep 1000")
    user_runtime("run", "-d", "-b", b.write(), b.id)
    pid = user_runtime.state(b.id)["pid"]
    assert host_ids(pid) == (UID, GID)
    # No cgroup of its own: it stays in the caller's (setpriv's, here ours).
    with open(f"/proc/{pid}/cgroup") as f, open("/proc/self/cgroup") as g:
        assert f.read() == g.read()
    user_runtime("delete", "--force", b.id)
    assert leftovers(user_runtime, b.id) == []


@pytest.mark.cgroup_v2
def test_run_output(user_runtime, rootless_bundle):
    b = rootless_bundle.args("/bin/sh", "-c", "cat /proc/self/uid_map /proc/self/gid_map "
                             "/proc/self/setgroups; id -u; id -g; ls /sys/fs/cgroup | wc -l")
    out = user_runtime("run", "-b", b.write(), b.id).stdout.split()
    assert out[:6] == ["0", str(UID), "1", "0", str(GID), "1"]
    # setgroups is denied: the kernel lets an unprivileged user map its own
    # gid only so (user_namespaces(7)).
    assert out[6:9] == ["deny", "0", "0"]
    assert int(out[9]) > 0  # the caller's cgroups, bound read-only
    assert leftovers(user_runtime, b.id) == []


@beyond_runc("cannot ps (\"runc ps may fail...\") or kill --all without cgroups")
@pytest.mark.parametrize("pid_namespace", ["own", "host's"])
def test_lifecycle_ps_exec_kill_all(user_runtime, rootless_bundle, pid_namespace):
    """Without a cgroup the processes are found through the container's pid
    namespace, or (sharing the host's) as the init's descendants."""
    b = rootless_bundle.args("/bin/sh", "-c", "/ocitest sleep 1000 & exec /ocitest sleep 1000")
    if pid_namespace != "own":
        share_host_pid_namespace(b)
    user_runtime("create", "-b", b.write(), b.id)
    user_runtime("start", b.id)
    init = user_runtime.state(b.id)["pid"]
    pids = wait_for(lambda: _two(json.loads(user_runtime("ps", "--format", "json", b.id).stdout)),
                    "two processes in ps")
    assert init in pids
    listed = user_runtime("list").stdout
    assert b.id in listed and "running" in listed
    out = user_runtime("exec", b.id, "/bin/sh", "-c", "id -u; cat /proc/self/uid_map").stdout
    assert out.split() == ["0", "0", str(UID), "1"]
    # Every process gets the signal, not the init alone.
    user_runtime("kill", "--all", b.id, "STOP")
    for pid in pids:
        wait_for(lambda: proc_state(pid) == "T", f"process {pid} stopped")
    user_runtime("kill", "--all", b.id, "KILL")
    assert user_runtime.wait_status(b.id, "stopped") == "stopped"
    user_runtime("delete", b.id)
    assert leftovers(user_runtime, b.id) == []


@beyond_runc("cannot ps or kill --all without cgroups")
def test_before_start_ps_exec_kill_all(user_runtime, rootless_bundle):
    """The waiting init is the only process; the user may join its
    namespaces (it stays dumpable in a pid namespace of its own)."""
    b = rootless_bundle.args("/ocitest", "sleep", "1000")
    user_runtime("create", "-b", b.write(), b.id)
    init = user_runtime.state(b.id)["pid"]
    assert json.loads(user_runtime("ps", "--format", "json", b.id).stdout) == [init]
    out = user_runtime("exec", b.id, "/bin/sh", "-c", "id -u; cat /proc/self/uid_map").stdout
    assert out.split() == ["0", "0", str(UID), "1"]
    user_runtime("kill", "--all", b.id, "KILL")
    assert user_runtime.wait_status(b.id, "stopped") == "stopped"
    user_runtime("delete", b.id)
    assert leftovers(user_runtime, b.id) == []


def test_hooks_in_the_container(user_runtime, rootless_bundle, home):
    """createContainer and startContainer hooks run in the container's
    namespaces, which the user joins while the init waits."""
    shared = home / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    b = rootless_bundle.args("/bin/true")
    b.config["mounts"].append({"destination": "/tmp", "type": "bind", "source": str(shared),
                               "options": ["rbind", "rw"]})
    # createContainer runs before pivot_root (its paths are the host's),
    # startContainer after it.
    b.config["hooks"] = {
        kind: [{"path": "/bin/sh", "args": ["sh", "-c", f"id -u > {where}/{kind}"]}]
        for kind, where in (("createContainer", shared), ("startContainer", "/tmp"))}
    user_runtime("run", "-b", b.write(), b.id)
    for kind in ("createContainer", "startContainer"):
        assert (shared / kind).read_text() == "0\n"
        assert os.stat(shared / kind).st_uid == UID
    assert leftovers(user_runtime, b.id) == []


def share_host_pid_namespace(b: RootlessBundle) -> None:
    linux = b.config["linux"]
    linux["namespaces"] = [ns for ns in linux["namespaces"] if ns["type"] != "pid"]
    # Only a pid namespace's owner may mount a proc for it: bind ours.
    proc = next(m for m in b.config["mounts"] if m["destination"] == "/proc")
    proc.update(type="bind", source="/proc", options=["rbind"])


@pyrunc_only
def test_exec_before_start_sharing_a_pid_namespace(user_runtime, rootless_bundle):
    """There the init stays undumpable until it execs (others could see it):
    exec says why it cannot enter."""
    b = rootless_bundle.args("/ocitest", "sleep", "1000")
    share_host_pid_namespace(b)
    user_runtime("create", "-b", b.write(), b.id)
    proc = user_runtime("exec", b.id, "/bin/true", check=False)
    assert proc.returncode == 255  # exec's own failure, as runc's
    assert "cannot enter the container" in proc.stderr and "not dumpable" in proc.stderr
    assert proc.stderr.count("\n") == 1
    user_runtime("start", b.id)
    user_runtime("exec", b.id, "/bin/true")


def _two(pids: list[int]) -> list[int] | None:
    return pids if len(pids) == 2 else None


@pyrunc_only
@pytest.mark.parametrize("command, args, verb", [
    ("pause", (), "pause"),
    ("update", ("--pids-limit", "10"), "update"),
    ("events", ("--stats",), "collect events of"),
])
def test_cgroup_operations_say_there_is_no_cgroup(user_runtime, rootless_bundle, command,
                                                  args, verb):
    b = rootless_bundle.args("/ocitest", "sleep", "1000")
    user_runtime("run", "-d", "-b", b.write(), b.id)
    proc = user_runtime(command, *args, b.id, check=False)
    assert proc.returncode == 1
    assert_one_line_error(proc, f"cannot {verb} container {b.id}", "no cgroup", "rootless")
    assert user_runtime.state(b.id)["status"] == "running"


@beyond_runc("refuses additionalGids in any rootless container, setgroups allowed or not")
def test_subordinate_ids_through_newuidmap(user_runtime, rootless_bundle, subordinate_ids, home):
    """Maps beyond the caller's own ids go through newuidmap/newgidmap, which
    allow setgroups: process.user 1000 with an additional gid works, and is
    host uid 300999."""
    shared = home / "shared"
    shared.mkdir(mode=0o777)
    shared.chmod(0o777)
    b = rootless_bundle
    b.map_subordinate_ids()
    b.config["mounts"].append({"destination": "/tmp", "type": "bind", "source": str(shared),
                               "options": ["rbind", "rw"]})
    b.config["process"]["user"] = {"uid": 1000, "gid": 1000, "additionalGids": [5]}
    b.args("/bin/sh", "-c", "cat /proc/self/uid_map /proc/self/setgroups; id -G; "
           "touch /tmp/made")
    out = user_runtime("run", "-b", b.write(), b.id).stdout.split()
    assert out[:6] == ["0", str(UID), "1", "1", str(SUB_START), str(SUB_SIZE)]
    assert out[6] == "allow"
    assert out[7:] == ["1000", "5"]
    st = os.stat(shared / "made")
    assert (st.st_uid, st.st_gid) == (SUB_START + 999, SUB_START + 999)
    assert leftovers(user_runtime, b.id) == []


# -- what a rootless container cannot have --

def _fails_cleanly(user_runtime, b, *texts, flags=()):
    proc = user_runtime(*flags, "run", "-b", b.write(), b.id, check=False)
    assert proc.returncode == 1, proc.stderr
    if IS_PYRUNC:
        assert_one_line_error(proc, *texts)
    assert leftovers(user_runtime, b.id) == []
    return proc


def test_subordinate_ids_not_granted(user_runtime, rootless_bundle):
    """No /etc/subuid entry for these ids: newgidmap refuses, and says so."""
    b = rootless_bundle
    b.map_subordinate_ids()
    _fails_cleanly(user_runtime, b.args("/bin/true"), "/linux/gidMappings", "newgidmap",
                   "not allowed")


def test_additional_gids_need_subordinate_gids(user_runtime, rootless_bundle):
    b = rootless_bundle.args("/bin/true")
    b.config["process"]["user"]["additionalGids"] = [5]
    _fails_cleanly(user_runtime, b, "/process/user/additionalGids", "denies setgroups")


def test_no_user_namespace(user_runtime, rootless_bundle):
    b = rootless_bundle.args("/bin/true")
    linux = b.config["linux"]
    linux["namespaces"] = [ns for ns in linux["namespaces"] if ns["type"] != "user"]
    del linux["uidMappings"], linux["gidMappings"]
    _fails_cleanly(user_runtime, b, "/linux/namespaces", f"runs as uid {UID}",
                   "needs a user namespace")


def test_limits_need_a_cgroup(user_runtime, rootless_bundle):
    b = rootless_bundle.args("/bin/true")
    b.config["linux"]["resources"] = {"pids": {"limit": 10}}
    _fails_cleanly(user_runtime, b, "/linux/resources/pids", "without a cgroup",
                   "permission denied")


def test_device_rules_are_ignored(user_runtime, rootless_bundle):
    """As runc: a user namespace refuses mknod anyway."""
    b = rootless_bundle.args("/bin/true")
    b.config["linux"]["resources"] = {"devices": [{"allow": False, "access": "rwm"}]}
    user_runtime("run", "-b", b.write(), b.id)
    assert leftovers(user_runtime, b.id) == []


def test_an_explicit_cgroups_path_must_be_writable(user_runtime, rootless_bundle):
    """runc's rule: cgroups are left out only where config.json did not ask
    for a path."""
    b = rootless_bundle.args("/bin/true")
    b.config["linux"]["cgroupsPath"] = f"/{b.id}"
    _fails_cleanly(user_runtime, b, "/linux/cgroupsPath", "permission denied")


def test_rootless_false_makes_cgroups_required(user_runtime, rootless_bundle):
    b = rootless_bundle.args("/bin/true")
    _fails_cleanly(user_runtime, b, "create cgroup", "permission denied",
                   flags=("--rootless", "false"))


def test_rootless_flag_value_is_checked(user_runtime, rootless_bundle):
    b = rootless_bundle.args("/bin/true")
    _fails_cleanly(user_runtime, b, "--rootless maybe", "true, false or auto",
                   flags=("--rootless", "maybe"))


# -- a delegated cgroup (cgroup v2) --

@pytest.fixture
def delegated(user_runtime, rootless_bundle):
    """A cgroup-v2 subtree given to the user as cgroup-v2.rst "Delegation"
    says (the directory, its cgroup.procs, cgroup.subtree_control and
    cgroup.threads), with the runtime started in its leaf "runner"."""
    root = "/sys/fs/cgroup"
    top = f"{root}{CGROUP_PARENT}/delegated-{rootless_bundle.id}"
    os.makedirs(f"{top}/runner")
    for d in (root, f"{root}{CGROUP_PARENT}"):
        with open(f"{d}/cgroup.subtree_control", "w") as f:
            f.write("+pids +memory")
    for name in ("", "cgroup.procs", "cgroup.subtree_control", "cgroup.threads",
                 "runner", "runner/cgroup.procs"):
        os.chown(os.path.join(top, name), UID, GID)
    user_runtime.cgroup = f"{top}/runner"
    yield top
    user_runtime.cgroup = None
    for cid in user_runtime.ids():
        user_runtime("delete", "--force", cid, check=False)
    for d in (f"{top}/runner", top):
        with open(f"{d}/cgroup.procs") as f:
            for pid in f.read().split():  # a runtime that hung: ours, started by the test
                os.kill(int(pid), 9)
        wait_for(lambda: _rmdir(d), f"{d} removed")


def _rmdir(path: str) -> bool:
    try:
        os.rmdir(path)
        return True
    except FileNotFoundError:
        return True
    except OSError:
        return False


def _read(path: str) -> str:
    with open(path) as f:
        return f.read().strip()


@pytest.mark.cgroup_v2
@pytest.mark.skipif(not V2_ONLY, reason="needs a cgroup-v2-only host to delegate a subtree: "
                                        "runs in the VM lane (tests/vm), this host is hybrid")
def test_delegated_cgroup_takes_limits(user_runtime, rootless_bundle, delegated):
    """Where the user may write a cgroup, a rootless container gets its own,
    with limits, update and pause, and delete removes it."""
    b = rootless_bundle.args("/ocitest", "sleep", "1000")
    b.config["linux"]["cgroupsPath"] = f"{delegated.removeprefix('/sys/fs/cgroup')}/ctr"
    b.config["linux"]["resources"] = {"pids": {"limit": 10}, "memory": {"limit": 64 << 20}}
    ctr = f"{delegated}/ctr"
    user_runtime("run", "-d", "-b", b.write(), b.id)
    pid = user_runtime.state(b.id)["pid"]
    assert _read(f"{ctr}/cgroup.procs").split() == [str(pid)]
    assert (_read(f"{ctr}/pids.max"), _read(f"{ctr}/memory.max")) == ("10", str(64 << 20))
    assert os.stat(ctr).st_uid == UID
    user_runtime("update", "--pids-limit", "20", b.id)
    assert _read(f"{ctr}/pids.max") == "20"
    user_runtime("pause", b.id)
    assert user_runtime.state(b.id)["status"] == "paused"
    user_runtime("resume", b.id)
    user_runtime("delete", "--force", b.id)
    assert not os.path.exists(ctr)
    assert leftovers(user_runtime, b.id) == []
