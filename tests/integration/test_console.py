"""Terminals: the pty master over --console-socket (containerd, conmon) and
the foreground relay (run/exec -t on the user's own terminal)."""
import array
import fcntl
import os
import select
import shlex
import socket
import subprocess
import threading

import pytest

from conftest import IS_PYRUNC, needs_root, recv_with_fds

# Not in the cgroup-v2 lane: nothing here depends on the cgroup version (exec's
# cgroup join, which hooks and terminals share, is tested there by test_exec.py),
# and the lane's guest time is near its limit.
pytestmark = [needs_root()]
TIOCGPTN = 0x80045430  # asm-generic/ioctls.h: _IOR('T', 0x30, unsigned int)


class ConsoleReceiver:
    """An AF_UNIX listener like conmon's: records every message and the fds
    that came with it; keeps the (single) master for the test."""

    def __init__(self, path):
        self.path = str(path)
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(self.path)
        self.server.listen(1)
        self.messages = []  # (data, [fds])
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        try:
            conn, _ = self.server.accept()
        except OSError:  # close() shut the listener down: nobody connected
            return
        with conn:
            while True:
                data, fds = recv_with_fds(conn, 4096, 16)
                if not data and not fds:
                    return
                self.messages.append((data, fds))

    def master(self, timeout=20):
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the runtime never closed the console socket"
        assert len(self.messages) == 1, self.messages
        data, fds = self.messages[0]
        assert len(fds) == 1, f"expected exactly one fd, got {fds}"
        return fds[0]

    def close(self):
        # shutdown wakes a thread still blocked in accept(); joined before the
        # close, so it cannot go on to use the fd number once it is reused.
        try:
            self.server.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.thread.join(5)
        self.server.close()
        for _data, fds in self.messages:
            for fd in fds:
                try:
                    os.close(fd)
                except OSError:
                    pass


@pytest.fixture
def receiver(tmp_path):
    r = ConsoleReceiver(tmp_path / "console.sock")
    yield r
    r.close()


def read_until_eof(master, timeout=20) -> str:
    out = b""
    while select.select([master], [], [], timeout)[0]:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # EIO: the slave side is closed
            break
        if not chunk:
            break
        out += chunk
    return out.decode(errors="replace").replace("\r\n", "\n")


def assert_pty_master(fd):
    # TIOCGPTN answers only on a master: the number of its slave.
    n = array.array("i", [0])
    fcntl.ioctl(fd, TIOCGPTN, n)
    assert n[0] >= 0


def test_create_sends_one_pty_master(runtime, bundle, receiver):
    bundle.config["process"]["terminal"] = True
    bundle.config["process"]["consoleSize"] = {"height": 30, "width": 100}
    bundle.args("/bin/sh", "-c", "tty; stty size; readlink /proc/self/fd/0; "
                "grep -c ' /dev/console ' /proc/self/mountinfo; "
                "cut -d' ' -f7 /proc/self/stat; exit 5")
    runtime("create", "--console-socket", receiver.path, "-b", bundle.write(), bundle.id)
    master = receiver.master()
    assert_pty_master(master)
    runtime("start", bundle.id)
    lines = read_until_eof(master).split()
    assert lines[0] == "/dev/pts/0", lines
    assert lines[1:3] == ["30", "100"]  # consoleSize
    assert lines[3] == "/dev/pts/0"  # stdin is the slave
    assert lines[4] == "1"  # /dev/console is the pty, bound
    assert int(lines[5]) != 0  # tty_nr: a controlling terminal
    runtime.wait_status(bundle.id, "stopped")


def test_exec_tty_with_console_socket(runtime, bundle, receiver, tmp_path):
    bundle.args("/ocitest", "sleep", "1000")
    runtime("run", "-d", "-b", bundle.write(), bundle.id)
    pid_file = tmp_path / "exec.pid"
    runtime("exec", "-t", "-d", "--console-socket", receiver.path, "--pid-file", pid_file,
            bundle.id, "sh", "-c", "tty; echo $TERM-x")
    master = receiver.master()
    assert_pty_master(master)
    out = read_until_eof(master).split()
    assert out[0].startswith("/dev/pts/")
    assert int(pid_file.read_text()) > 0


def test_the_terminal_belongs_to_the_process_user(runtime, bundle, receiver, tmp_path):
    """As runc: the pty slave's owner is the process's uid (the group stays
    devpts' gid=5); for exec -t with its own --user too."""
    bundle.config["process"]["terminal"] = True
    bundle.config["process"]["user"] = {"uid": 1000, "gid": 100}
    bundle.args("/bin/sh", "-c", "stat -c %u:%g $(tty); exec /ocitest sleep 1000")
    runtime("run", "-d", "--console-socket", receiver.path, "-b", bundle.write(), bundle.id)
    master = receiver.master()
    first = b""
    while b"\n" not in first:
        first += os.read(master, 100)
    assert first.split()[0] == b"1000:5"
    second = ConsoleReceiver(tmp_path / "exec-console.sock")
    try:
        runtime("exec", "-t", "-d", "--console-socket", second.path, "-u", "1001:101",
                bundle.id, "sh", "-c", "stat -c %u:%g $(tty)")
        assert read_until_eof(second.master()).split()[0] == "1001:5"
    finally:
        second.close()


def script(command: str, timeout=60) -> tuple[int, str]:
    """Run command under a real pty (util-linux script); (status, output)."""
    proc = subprocess.run(["script", "-qec", command, "/dev/null"], capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    # script's stdin is /dev/null: its EOF reaches the pty as a NUL that the
    # line discipline echoes as "^@" (the same with runc).
    return proc.returncode, proc.stdout.replace("\r\n", "\n").replace("^@", "")


def test_foreground_run_relays_the_terminal(runtime, bundle):
    bundle.config["process"]["terminal"] = True
    bundle.args("/bin/sh", "-c", "tty; stty size; exit 3")
    rt = f"{runtime.binary} --root {shlex.quote(runtime.root)}"
    status, out = script(f"stty rows 27 cols 91; {rt} run -b {bundle.write()} {bundle.id}; "
                         "echo rc=$?; stty -a | grep -o -- '-\\?icanon' | head -1")
    lines = out.split("\n")
    assert "/dev/pts/0" in lines, out
    assert "27 91" in lines, out  # our terminal's size, copied to the pty
    assert "rc=3" in lines, out
    assert "icanon" in lines, out  # our terminal is back in cooked mode


def test_foreground_exec_relays_the_terminal(runtime, bundle):
    bundle.args("/ocitest", "sleep", "1000")
    runtime("run", "-d", "-b", bundle.write(), bundle.id)
    rt = f"{runtime.binary} --root {shlex.quote(runtime.root)}"
    status, out = script(f"{rt} exec -t {bundle.id} sh -c 'tty; exit 4'; echo rc=$?")
    lines = out.split("\n")
    assert any(line.startswith("/dev/pts/") for line in lines), out
    assert "rc=4" in lines, out


def test_terminal_flag_errors(runtime, bundle, receiver, inventory):
    before = inventory()
    bundle.config["process"]["terminal"] = True
    proc = runtime("run", "-d", "-b", bundle.write(), bundle.id, check=False)
    assert proc.returncode == 1
    bundle.config["process"]["terminal"] = False
    proc = runtime("create", "--console-socket", receiver.path, "-b", bundle.write(), bundle.id,
                   check=False)
    assert proc.returncode == 1
    if IS_PYRUNC:
        assert "console-socket" in proc.stderr and proc.stderr.count("\n") == 1
    assert inventory() == before
