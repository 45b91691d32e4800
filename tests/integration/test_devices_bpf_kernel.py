"""The device program on the real kernel: attach it to a fresh cgroup2 directory,
run a probe process inside, replace the program, and remove the directory (which
detaches it). Only the directory made here is touched."""
import errno
import os
import stat
import subprocess
import sys
import time
import uuid

import pytest

from conftest import needs_root
from runtime.cgroups import devices_bpf
from runtime.cgroups.devices_bpf import attach_program, program
from runtime.errors import PyruncError


def attached_programs(cgroup_dir: str) -> list[int]:
    """Ids of the BPF_CGROUP_DEVICE programs attached to this cgroup directory,
    asked of the kernel the way attach_program asks before it replaces them."""
    fd = devices_bpf._open_dir(cgroup_dir)
    try:
        return devices_bpf._query(fd, cgroup_dir)
    finally:
        os.close(fd)


def cgroup2_mount() -> str | None:
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            if fields[fields.index("-") + 1] == "cgroup2":
                return fields[4]
    return None


CGROUP2 = cgroup2_mount()
pytestmark = [needs_root(), pytest.mark.cgroup_v2,
              pytest.mark.skipif(CGROUP2 is None, reason="no cgroup2 mount: device programs "
                                                         "attach to cgroup2 directories")]

# Each argument is OP:PATH; prints "ok" or the errno name for each.
PROBE = r"""
import errno, os, stat, sys
for arg in sys.argv[1:]:
    op, path = arg.split(":", 1)
    try:
        if op.startswith("mknod"):
            kind, major, minor = op.split("-")[1:]
            mode = stat.S_IFCHR if kind == "c" else stat.S_IFBLK
            os.mknod(path, mode | 0o600, os.makedev(int(major), int(minor)))
            os.unlink(path)
        else:
            flags = {"r": os.O_RDONLY, "w": os.O_WRONLY, "rw": os.O_RDWR}[op]
            os.close(os.open(path, flags | os.O_NONBLOCK))
        print("ok")
    except OSError as e:
        print(errno.errorcode[e.errno])
"""


def probe(cgroup: str, *args: str) -> list[str]:
    """Run the probe as a process of CGROUP (it moves itself in before exec)."""
    def enter():
        fd = os.open(os.path.join(cgroup, "cgroup.procs"), os.O_WRONLY)
        os.write(fd, b"0")
        os.close(fd)
    proc = subprocess.run([sys.executable, "-c", PROBE, *args], preexec_fn=enter,
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.split()


@pytest.fixture
def cgroup():
    path = os.path.join(CGROUP2, f"ocitest-bpf-{uuid.uuid4().hex[:8]}")
    os.mkdir(path)
    try:
        yield path
    finally:
        # Only our probes can be in it; they have exited, but a timed-out one is killed.
        deadline = time.monotonic() + 10
        while True:
            try:
                os.rmdir(path)  # removing the cgroup detaches its programs
                break
            except OSError as e:
                if e.errno != errno.EBUSY or time.monotonic() > deadline:
                    raise
                with open(os.path.join(path, "cgroup.procs")) as f:
                    for pid in f.read().split():
                        os.kill(int(pid), 9)
                time.sleep(0.05)


@pytest.fixture
def nodes():
    """Device nodes outside the default allowed list: c 1:11 (kmsg), b 7:0 (loop0).
    Made under /dev: /tmp is often mounted nodev (it is in the VM lane), and a
    nodev EACCES would hide the program's EPERM."""
    d = f"/dev/ocitest-bpf-{uuid.uuid4().hex[:8]}"
    os.mkdir(d, 0o700)
    kmsg, loop = f"{d}/kmsg", f"{d}/loop"
    try:
        os.mknod(kmsg, stat.S_IFCHR | 0o600, os.makedev(1, 11))
        os.mknod(loop, stat.S_IFBLK | 0o600, os.makedev(7, 0))
        yield kmsg, loop, d
    finally:
        for name in os.listdir(d):
            os.unlink(os.path.join(d, name))
        os.rmdir(d)


def test_deny_all_but_defaults_then_replace(cgroup, nodes):
    kmsg, loop, tmp = nodes
    attach_program(cgroup, program([{"allow": False, "access": "rwm"}]))
    first = attached_programs(cgroup)
    assert len(first) == 1
    assert probe(cgroup, "rw:/dev/null", f"r:{kmsg}", f"r:{loop}", f"mknod-c-1-11:{tmp}/n1",
                 f"mknod-b-7-0:{tmp}/n2") == ["ok", "EPERM", "EPERM", "ok", "ok"]

    # update: the new program goes in, the old one out.
    attach_program(cgroup, program([{"allow": True, "type": "c", "major": 1, "minor": 11,
                                     "access": "r"}]))
    second = attached_programs(cgroup)
    assert len(second) == 1 and second != first
    assert probe(cgroup, "rw:/dev/null", f"r:{kmsg}", f"rw:{kmsg}", f"r:{loop}") == \
        ["ok", "ok", "EPERM", "EPERM"]


def test_deny_list(cgroup, nodes):
    kmsg, loop, tmp = nodes
    attach_program(cgroup, program([{"allow": True},
                                     {"allow": False, "type": "c", "major": 1, "minor": 11}]))
    result = probe(cgroup, f"r:{kmsg}", f"mknod-c-1-11:{tmp}/n1", f"mknod-c-1-12:{tmp}/n2",
                   f"r:{loop}", "rw:/dev/null")
    assert result[:3] == ["EPERM", "EPERM", "ok"]
    assert result[3] != "EPERM" and result[4] == "ok"  # loop0 may be absent: ENXIO

    # Denying w alone denies an O_RDWR open too, as v1 does.
    attach_program(cgroup, program([{"allow": True}, {"allow": False, "type": "c", "major": 1,
                                                      "minor": 11, "access": "w"}]))
    assert len(attached_programs(cgroup)) == 1
    assert probe(cgroup, f"r:{kmsg}", f"rw:{kmsg}") == ["ok", "EPERM"]


def test_rejected_program_leaves_the_old_one(cgroup, nodes):
    kmsg, _, _ = nodes
    attach_program(cgroup, program(None))
    before = attached_programs(cgroup)
    with pytest.raises(PyruncError) as e:
        attach_program(cgroup, b"\0" * 8)
    assert str(e.value) == (f"cannot load the device program for cgroup {cgroup}: invalid "
                            f"argument (verifier: last insn is not an exit or jmp)")
    assert attached_programs(cgroup) == before
    assert probe(cgroup, f"r:{kmsg}") == ["EPERM"]


def test_not_a_cgroup(tmp_path):
    with pytest.raises(PyruncError) as e:
        attach_program(str(tmp_path), program(None))
    assert str(e.value) == (f"cannot list the device programs of cgroup {tmp_path}: "
                            f"bad file descriptor")
