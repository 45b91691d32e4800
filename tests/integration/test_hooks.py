"""OCI hooks: all six kinds, their order, namespaces and state, failures and timeouts."""
import json
import os

import pytest

from conftest import IS_PYRUNC, needs_root

# Not in the cgroup-v2 lane: nothing here depends on the cgroup version (exec's
# cgroup join, which hooks and terminals share, is tested there by test_exec.py),
# and the lane's guest time is near its limit.
pytestmark = [needs_root()]

# Records "KIND PID-OF-HOOK MNT-NS PID-NS" and the state it read, one JSON line
# per call, to $LOG (a file on the host, bound into the container at /hooklog).
HOOK = """#!/bin/sh
state=$(cat)
printf '{"kind": "%s", "mnt": "%s", "pidns": "%s", "args": "%s", "env": "%s", "state": %s}\\n' \\
  "$1" "$(readlink /proc/self/ns/mnt)" "$(readlink /proc/self/ns/pid)" "$*" "$MARK" "$state" >> "$LOG"
"""
KINDS = ("prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop")


@pytest.fixture
def recorder(tmp_path, bundle):
    """Hook scripts on the host and in a private rootfs; the log they append to."""
    logdir = tmp_path / "log"
    logdir.mkdir()
    log = logdir / "hooks.jsonl"
    host_hook = tmp_path / "hook.sh"
    host_hook.write_text(HOOK)
    host_hook.chmod(0o755)
    rootfs = bundle.private_rootfs()
    (rootfs / "hook.sh").write_text(HOOK)
    (rootfs / "hook.sh").chmod(0o755)
    bundle.config["mounts"].append({"destination": "/hooklog", "type": "bind",
                                    "source": str(logdir), "options": ["rbind"]})

    def hook(kind, **extra):
        inside = kind == "startContainer"  # resolved after pivot_root, in the rootfs
        path = "/hook.sh" if inside else str(host_hook)
        env = ["LOG=" + ("/hooklog/hooks.jsonl" if inside else str(log)), f"MARK={kind}-env",
               "PATH=/bin:/usr/bin"]
        return {"path": path, "args": ["hook.sh", kind], "env": env, **extra}

    def records():
        if not log.exists():
            return []
        return [json.loads(line) for line in log.read_text().splitlines()]

    return hook, records, log


@pytest.mark.skipif(not IS_PYRUNC, reason="runc 1.1.5 runs poststart hooks during create, not "
                                          "after start (fixed in runc 1.2)")
def test_all_six_kinds_in_order_with_state_and_namespaces(runtime, bundle, recorder):
    hook, records, log = recorder
    bundle.config["hooks"] = {k: [hook(k)] for k in KINDS}
    bundle.args("/bin/sh", "-c", "echo program >> /hooklog/hooks.jsonl.program; sleep 1000")
    runtime("create", "-b", bundle.write(), bundle.id)
    pid = runtime.state(bundle.id)["pid"]
    init_mnt = os.readlink(f"/proc/{pid}/ns/mnt")
    init_pidns = os.readlink(f"/proc/{pid}/ns/pid")
    host_mnt = os.readlink("/proc/self/ns/mnt")
    assert [r["kind"] for r in records()] == ["prestart", "createRuntime", "createContainer"]
    runtime("start", bundle.id)
    assert [r["kind"] for r in records()][3:] == ["startContainer", "poststart"]
    program = log.parent / "hooks.jsonl.program"
    assert program.exists()  # after startContainer (which found no such line yet)
    runtime("kill", bundle.id, "KILL")
    runtime.wait_status(bundle.id, "stopped")
    runtime("delete", bundle.id)
    got = records()
    assert [r["kind"] for r in got] == list(KINDS)
    by_kind = {r["kind"]: r for r in got}
    for kind in ("prestart", "createRuntime", "poststart", "poststop"):
        assert by_kind[kind]["mnt"] == host_mnt, kind  # the runtime's namespaces
    for kind in ("createContainer", "startContainer"):
        assert by_kind[kind]["mnt"] == init_mnt, kind  # the container's
    assert by_kind["startContainer"]["pidns"] == init_pidns
    # "created": the create hooks are lifecycle steps 3-5, after step 2.
    want_status = {"prestart": "created", "createRuntime": "created",
                   "createContainer": "created", "startContainer": "created",
                   "poststart": "running", "poststop": "stopped"}
    for kind, record in by_kind.items():
        st = record["state"]
        assert st["id"] == bundle.id and st["bundle"] == str(bundle.path), kind
        assert st["status"] == want_status[kind], kind
        if kind in ("createContainer", "startContainer"):
            assert st["pid"] == 1, kind  # as the container sees it (own pid namespace)
        elif kind != "poststop":
            assert st["pid"] == pid, kind
        assert record["args"] == f"{kind}", kind  # args[1:] as $*
        assert record["env"] == f"{kind}-env", kind


def test_a_failing_create_hook_aborts_and_leaves_nothing(runtime, bundle, recorder, inventory):
    hook, records, _ = recorder
    before = inventory()
    bundle.config["hooks"] = {"createRuntime": [{"path": "/bin/sh", "args": ["sh", "-c",
                                                 "echo oops >&2; exit 3"]}],
                              "poststop": [hook("poststop")]}
    proc = runtime("create", "-b", bundle.write(), bundle.id, check=False)
    assert proc.returncode == 1
    assert "oops" in proc.stderr
    if IS_PYRUNC:  # runc 1.1.5 says "error running hook #0" without the kind
        assert "createRuntime" in proc.stderr and proc.stderr.count("\n") == 1, proc.stderr
    assert inventory() == before
    assert [r["kind"] for r in records()] == ["poststop"]  # the lifecycle goes on to poststop


@pytest.mark.parametrize("kind", ["prestart", "createContainer"])
def test_other_create_hook_failures_abort(runtime, bundle, inventory, kind):
    before = inventory()
    bundle.config["hooks"] = {kind: [{"path": "/bin/false"}]}
    proc = runtime("create", "-b", bundle.write(), bundle.id, check=False)
    assert proc.returncode == 1 and (kind in proc.stderr or not IS_PYRUNC)
    assert inventory() == before


@pytest.mark.skipif(not IS_PYRUNC, reason="runc 1.1.5 runs startContainer hooks in the init "
                                          "after start returned, and poststart ones at create")
@pytest.mark.parametrize("kind", ["startContainer", "poststart"])
def test_a_failing_start_hook_stops_and_destroys_the_container(runtime, bundle, recorder,
                                                                inventory, kind):
    """runtime.md "Lifecycle" steps 7 and 9: an error; the container is
    stopped and destroyed (step 12) and the poststop hooks run (step 13)."""
    hook, records, _ = recorder
    before = inventory()
    bundle.config["hooks"] = {kind: [{"path": "/bin/false"}], "poststop": [hook("poststop")]}
    bundle.args("/ocitest", "sleep", "1000")
    runtime("create", "-b", bundle.write(), bundle.id)
    proc = runtime("start", bundle.id, check=False)
    assert proc.returncode == 1 and f"error running hook #0 ({kind}" in proc.stderr
    assert bundle.id not in runtime.ids()
    assert inventory() == before
    assert [r["kind"] for r in records()] == ["poststop"]


@pytest.mark.skipif(not IS_PYRUNC, reason="runc 1.1.5 fails delete on a poststop failure; the "
                                          "spec says warn")
def test_poststop_failures_are_warnings(runtime, bundle):
    bundle.config["hooks"] = {"poststop": [{"path": "/bin/false"}, {"path": "/bin/true"}]}
    bundle.args("/ocitest", "sleep", "1000")
    runtime("run", "-d", "-b", bundle.write(), bundle.id)
    proc = runtime("delete", "--force", bundle.id)
    assert "poststop" in proc.stderr and "warning" in proc.stderr.lower()
    assert bundle.id not in runtime.ids()


def test_hook_timeout(runtime, bundle, inventory, tmp_path):
    before = inventory()
    marker = tmp_path / "still-running"
    bundle.config["hooks"] = {"prestart": [{"path": "/bin/sh", "args": [
        "sh", "-c", f"sleep 3; touch {marker}"], "timeout": 1}]}
    proc = runtime("create", "-b", bundle.write(), bundle.id, check=False)
    assert proc.returncode == 1
    assert not IS_PYRUNC or ("prestart" in proc.stderr and "timed out" in proc.stderr)
    assert inventory() == before
    import time
    time.sleep(3)
    assert not marker.exists() or not IS_PYRUNC  # killed, not left running


def test_hook_that_ignores_a_large_state_on_stdin(runtime, bundle, recorder):
    """A hook that never reads stdin is fine, however large the state (EPIPE
    is not an error)."""
    bundle.config["annotations"] = {f"k{i}": "v" * 1000 for i in range(200)}  # ~200 KB of state
    bundle.config["hooks"] = {k: [{"path": "/bin/true"}] for k in ("prestart", "createRuntime",
                                                                   "poststart", "poststop")}
    bundle.args("/ocitest", "exit", "0")
    proc = runtime("run", "-b", bundle.write(), bundle.id)
    assert proc.returncode == 0


def test_create_container_hook_runs_in_the_rootfs(runtime, bundle):
    """Its working directory is the container's root (before pivot_root, as
    runc): a relative path lands in the rootfs, never in the host's /."""
    rootfs = bundle.private_rootfs()
    bundle.config["hooks"] = {"createContainer": [
        {"path": "/bin/sh", "args": ["sh", "-c", "pwd > ./hook-cwd; touch ./etc/hook-mark"]}]}
    bundle.args("/bin/cat", "/hook-cwd")
    out = runtime("run", "-b", bundle.write(), bundle.id).stdout
    assert out.strip() == str(rootfs)
    assert (rootfs / "etc" / "hook-mark").exists()
    assert not os.path.exists("/etc/hook-mark")
