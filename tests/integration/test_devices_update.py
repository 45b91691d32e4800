"""Device rules changed on a live container: v1 devices.allow/deny here, the
replaced eBPF program in the cgroup-v2 lane. The container probes the device
in a loop and the host watches the answer change."""
import json

import pytest

from conftest import IS_PYRUNC, needs_root, wait_for

pytestmark = [needs_root(), pytest.mark.cgroup_v2]

# c 1:11 is /dev/kmsg: not among the always-allowed devices, and openable by
# root on the host (this host's sandbox refuses its block devices to everyone,
# so a block device would prove nothing).
PROBE = "while true; do /ocitest open-write /dev/probe > /tmp/probe.new; mv /tmp/probe.new /tmp/probe; sleep 0.02; done"


@pytest.mark.skipif(not IS_PYRUNC, reason="runc 1.1.5's update ignores device rules (containerd "
                                          "sends the create-time ones, which pyrunc re-applies)")
def test_update_devices_on_a_live_container(runtime, bundle, tmp_path):
    bundle.private_rootfs()
    bundle.config["root"]["readonly"] = False
    bundle.config["linux"]["devices"] = [{"path": "/dev/probe", "type": "c", "major": 1, "minor": 11}]
    bundle.config["linux"]["resources"] = {"devices": [{"allow": False, "access": "rwm"}]}
    bundle.args("/bin/sh", "-c", PROBE)
    runtime("run", "-d", "-b", bundle.write(), bundle.id)
    probe = bundle.rootfs / "tmp" / "probe"

    def answer():
        try:
            return probe.read_text().strip()
        except FileNotFoundError:
            return ""
    wait_for(lambda: answer() == "error: Operation not permitted", "the denied open")
    rules = tmp_path / "allow.json"
    rules.write_text(json.dumps({"devices": [
        {"allow": False, "access": "rwm"},
        {"allow": True, "type": "c", "major": 1, "minor": 11, "access": "w"}]}))
    runtime("update", "--resources", rules, bundle.id)
    wait_for(lambda: answer() == "ok", "the allowed open")
    rules.write_text(json.dumps({"devices": [{"allow": False, "access": "rwm"}]}))
    runtime("update", "--resources", rules, bundle.id)
    wait_for(lambda: answer() == "error: Operation not permitted", "the denied open again")


def test_access_letters_other_than_rwm_are_left_out(runtime, bundle):
    """runc ignores them (its update test sends "rwa"): the rule applies with
    r and w, and pyrunc says so in a warning."""
    bundle.config["linux"]["devices"] = [{"path": "/dev/probe", "type": "c", "major": 1,
                                          "minor": 11}]
    bundle.config["linux"]["resources"] = {"devices": [
        {"allow": True, "access": "rwm"},
        {"allow": False, "type": "c", "major": 1, "minor": 11, "access": "rwa"}]}
    bundle.args("/ocitest", "open-write", "/dev/probe")
    proc = runtime("run", "-b", bundle.write(), bundle.id, check=False)
    assert proc.stdout.strip() == "error: Operation not permitted"
    if IS_PYRUNC:
        assert "/linux/resources/devices/1/access: 'rwa': only 'rw' taken" in proc.stderr
