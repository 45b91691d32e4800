"""LSM labels on a host without AppArmor or SELinux (this one): process
labels are refused with the field named and nothing left behind; a mount
label is ignored, where runc 1.1.5 passes it to the kernel and fails."""
import os

import pytest

from conftest import IS_PYRUNC, assert_one_line_error, needs_root

pytestmark = [
    needs_root(),
    pytest.mark.skipif(os.path.exists("/sys/fs/selinux/enforce")
                       or os.path.exists("/sys/module/apparmor/parameters/enabled"),
                       reason="an LSM is enabled here: these are the paths of a host without one"),
]


@pytest.mark.skipif(not IS_PYRUNC, reason="pyrunc's messages")
@pytest.mark.parametrize("field, value, text", [
    ("apparmorProfile", "docker-default", "AppArmor is not enabled on this host"),
    ("selinuxLabel", "system_u:system_r:container_t:s0", "SELinux is not enabled on this host"),
])
def test_process_label_refused(runtime, bundle, inventory, field, value, text):
    before = inventory()
    bundle.config["process"][field] = value
    bundle.args("/ocitest", "exit", "0")
    proc = runtime("create", "-b", bundle.write(), bundle.id, check=False)
    assert_one_line_error(proc, f"/process/{field}", text)
    assert inventory() == before


@pytest.mark.skipif(not IS_PYRUNC, reason="runc 1.1.5 passes context= to the kernel: EINVAL")
def test_mount_label_ignored_without_selinux(runtime, bundle):
    bundle.config["linux"]["mountLabel"] = "system_u:object_r:container_file_t:s0"
    bundle.config["mounts"].append({"destination": "/scratch", "type": "tmpfs",
                                    "source": "tmpfs", "options": ["size=1m"]})
    bundle.args("/bin/sh", "-c", "grep ' /scratch ' /proc/self/mountinfo")
    proc = runtime("--debug", "run", "-b", bundle.write(), bundle.id)
    assert "tmpfs" in proc.stdout and "context=" not in proc.stdout
    assert "mountLabel ignored" in proc.stderr
