"""runtime/fdio.py and fdpass.py: whole writes, atomic replacement, fds over sockets."""
import array
import fcntl
import os
import socket

import pytest

from conftest import open_fds, run_forked
from runtime import fdio, fdpass



def test_write_all_through_a_pipe_smaller_than_the_data():
    r, w = os.pipe()
    fcntl.fcntl(w, fcntl.F_SETPIPE_SZ, 4096)
    data = os.urandom(200_000)
    got = bytearray()
    pid = os.fork()
    if pid == 0:  # the reader drains while the parent writes
        os.close(w)
        while chunk := os.read(r, 65536):
            got += chunk
        os._exit(0 if bytes(got) == data else 1)
    os.close(r)
    os.set_blocking(w, False)  # a non-blocking fd waits instead of failing
    fdio.write_all(w, data)
    os.close(w)
    assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0


def test_atomic_write_replaces_and_leaves_no_temp(tmp_path):
    target = tmp_path / "state.json"
    target.write_text("old")
    fdio.atomic_write(str(target), b"new", 0o600)
    assert target.read_bytes() == b"new"
    assert target.stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json"]


def test_atomic_write_failure_keeps_the_old_file(tmp_path):
    target = tmp_path / "dir-in-the-way"
    target.mkdir()
    with pytest.raises(IsADirectoryError):
        fdio.atomic_write(str(target), b"x")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dir-in-the-way"]


def test_send_and_receive_one_fd():
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    r, w = os.pipe()
    try:
        fdpass.send_fd(a, b"console", w)
        data, fds = fdpass.recv_with_fds(b, 64)
        assert data == b"console" and len(fds) == 1 and fds[0] not in (r, w)
        assert fcntl.fcntl(fds[0], fcntl.F_GETFD) & fcntl.FD_CLOEXEC
        os.write(fds[0], b"x")  # the pipe's write end indeed
        os.close(fds[0])
        assert os.read(r, 1) == b"x"
        a.sendmsg([b"plain"])
        assert fdpass.recv_with_fds(b, 64) == (b"plain", [])
        a.close()
        assert fdpass.recv_with_fds(b, 64) == (b"", [])  # EOF
    finally:
        for fd in (r, w):
            os.close(fd)
        a.close()
        b.close()


def test_extra_fds_are_all_received_for_the_caller_to_close():
    run_forked(_extra_fds_are_all_received)


def _extra_fds_are_all_received():
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    r, w = os.pipe()
    try:
        before = open_fds()
        a.sendmsg([b"two"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [r, w]))])
        data, fds = fdpass.recv_with_fds(b, 64)
        assert data == b"two" and len(fds) == 2
        for fd in fds:
            os.close(fd)
        assert open_fds() <= before
    finally:
        for fd in (r, w):
            os.close(fd)
        a.close()
        b.close()


def test_read_file_reads_whole_files(tmp_path):
    for size in (0, 1, 65535, 65536, 65537, 200_000):
        path = tmp_path / f"f{size}"
        path.write_bytes(bytes(range(256)) * (size // 256) + b"x" * (size % 256))
        assert fdio.read_file(str(path)) == path.read_bytes()
    # seq_files, as open().read() sees them: small ones, and one of megabytes
    # (a short read is their end too).
    for proc in ("/proc/self/mountinfo", "/proc/filesystems", "/proc/kallsyms"):
        with open(proc, "rb") as f:
            assert fdio.read_file(proc) == f.read()


def test_read_record_reads_regular_and_one_record_files(tmp_path):
    for size in (0, 1, 65535, 65536, 65537, 200_000):
        path = tmp_path / f"f{size}"
        path.write_bytes(bytes(range(256)) * (size // 256) + b"x" * (size % 256))
        assert fdio.read_record(str(path)) == path.read_bytes()
    stat = fdio.read_record("/proc/self/stat")
    assert stat.startswith(f"{os.getpid()} (".encode()) and stat.endswith(b"\n")
