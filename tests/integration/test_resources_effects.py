"""The limits' effect from inside a container, on whichever cgroup version the
host has: v1 here, v2 in the VM lane."""
import pytest

from conftest import needs_root

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
