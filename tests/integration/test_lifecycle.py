"""The OCI lifecycle driven through the CLI, as containerd and podman drive it."""
import json
import os
import subprocess
import time
from signal import SIGTERM

import pytest

from conftest import IS_PYRUNC, cgroup_procs, needs_root, proc_state

pytestmark = [needs_root(), pytest.mark.cgroup_v2]


def test_create_start_kill_delete(runtime, bundle, tmp_path):
    bundle.args("/ocitest", "sleep", "1000")
    pid_file = tmp_path / "init.pid"
    runtime("create", "--bundle", bundle.write(), "--pid-file", pid_file, bundle.id)

    state = runtime.state(bundle.id)
    assert state["status"] == "created"
    assert state["id"] == bundle.id
    assert state["bundle"] == str(bundle.path)
    assert state["pid"] > 0
    assert state["ociVersion"]
    # containerd rejects a pid file with a trailing newline.
    assert pid_file.read_text() == str(state["pid"])
    # The init waits on the exec fifo: it has not run the program yet.
    with open(f"/proc/{state['pid']}/comm") as f:
        assert f.read().strip() != "ocitest"

    runtime("start", bundle.id)
    assert runtime.state(bundle.id)["status"] == "running"
    with open(f"/proc/{state['pid']}/comm") as f:
        assert f.read().strip() == "ocitest"

    runtime("kill", bundle.id, "KILL")
    assert runtime.wait_status(bundle.id, "stopped") == "stopped"
    assert runtime.state(bundle.id)["pid"] == 0

    runtime("delete", bundle.id)
    proc = runtime("state", bundle.id, check=False)
    assert proc.returncode == 1
    assert "container does not exist" in proc.stderr
    assert bundle.id not in runtime.ids()


@pytest.mark.parametrize("signal", ["TERM", "SIGTERM", "15", "sigterm"])
def test_kill_signal_forms(runtime, bundle, signal):
    bundle.args("/ocitest", "sleep", "1000")
    runtime("run", "--detach", "--bundle", bundle.write(), bundle.id)
    runtime.wait_catching(bundle.id, SIGTERM)
    runtime("kill", bundle.id, signal)
    assert runtime.wait_status(bundle.id, "stopped") == "stopped"


def test_kill_default_signal_is_term(runtime, bundle):
    bundle.args("/ocitest", "sleep", "1000")
    runtime("run", "-d", "-b", bundle.write(), bundle.id)
    runtime.wait_catching(bundle.id, SIGTERM)
    runtime("kill", bundle.id)
    assert runtime.wait_status(bundle.id, "stopped") == "stopped"


def test_kill_all(runtime, bundle):
    """--all signals every process in the container's cgroup, not only the init."""
    bundle.without_namespace("pid")  # init dies alone otherwise
    bundle.args("/bin/sh", "-c", "trap '' TERM; /ocitest sleep 1000 & /ocitest sleep 1000 & wait")
    runtime("run", "-d", "-b", bundle.write(), bundle.id)
    cgroup = cgroup_procs(bundle.config["linux"]["cgroupsPath"])
    deadline = time.monotonic() + 10
    while len(open(cgroup).read().split()) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    pids = open(cgroup).read().split()
    assert len(pids) == 3
    runtime("kill", "--all", bundle.id, "KILL")
    assert runtime.wait_status(bundle.id, "stopped") == "stopped"
    deadline = time.monotonic() + 10
    while open(cgroup).read().split() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert open(cgroup).read().split() == []


def test_kill_stopped_container(runtime, bundle):
    bundle.args("/ocitest", "exit", "0")
    runtime("run", "-d", "-b", bundle.write(), bundle.id)
    assert runtime.wait_status(bundle.id, "stopped") == "stopped"
    proc = runtime("kill", bundle.id, "KILL", check=False)
    assert proc.returncode == 1
    assert "container not running" in proc.stderr


def test_kill_all_and_signal_0_in_every_state(runtime, bundle):
    """As runc (and as containerd's shim needs after a shared-pid container's
    init exits): kill --all signals what the cgroup holds, stopped included;
    signal 0 checks without sending."""
    bundle.without_namespace("pid")
    bundle.args("/bin/sh", "-c", "/ocitest sleep 1000 & exit 0")  # the init leaves a child
    runtime("run", "-d", "-b", bundle.write(), bundle.id)
    assert runtime.wait_status(bundle.id, "stopped") == "stopped"
    procs = cgroup_procs(bundle.config["linux"]["cgroupsPath"])
    assert procs.read_text().split(), "the child is gone already"
    runtime("kill", "--all", bundle.id, "0")
    runtime("kill", "--all", bundle.id, "KILL")
    deadline = time.monotonic() + 10
    while procs.read_text().split() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not procs.read_text().split()
    runtime("kill", "--all", bundle.id, "KILL")  # nothing left: no error
    proc = runtime("kill", bundle.id, "0", check=False)
    assert proc.returncode == 1 and "container not running" in proc.stderr


def test_kill_signal_0_of_a_running_container(runtime, bundle):
    bundle.args("/ocitest", "sleep", "1000")
    runtime("run", "-d", "-b", bundle.write(), bundle.id)
    runtime("kill", bundle.id, "0")
    assert runtime.state(bundle.id)["status"] == "running"


def test_missing_container_messages(runtime):
    for args in (["state", "nosuch"], ["kill", "nosuch"], ["delete", "nosuch"], ["start", "nosuch"]):
        proc = runtime(*args, check=False)
        assert proc.returncode == 1, args
        assert "container does not exist" in proc.stderr, args
        assert "Traceback" not in proc.stderr
    assert runtime("delete", "--force", "nosuch", check=False).returncode == 0


def test_delete_running_needs_force(runtime, bundle):
    bundle.args("/ocitest", "sleep", "1000")
    runtime("run", "-d", "-b", bundle.write(), bundle.id)
    proc = runtime("delete", bundle.id, check=False)
    assert proc.returncode == 1
    assert "running" in proc.stderr
    assert runtime.state(bundle.id)["status"] == "running"
    pid = runtime.state(bundle.id)["pid"]
    runtime("delete", "--force", bundle.id)
    assert bundle.id not in runtime.ids()
    assert proc_state(pid) in ("Z", "X")  # gone, or a zombie


@pytest.mark.skipif(not IS_PYRUNC, reason="runc 1.1.5 kills a created container on delete")
def test_delete_created_container(runtime, bundle):
    """runtime.md "Delete": a container that is not stopped (created too) is
    left as it is, with an error; --force kills it first."""
    runtime("create", "-b", bundle.write(), bundle.id)
    proc = runtime("delete", bundle.id, check=False)
    assert proc.returncode == 1 and "not stopped: created" in proc.stderr
    assert runtime.state(bundle.id)["status"] == "created"
    runtime("delete", "--force", bundle.id)
    assert bundle.id not in runtime.ids()


def test_start_twice(runtime, bundle):
    bundle.args("/ocitest", "sleep", "1000")
    runtime("run", "-d", "-b", bundle.write(), bundle.id)
    proc = runtime("start", bundle.id, check=False)
    assert proc.returncode == 1
    assert "running" in proc.stderr


def test_run_exit_status(runtime, bundle):
    bundle.args("/bin/sh", "-c", "exit 7")
    proc = runtime("run", "-b", bundle.write(), bundle.id, check=False)
    assert proc.returncode == 7
    assert bundle.id not in runtime.ids()


def test_run_keep(runtime, bundle):
    """run --keep: the stopped container stays, cgroup included, until delete."""
    bundle.args("/bin/sh", "-c", "exit 3")
    assert runtime("run", "--keep", "-b", bundle.write(), bundle.id, check=False).returncode == 3
    assert runtime.state(bundle.id)["status"] == "stopped"
    assert cgroup_procs(bundle.config["linux"]["cgroupsPath"]).exists()
    runtime("delete", bundle.id)
    assert bundle.id not in runtime.ids()
    assert not cgroup_procs(bundle.config["linux"]["cgroupsPath"]).exists()


def test_run_stdio_passes_through(runtime, bundle):
    bundle.args("/bin/sh", "-c", "read line; echo got:$line; echo err >&2")
    proc = runtime("run", "-b", bundle.write(), bundle.id, input="hello\n")
    assert proc.stdout == "got:hello\n"
    assert proc.stderr.endswith("err\n")


def test_run_killed_by_signal(runtime, bundle):
    """A foreground run whose init dies of SIGKILL exits 128+9, like a shell."""
    import subprocess

    bundle.args("/ocitest", "sleep", "1000")
    proc = subprocess.Popen([runtime.binary, "--root", runtime.root, "run", "-b", bundle.write(),
                             bundle.id], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if runtime("state", bundle.id, check=False).stdout.count('"running"'):
                break
            time.sleep(0.01)
        runtime("kill", bundle.id, "KILL")
        assert proc.wait(timeout=10) == 137
    finally:
        proc.kill()
        proc.wait()
    assert bundle.id not in runtime.ids()


def test_state_is_json_with_annotations(runtime, bundle):
    bundle.config["annotations"] = {"org.example.key": "value"}
    runtime("create", "-b", bundle.write(), bundle.id)
    state = runtime.state(bundle.id)
    assert state["annotations"] == {"org.example.key": "value"}
    assert set(state) >= {"ociVersion", "id", "pid", "status", "bundle"}


def test_list(runtime, bundle):
    runtime("create", "-b", bundle.write(), bundle.id)
    table = runtime("list").stdout.splitlines()
    assert table[0].split()[:3] == ["ID", "PID", "STATUS"]
    assert any(line.split()[0] == bundle.id and "created" in line for line in table[1:])
    rows = json.loads(runtime("list", "--format", "json").stdout)
    assert [r["status"] for r in rows if r["id"] == bundle.id] == ["created"]
    assert bundle.id in runtime("list", "-q").stdout.split()
    # Compact, as runc writes it (scripts and runc's tests match the text).
    assert '"status":"created"' in runtime("list", "--format", "json").stdout


@pytest.mark.parametrize("command", ["", "create", "run", "exec", "kill", "delete", "state",
                                     "start", "spec", "update", "events", "list", "pause",
                                     "resume", "ps", "checkpoint", "restore"])
def test_help_in_runcs_layout(runtime, command):
    """NAME:, then "<prog> <command> - <what>", USAGE: (runc's help layout)."""
    proc = runtime(*([command] if command else []), "--help")
    lines = proc.stdout.splitlines()
    name = os.path.basename(runtime.binary)
    assert lines[0] == "NAME:"
    assert lines[1].startswith(f"   {' '.join(filter(None, (name, command)))} - ")
    assert "USAGE:" in lines
    if not command:
        assert "Open Container Initiative runtime" in lines[1]
        assert "COMMANDS:" in lines and "GLOBAL OPTIONS:" in lines


def test_unknown_command(runtime):
    for args in (["foo"], ["foo", "-h"]):
        proc = runtime(*args, check=False)
        assert proc.returncode != 0
        assert "No help topic for 'foo'" in proc.stderr


@pytest.mark.skipif(not IS_PYRUNC, reason="runc 1.1.5 checkpoints with CRIU")
@pytest.mark.parametrize("command", ["checkpoint", "restore"])
def test_checkpoint_and_restore_refused(runtime, command):
    proc = runtime(command, "some-id", check=False)
    assert proc.returncode == 1
    assert "not supported" in proc.stderr and proc.stderr.count("\n") == 1


def test_duplicate_id(runtime, bundle):
    path = bundle.write()
    runtime("create", "-b", path, bundle.id)
    proc = runtime("create", "-b", path, bundle.id, check=False)
    assert proc.returncode == 1
    assert "exists" in proc.stderr
    assert runtime.state(bundle.id)["status"] == "created"


def test_bundle_defaults_to_cwd(runtime, bundle):
    runtime("create", bundle.id, cwd=bundle.write())
    assert runtime.state(bundle.id)["bundle"] == str(bundle.path)


def test_log_format_json(runtime, tmp_path):
    log = tmp_path / "log.json"
    for form in (["--log-format", "json"], ["--log-format=json"]):
        proc = runtime("--log", log, *form, "state", "nosuch", check=False)
        assert proc.returncode == 1
        assert "container does not exist" in proc.stderr
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(lines) >= 2
    for line in lines:
        assert line["level"] == "error"
        assert "container does not exist" in line["msg"]
        assert line["time"].endswith("Z") or "+" in line["time"]


def test_output_to_a_closed_pipe(runtime):
    """`pyrunc features | head -1`: the reader is gone; as runc dies of
    SIGPIPE, quietly (was "internal error: BrokenPipeError")."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        proc = subprocess.run(runtime.command(["features"]), stdout=write_end,
                              stderr=subprocess.PIPE, text=True, timeout=30)
    finally:
        os.close(write_end)
    assert proc.returncode in (141, -13), proc.stderr  # 128+SIGPIPE, or killed by it (Go)
    assert proc.stderr == ""


@pytest.mark.skipif(not IS_PYRUNC, reason="pyrunc's own version format")
def test_version(runtime):
    out = runtime("--version").stdout.splitlines()
    assert out[0].startswith("pyrunc version ")
    assert out[1].startswith("commit: ")
    assert out[2] == "spec: 1.3.0"


def test_spec_writes_config(runtime, tmp_path):
    runtime("spec", "--bundle", tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["process"]["args"] == ["sh"]
    assert {"type": "mount"} in config["linux"]["namespaces"]
    proc = runtime("spec", "--bundle", tmp_path, check=False)
    assert proc.returncode == 1  # never overwrites


@pytest.mark.parametrize("flags", [[], ["--rootless"]], ids=["default", "rootless"])
def test_spec_matches_runc_spec(runtime, tmp_path, flags):
    """Differential: the same document as runc 1.1.5's `spec` (but the
    version and the hostname, which name the runtime); rootless: a user
    namespace mapping root to the caller, no network namespace, /sys bound,
    no gid= options, no resources."""
    if not os.access("/usr/sbin/runc", os.X_OK):
        pytest.skip("runc (Debian package runc) is not installed: it is the reference")
    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    ours.mkdir()
    theirs.mkdir()
    runtime("spec", *flags, "--bundle", ours)
    subprocess.run(["/usr/sbin/runc", "spec", *flags, "--bundle", str(theirs)], check=True)
    a, b = (json.loads((d / "config.json").read_text()) for d in (ours, theirs))
    for doc in (a, b):
        doc.pop("ociVersion")
        doc.pop("hostname")
    # A cgroup namespace on a pure cgroup-v2 host only, in both (runc 1.1's rule).
    assert a == b
