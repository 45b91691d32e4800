"""exec: a new process in a running container, as containerd and conmon run it."""
import json
import os
import signal
import subprocess
import time

import pytest

from conftest import IS_PYRUNC, REPO, cgroup_procs, needs_root, wait_for

pytestmark = [needs_root()]
# Only the tests where the cgroup version matters (the exec joins the
# container's cgroup and cgroup namespace; pause is the freezer) also run in
# the cgroup-v2 lane: the rest is the same on both, and the lane's guest
# time is near its limit.
in_v2_lane = pytest.mark.cgroup_v2
FIXTURES = REPO / "tests" / "fixtures" / "exec"
# exec's own failures exit 255, as runc's (a caller tells them from the
# program's status); a usage error the parser catches exits 1.
FAILED = 255


@pytest.fixture
def running(runtime, bundle):
    """A running container whose init sleeps; its state."""
    bundle.args("/ocitest", "sleep", "1000")
    runtime("run", "-d", "-b", bundle.write(), bundle.id)
    return runtime.state(bundle.id)


def info(runtime, cid, *flags) -> dict:
    return json.loads(runtime("exec", *flags, cid, "/ocitest", "info").stdout)


def cap_names(mask: str) -> set[str]:
    from runtime.caps import NAMES
    bits = int(mask, 16)
    return {name for i, name in enumerate(NAMES) if bits >> i & 1}


def ns_inodes(pid) -> dict:
    return {ns: os.stat(f"/proc/{pid}/ns/{ns}").st_ino
            for ns in ("mnt", "pid", "ipc", "uts", "net", "cgroup")}


def test_exec_output_and_exit_status(runtime, bundle, running):
    proc = runtime("exec", bundle.id, "sh", "-c", "echo out; echo err >&2; exit 7", check=False)
    assert (proc.returncode, proc.stdout, proc.stderr) == (7, "out\n", "err\n")
    assert runtime("exec", bundle.id, "true").returncode == 0


def test_exec_killed_by_signal_gives_128_plus_signal(runtime, bundle, running):
    proc = runtime("exec", bundle.id, "/ocitest", "kill-self", "9", check=False)
    assert proc.returncode == 128 + signal.SIGKILL


@in_v2_lane
def test_exec_joins_every_namespace_and_cgroup(runtime, bundle, running, tmp_path):
    pid_file = tmp_path / "exec.pid"
    runtime("exec", "-d", "--pid-file", pid_file, bundle.id, "/ocitest", "sleep", "1000")
    pid = int(pid_file.read_text())  # digits only, as for create
    assert pid_file.read_text() == str(pid)
    assert ns_inodes(pid) == ns_inodes(running["pid"])
    procs = cgroup_procs(bundle.config["linux"]["cgroupsPath"]).read_text().split()
    assert str(pid) in procs
    with open(f"/proc/{pid}/cgroup") as f:
        mine = f.read()
    with open(f"/proc/{running['pid']}/cgroup") as f:
        assert mine == f.read()
    # Inside, it is not the container's PID 1 and it sees the container's root.
    data = info(runtime, bundle.id)
    assert data["pid"] > 1 and data["argv"] == ["/ocitest", "info"]
    assert any(m["mount_point"] == "/" for m in data["mounts"])
    assert sorted(json.loads(runtime("ps", "--format", "json", bundle.id).stdout)) == \
        sorted([running["pid"], pid])


def test_exec_inherits_the_container_process(runtime, bundle):
    bundle.config["process"]["user"] = {"uid": 1000, "gid": 1000, "additionalGids": [20]}
    bundle.config["process"]["env"] = ["PATH=/bin", "FROM_CONFIG=1"]
    bundle.config["process"]["cwd"] = "/tmp"
    bundle.config["process"]["noNewPrivileges"] = True
    bundle.args("/ocitest", "sleep", "1000")
    runtime("run", "-d", "-b", bundle.write(), bundle.id)
    data = info(runtime, bundle.id)
    assert (data["uid"], data["gid"], data["groups"]) == (1000, 1000, [20])
    assert data["cwd"] == "/tmp"
    assert "FROM_CONFIG=1" in data["env"] and "PATH=/bin" in data["env"]
    assert data["no_new_privs"] == 1
    # runc's default capabilities for a non-root user: the bounding set only.
    caps = bundle.config["process"]["capabilities"]
    assert cap_names(data["caps"]["bounding"]) == set(caps["bounding"])


def test_exec_flags_override(runtime, bundle, running):
    data = info(runtime, bundle.id, "--cwd", "/proc", "-e", "PATH=/usr/bin:/bin", "-e", "NEW=x",
                "-u", "1000:1001", "-g", "30", "-g", "31", "--no-new-privs")
    assert data["cwd"] == "/proc"
    assert "NEW=x" in data["env"]
    assert [e for e in data["env"] if e.startswith("PATH=")] == ["PATH=/usr/bin:/bin"]
    assert (data["uid"], data["gid"], sorted(data["groups"])) == (1000, 1001, [30, 31])
    assert data["no_new_privs"] == 1
    # As root (a non-root exec keeps only the bounding set across execve).
    data = info(runtime, bundle.id, "--cap", "CAP_SYS_TIME", "--cap", "CAP_NET_ADMIN")
    for capset in ("bounding", "effective", "permitted"):
        assert {"CAP_SYS_TIME", "CAP_NET_ADMIN"} <= cap_names(data["caps"][capset]), capset
    plain = info(runtime, bundle.id)
    assert "CAP_SYS_TIME" not in cap_names(plain["caps"]["bounding"])
    assert plain["no_new_privs"] == (1 if bundle.config["process"].get("noNewPrivileges") else 0)


def test_exec_preserve_fds(runtime, bundle, running, tmp_path):
    keep = tmp_path / "keep"
    keep.write_text("through fd 3\n")
    # The shell opens fds 3 and 4 for the runtime; only 3 may pass.
    base = f"exec 3<{keep} 4<{keep}; exec {runtime.binary} --root {runtime.root} exec"
    proc = subprocess.run(["sh", "-c", f"{base} --preserve-fds 1 {bundle.id} /ocitest fds"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    fds = {f["fd"]: f["target"] for f in json.loads(proc.stdout)}
    assert sorted(fds) == [0, 1, 2, 3] and fds[3] == str(keep)
    proc = subprocess.run(["sh", "-c", f"{base} {bundle.id} /ocitest fds"],
                          capture_output=True, text=True, timeout=60)
    assert sorted(f["fd"] for f in json.loads(proc.stdout)) == [0, 1, 2]


@in_v2_lane
def test_exec_into_a_created_container(runtime, bundle):
    bundle.args("/ocitest", "sleep", "1000")
    runtime("create", "-b", bundle.write(), bundle.id)
    assert runtime("exec", bundle.id, "sh", "-c", "echo before start").stdout == "before start\n"
    assert runtime.state(bundle.id)["status"] == "created"


def test_exec_while_another_exec_runs(runtime, bundle, running):
    long = subprocess.Popen([runtime.binary, "--root", runtime.root, "exec", bundle.id,
                             "sh", "-c", "sleep 2; echo first"], stdout=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: len(json.loads(runtime("ps", "--format", "json", bundle.id).stdout)) >= 3,
                 "the first exec to run")
        assert runtime("exec", bundle.id, "echo", "second").stdout == "second\n"
        out, _ = long.communicate(timeout=30)
        assert (long.returncode, out) == (0, "first\n")
    finally:
        if long.poll() is None:
            long.kill()
            long.wait()


def test_exec_forwards_signals(runtime, bundle, running):
    proc = subprocess.Popen([runtime.binary, "--root", runtime.root, "exec", bundle.id,
                             "sleep", "1000"])
    try:
        wait_for(lambda: len(json.loads(runtime("ps", "--format", "json", bundle.id).stdout)) >= 2,
                 "the exec'd process")
        time.sleep(0.2)  # the runtime sets up its forwarding after the exec
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 128 + signal.SIGTERM
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize("fixture", ["containerd-exec.json", "conmon-exec.json"])
def test_exec_process_file_from_clients(runtime, bundle, running, fixture, tmp_path):
    """--process files as containerd's shim and conmon write them (captured on
    this host, tests/fixtures/exec/README.md); the command is swapped for one
    that reports."""
    process = json.loads((FIXTURES / fixture).read_text())
    process["args"] = ["/ocitest", "info"]
    path = tmp_path / "process.json"
    path.write_text(json.dumps(process))
    data = json.loads(runtime("exec", "--process", path, bundle.id).stdout)
    assert data["cwd"] == process["cwd"]
    assert data["uid"] == process["user"]["uid"]
    assert cap_names(data["caps"]["effective"]) == set(process["capabilities"]["effective"])
    for item in process["env"]:
        assert item in data["env"]
    for limit in process.get("rlimits", []):  # conmon passes the engine's ulimits
        assert data["rlimits"][limit["type"]] == {"soft": limit["soft"], "hard": limit["hard"]}


def test_exec_process_file_errors_name_the_file(runtime, bundle, running, tmp_path):
    bad = tmp_path / "p.json"
    bad.write_text(json.dumps({"args": ["true"], "cwd": "relative"}))
    proc = runtime("exec", "--process", bad, bundle.id, check=False)
    assert proc.returncode == FAILED
    if IS_PYRUNC:
        assert proc.stderr.strip() == f"pyrunc: {bad}: /cwd: 'relative' must be an absolute path"
    bad.write_text("{")
    proc = runtime("exec", "--process", bad, bundle.id, check=False)
    assert proc.returncode == FAILED and (not IS_PYRUNC or str(bad) in proc.stderr)


def test_exec_missing_program(runtime, bundle, running):
    before = cgroup_procs(bundle.config["linux"]["cgroupsPath"]).read_text().split()
    proc = runtime("exec", bundle.id, "no-such-program", check=False)
    assert proc.returncode != 0
    assert "executable file not found in $PATH" in proc.stderr
    assert cgroup_procs(bundle.config["linux"]["cgroupsPath"]).read_text().split() == before


@in_v2_lane
def test_exec_refused_when_stopped_or_paused(runtime, bundle, running):
    runtime("pause", bundle.id)
    proc = runtime("exec", bundle.id, "true", check=False)
    assert proc.returncode == FAILED
    assert "cannot exec in a paused container" in proc.stderr
    runtime("resume", bundle.id)
    runtime("kill", bundle.id, "KILL")
    runtime.wait_status(bundle.id, "stopped")
    proc = runtime("exec", bundle.id, "true", check=False)
    assert proc.returncode == FAILED
    assert "cannot exec in a stopped container" in proc.stderr
    proc = runtime("exec", "no-such-container", "true", check=False)
    assert proc.returncode == FAILED and "container does not exist" in proc.stderr


@pytest.mark.skipif(not IS_PYRUNC, reason="pyrunc's own messages (runc 1.1.5 lets the kernel fail)")
@pytest.mark.skipif(os.path.exists("/sys/module/apparmor/parameters/enabled"),
                    reason="AppArmor is enabled here: the error path cannot be shown")
def test_exec_lsm_flags_without_the_lsm(runtime, bundle, running):
    proc = runtime("exec", "--apparmor", "unconfined", bundle.id, "true", check=False)
    assert (proc.returncode, proc.stderr.strip()) == (
        FAILED, "pyrunc: --apparmor unconfined: AppArmor is not enabled on this host")
    proc = runtime("exec", "--process-label", "system_u:system_r:container_t:s0", bundle.id,
                   "true", check=False)
    assert proc.returncode == FAILED and "SELinux is not enabled on this host" in proc.stderr


def test_exec_bad_flags(runtime, bundle, running):
    cases = [(["-u", "bob"], "--user"), (["-t", "-d"], "console-socket"),
             (["--preserve-fds", "-1"], "preserve")]
    if IS_PYRUNC:  # runc 1.1.5 only warns about an unknown capability
        cases.append((["--cap", "CAP_NOPE"], "CAP_NOPE"))
    for flags, words in cases:
        proc = runtime("exec", *flags, bundle.id, "true", check=False)
        assert proc.returncode == FAILED, flags
        if IS_PYRUNC:
            assert words in proc.stderr and proc.stderr.count("\n") == 1, proc.stderr
    proc = runtime("exec", bundle.id, check=False)
    assert proc.returncode == FAILED


def container_cgroup_dirs(bundle) -> list[str]:
    """The container's directory on every hierarchy of this host."""
    import glob
    path = bundle.config["linux"]["cgroupsPath"]
    return sorted(d for d in glob.glob(f"/sys/fs/cgroup/*{path}") + [f"/sys/fs/cgroup{path}"]
                  if os.path.isdir(d))


@in_v2_lane
def test_exec_into_sub_cgroups_and_delete_removes_them(runtime, bundle, running, inventory):
    """exec --cgroup (runc's): a sub-cgroup of the container's, for every
    hierarchy or per controller; delete --force kills and removes them too."""
    dirs = container_cgroup_dirs(bundle)
    for bad, words in (("..", ".. is not a sub cgroup path"),
                       ("nonexistent", "nonexistent/cgroup.procs: no such file"),
                       ("whaaat:/", "unknown controller whaaat")):
        proc = runtime("exec", "--cgroup", bad, bundle.id, "true", check=False)
        assert proc.returncode == FAILED and words in proc.stderr, (bad, proc.stderr)
    top = runtime("exec", "--cgroup", "/", bundle.id, "cat", "/proc/self/cgroup").stdout
    assert top == runtime("exec", bundle.id, "cat", "/proc/self/cgroup").stdout
    for d in dirs:
        os.mkdir(f"{d}/sub")
        for name in ("cpuset.cpus", "cpuset.mems"):  # a v1 cpuset starts empty
            if os.path.exists(f"{d}/{name}") and "/cpuset/" in d:
                with open(f"{d}/{name}") as src, open(f"{d}/sub/{name}", "w") as dst:
                    dst.write(src.read())
    lines = runtime("exec", "--cgroup", "sub", bundle.id, "cat", "/proc/self/cgroup").stdout
    assert all(line.endswith("/sub") for line in lines.splitlines()), lines
    if not os.path.exists("/sys/fs/cgroup/cgroup.controllers"):  # v1 controllers: one of them
        lines = runtime("exec", "--cgroup", "memory:sub", bundle.id, "cat",
                        "/proc/self/cgroup").stdout.splitlines()
        assert [line.split(":")[2] for line in lines if line.split(":")[1] == "memory"] == ["/sub"]
        assert all(line.split(":")[2] == "/" for line in lines if line.split(":")[1] == "pids")
    # A process left in the sub-cgroups: delete --force ends it and removes them.
    runtime("exec", "-d", "--cgroup", "sub", bundle.id, "/ocitest", "sleep", "1000")
    before = inventory()
    runtime("delete", "--force", bundle.id)
    assert not any(os.path.exists(d) for d in dirs)
    assert not [p for p in inventory()["cgroups"] if bundle.id in p]
    assert before["mounts"] == inventory()["mounts"]
