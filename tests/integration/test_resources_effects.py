"""The limits' effect from inside a container, on whichever cgroup version the
host has: v1 here, v2 in the VM lane (devices through the eBPF program there,
kill --all KILL through cgroup.kill where the kernel has it)."""
import pytest

from conftest import cgroup_procs, needs_root, wait_for

pytestmark = [needs_root(), pytest.mark.cgroup_v2]


def test_memory_limit_oom_kills(runtime, bundle):
    bundle.config["linux"]["resources"] = {"memory": {"limit": 32 << 20, "swap": 32 << 20}}
    bundle.args("/bin/sh", "-c", "dd if=/dev/zero of=/dev/null bs=64M count=1 2>/dev/null; echo $?;"
                " dd if=/dev/zero of=/dev/null bs=1M count=1 2>/dev/null; echo $?")
    out = runtime("run", "-b", bundle.write(), bundle.id).stdout.split()
    assert out == ["137", "0"]  # the 64 MiB buffer is OOM-killed, 1 MiB is fine


def test_pids_limit_stops_forks(runtime, bundle):
    bundle.config["linux"]["resources"] = {"pids": {"limit": 4}}
    bundle.args("/bin/sh", "-c", "for i in 1 2 3 4 5 6 7 8; do /ocitest sleep 5 & done")
    proc = runtime("run", "-b", bundle.write(), bundle.id, check=False)
    assert "can't fork: Resource temporarily unavailable" in proc.stderr


def test_devices_deny_all_but_defaults(runtime, bundle):
    bundle.config["linux"]["devices"] = [{"path": "/dev/probe", "type": "c", "major": 1, "minor": 11},
                                         {"path": "/dev/allowed", "type": "c", "major": 1, "minor": 3}]
    bundle.config["linux"]["resources"] = {"devices": [
        {"allow": False, "access": "rwm"}, {"allow": True, "type": "c", "major": 1, "minor": 3,
                                            "access": "r"}]}
    bundle.args("/bin/sh", "-c", "/ocitest open-write /dev/probe; cat /dev/allowed && echo read-ok;"
                " /ocitest open-write /dev/null; /ocitest open-write /dev/allowed;"
                " /ocitest open-write /dev/zero; true")
    out = runtime("run", "-b", bundle.write(), bundle.id).stdout.splitlines()
    # /dev/allowed is 1:3 like /dev/null, which the always-allowed defaults
    # open for writing too: the defaults come after the config's rules.
    assert out == ["error: Operation not permitted", "read-ok", "ok", "ok", "ok"]


def test_kill_all_kills_every_process(runtime, bundle):
    bundle.args("/bin/sh", "-c", "/ocitest sleep 1000 & /ocitest sleep 1000 & wait")
    runtime("run", "-d", "-b", bundle.write(), bundle.id)
    procs = cgroup_procs(bundle.config["linux"]["cgroupsPath"])
    wait_for(lambda: len(procs.read_text().split()) == 3, "three processes")
    runtime("kill", "--all", bundle.id, "KILL")
    wait_for(lambda: procs.read_text() == "", "an empty cgroup")
    runtime.wait_status(bundle.id, "stopped")
