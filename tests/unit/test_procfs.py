"""/proc as runtime.procfs reads it: mountinfo's escapes undone, the fields of
/proc/PID/stat after a command name with spaces and parentheses, and pidfds
that refuse a process that is not the one recorded."""
import os
import subprocess

from runtime import procfs
from runtime.cgroups.hierarchy import discover


def test_unescape():
    assert procfs.unescape("/a\\040b\\134c\\011d\\012e") == "/a b\\c\td\ne"
    assert procfs.unescape("/caf\u00e9") == "/caf\u00e9"


def test_mounts(tmp_path):
    info = tmp_path / "mountinfo"
    info.write_text("1 0 8:1 / / rw - ext4 /dev/sda1 rw\n"
                    "22 1 0:5 /sub /data\\040dir rw,relatime shared:3 - tmpfs t rw,size=4k\n"
                    "23 1 0:6 / /caf\u00e9 rw master:1 - proc proc rw\n")
    assert procfs.mounts(str(info)) == [
        procfs.Mount(1, "/", "/", "ext4", "rw"),
        procfs.Mount(22, "/sub", "/data dir", "tmpfs", "rw,size=4k"),
        procfs.Mount(23, "/", "/caf\u00e9", "proc", "rw")]


def test_cgroup_discovery_unescapes_the_mount_point(tmp_path, monkeypatch):
    """A hierarchy mounted at a path with a space is found at that path."""
    info = tmp_path / "mountinfo"
    info.write_text("30 1 0:26 / /cg\\040v1/cpu rw - cgroup cgroup rw,cpu,cpuacct\n"
                    "31 1 0:27 / /cg\\040v2 rw - cgroup2 cgroup2 rw,nsdelegate\n")
    monkeypatch.setattr("runtime.cgroups.hierarchy._own_cgroups",
                        lambda: {"cpu,cpuacct": "/a", "unified": "/b"})
    found = {h.name: h.mountpoint for h in discover(str(info))}
    assert found == {"cpu,cpuacct": "/cg v1/cpu", "unified": "/cg v2"}


def test_start_time_and_parent_with_a_strange_command_name(tmp_path):
    odd = tmp_path / "a b) c"  # comm holds a space and a parenthesis
    os.symlink("/bin/sleep", odd)
    proc = subprocess.Popen([str(odd), "30"])
    try:
        assert procfs.parent(proc.pid) == os.getpid()
        started = procfs.start_time(proc.pid)
        assert isinstance(started, int) and started > 0
        fd = procfs.open_pidfd(proc.pid, started)
        assert fd is not None
        os.close(fd)
        assert procfs.open_pidfd(proc.pid, started + 1) is None  # another process
    finally:
        proc.kill()
        proc.wait()
    assert procfs.start_time(proc.pid) is None
    assert procfs.open_pidfd(proc.pid, started) is None
    assert procfs.start_time(0) is None and procfs.open_pidfd(0, None) is None


def test_zombie_has_no_start_time():
    proc = subprocess.Popen(["/bin/true"])
    os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT)  # exited, not reaped
    try:
        assert procfs.start_time(proc.pid) is None
    finally:
        proc.wait()


def test_pid_in_own_namespace_of_ourselves():
    assert procfs.pid_in_own_namespace(os.getpid()) == os.getpid()


def test_start_time_and_name_read_together(tmp_path):
    odd = tmp_path / "x) (y z"  # a name that looks like the fields around it
    os.symlink("/bin/sleep", odd)
    proc = subprocess.Popen([str(odd), "30"])
    try:
        started, name = procfs.start_time_and_name(proc.pid)
        assert (started, name) == (procfs.start_time(proc.pid), b"x) (y z")
    finally:
        proc.kill()
        proc.wait()
    assert procfs.start_time_and_name(proc.pid) == (None, b"")
    assert procfs.start_time_and_name(0) == (None, b"")
