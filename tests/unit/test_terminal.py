"""runtime/console.py and terminal.py: handing the pty master to a
--console-socket, and the foreground relay between pyrunc's terminal and the
container's pty.

No containers: os.openpty() pairs stand in for both terminals, sh for the
container process. The raw-mode tests run the relay in a child python whose
controlling terminal is a pty this test holds, as a user's shell would.
"""
import array
import errno
import fcntl
import os
import pathlib
import select
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import termios
import time
import tty

import pytest

from conftest import open_fds, run_forked
from runtime import console, terminal
from runtime.errors import PyruncError

TIOCGPTN = 0x80045430  # _IOR('T', 0x30, unsigned int); Python's termios lacks it
# The tree whose terminal.py is under test, for the child pythons.
SOURCE_ROOT = str(pathlib.Path(terminal.__file__).resolve().parents[1])


def pty_number(fd: int) -> int:
    """The /dev/pts number of a pty master (ENOTTY on anything else)."""
    return int.from_bytes(fcntl.ioctl(fd, TIOCGPTN, bytes(4)), sys.byteorder)


WINSIZE = struct.Struct("HHHH")  # struct winsize: rows, cols, xpixel, ypixel


def get_winsize(fd: int) -> tuple[int, int]:
    rows, cols, _, _ = WINSIZE.unpack(fcntl.ioctl(fd, termios.TIOCGWINSZ, bytes(WINSIZE.size)))
    return rows, cols


def set_winsize(fd: int, rows: int, cols: int) -> None:
    """On a pty master the kernel then sends SIGWINCH to the slave's
    foreground process group."""
    fcntl.ioctl(fd, termios.TIOCSWINSZ, WINSIZE.pack(rows, cols, 0, 0))


def close_all(*fds):
    for fd in fds:
        try:
            os.close(fd)
        except OSError:
            pass



@pytest.fixture
def pair():
    master, slave = os.openpty()
    yield master, slave
    close_all(master, slave)


@pytest.fixture
def listener(tmp_path):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    path = str(tmp_path / "console.sock")
    sock.bind(path)
    sock.listen(1)
    yield sock, path
    sock.close()


@pytest.fixture
def alarm():
    """A hung relay fails the test instead of hanging the run."""
    def expired(_s, _f):
        raise TimeoutError("relay did not return")
    old = signal.signal(signal.SIGALRM, expired)
    signal.alarm(20)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


def accept_message(sock):
    """Everything one connection delivers: [(data, [fds])...] until EOF."""
    conn, _ = sock.accept()
    conn.settimeout(5)
    messages = []
    with conn:
        while True:
            data, anc, _flags, _ = conn.recvmsg(4096, socket.CMSG_SPACE(4 * 16))
            fds = []
            for level, kind, payload in anc:
                assert (level, kind) == (socket.SOL_SOCKET, socket.SCM_RIGHTS)
                fds += array.array("i", payload[:len(payload) - len(payload) % 4]).tolist()
            if not data and not fds:
                return messages
            messages.append((data, fds))


# -- send_console --

def test_send_console_delivers_exactly_one_pty_master(pair, listener):
    master, slave = pair
    sock, path = listener
    console.send_console(path, master)
    messages = accept_message(sock)
    assert [(data, len(fds)) for data, fds in messages] == [(b"/dev/ptmx", 1)]
    fd = messages[0][1][0]
    try:
        # The same pty: its number names our slave, and bytes written to it reach the slave.
        assert os.ttyname(slave) == f"/dev/pts/{pty_number(fd)}"
        os.write(fd, b"ping\n")
        assert os.read(slave, 100).strip() == b"ping"
    finally:
        os.close(fd)
    # The caller's master is still open and working.
    os.write(master, b"pong\n")
    assert os.read(slave, 100).strip() == b"pong"


def test_send_console_long_socket_path(pair, tmp_path):
    master, slave = pair
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    deep.mkdir(parents=True)
    path = str(deep / "console.sock")
    assert len(path) > 108  # beyond sun_path: bind through the directory's fd, as send_console does
    dir_fd = os.open(deep, os.O_PATH)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(f"/proc/self/fd/{dir_fd}/console.sock")
        sock.listen(1)
        console.send_console(path, master)
        messages = accept_message(sock)
        assert len(messages) == 1 and len(messages[0][1]) == 1
        assert pty_number(messages[0][1][0]) == pty_number(master)
        os.close(messages[0][1][0])
    finally:
        sock.close()
        os.close(dir_fd)


def test_send_console_missing_socket(pair, tmp_path):
    path = str(tmp_path / "nope.sock")

    def attempt():  # forked: see conftest.open_fds
        before = open_fds()
        with pytest.raises(PyruncError) as e:
            console.send_console(path, pair[0])
        assert str(e.value) == f"--console-socket {path}: no such file or directory"
        assert open_fds() <= before  # the socket was closed on the way out
    run_forked(attempt)


def test_send_console_refused(pair, tmp_path):
    path = str(tmp_path / "dead.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(path)  # bound, never listening: connect is refused
    try:
        with pytest.raises(PyruncError) as e:
            console.send_console(path, pair[0])
        assert str(e.value) == f"--console-socket {path}: connection refused"
    finally:
        sock.close()


# -- window size --

def test_relay_winsize_at_start_and_on_sigwinch(alarm):
    """In this process (the main thread): the relay's SIGWINCH handler copies
    the size of its terminal (stdin) to the master, and goes away afterwards."""
    outer_m, outer_s = os.openpty()  # pyrunc's terminal; outer_s is its stdin/stdout
    inner_m, inner_s = os.openpty()  # the container's pty
    seen = {}

    def previous(_s, _f):
        seen["previous handler ran"] = True

    old = signal.signal(signal.SIGWINCH, previous)
    try:
        set_winsize(outer_m, 11, 22)
        set_winsize(inner_m, 1, 1)
        before = termios.tcgetattr(outer_s)

        def child_done():  # called by the relay about every 50 ms: drives the test
            if "start" not in seen:
                seen["start"] = get_winsize(inner_s)
                seen["raw"] = not termios.tcgetattr(outer_s)[3] & (termios.ECHO | termios.ICANON)
                set_winsize(outer_m, 33, 44)
                os.kill(os.getpid(), signal.SIGWINCH)  # we are not in outer's session
                return False
            seen["after"] = get_winsize(inner_s)
            return True

        terminal.relay(inner_m, child_done, stdin_fd=outer_s, stdout_fd=outer_s, linger=0.05)
        assert seen["start"] == (11, 22)
        assert seen["after"] == (33, 44)
        assert seen["raw"] is True
        assert "previous handler ran" not in seen
        assert signal.getsignal(signal.SIGWINCH) is previous
        assert termios.tcgetattr(outer_s) == before
    finally:
        signal.signal(signal.SIGWINCH, old)
        close_all(outer_m, outer_s, inner_m, inner_s)


# -- relaying, in this process, without a tty stdin --

def spawn_on(slave: int, script: str) -> subprocess.Popen:
    return subprocess.Popen(["sh", "-c", script], stdin=slave, stdout=slave, stderr=slave,
                            start_new_session=True)


def kill(proc):
    """The sh and whatever it started (its own session: pgid = pid)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def test_relay_copies_both_ways_and_does_not_reap(alarm):
    master, slave = os.openpty()
    stdin = tempfile.TemporaryFile()
    stdout = tempfile.TemporaryFile()
    stdin.write(b"abc\n")
    stdin.seek(0)
    winch = signal.getsignal(signal.SIGWINCH)
    # Output well after stdin's EOF must still come through.
    proc = spawn_on(slave, 'echo hi; read x; sleep 0.3; echo "got $x"; exit 3')
    os.close(slave)
    pidfd = os.pidfd_open(proc.pid)
    try:
        terminal.relay(master, pidfd, stdin_fd=stdin.fileno(), stdout_fd=stdout.fileno())
        stdout.seek(0)
        out = stdout.read()
        assert b"hi\r\n" in out and b"got abc\r\n" in out, out
        assert proc.wait(timeout=5) == 3  # ECHILD would make Popen report 0
        assert signal.getsignal(signal.SIGWINCH) is winch  # no tty: no handler
        assert not fcntl.fcntl(master, fcntl.F_GETFL) & os.O_NONBLOCK  # flags put back
    finally:
        kill(proc)
        close_all(master, pidfd)
        stdin.close()
        stdout.close()


def test_relay_unread_input_never_blocks_output(alarm):
    """The container writes 300 kB before reading any of 100 kB of input: a
    relay blocked writing input would never read that output (deadlock)."""
    master, slave = os.openpty()
    tty.setraw(slave)  # byte-exact both ways: no echo, no \r\n
    stdin = tempfile.TemporaryFile()
    stdout = tempfile.TemporaryFile()
    stdin.write((b"x" * 99 + b"\n") * 1000)
    stdin.seek(0)
    proc = spawn_on(slave, "yes | head -c 300000; head -c 100000 | wc -c")
    os.close(slave)
    pidfd = os.pidfd_open(proc.pid)
    try:
        terminal.relay(master, pidfd, stdin_fd=stdin.fileno(), stdout_fd=stdout.fileno())
        stdout.seek(0)
        out = stdout.read()
        assert out[:300000] == b"y\n" * 150000
        assert out[300000:] == b"100000\n"
        assert proc.wait(timeout=5) == 0
    finally:
        kill(proc)
        close_all(master, pidfd)
        stdin.close()
        stdout.close()


def test_relay_callable_child_done_without_stdin(alarm):
    master, slave = os.openpty()
    stdout = tempfile.TemporaryFile()
    proc = spawn_on(slave, "echo one; sleep 0.2; echo two")
    os.close(slave)

    def exited():  # without reaping, as the caller's own wait must still work
        return os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None

    try:
        terminal.relay(master, exited, stdin_fd=None, stdout_fd=stdout.fileno())
        stdout.seek(0)
        assert stdout.read() == b"one\r\ntwo\r\n"
        assert proc.wait(timeout=5) == 0
    finally:
        kill(proc)
        close_all(master)
        stdout.close()


def test_relay_returns_after_exit_while_the_slave_is_held(alarm):
    """Something else keeps the slave open (a background process in an exec):
    once the process is gone and output stops, the relay returns anyway."""
    master, slave = os.openpty()
    stdout = tempfile.TemporaryFile()
    proc = spawn_on(slave, "echo bye; exit 4")
    pidfd = os.pidfd_open(proc.pid)
    try:  # slave stays open here: no EIO will ever come
        start = time.monotonic()
        terminal.relay(master, pidfd, stdin_fd=None, stdout_fd=stdout.fileno(), linger=0.1)
        assert time.monotonic() - start < 5
        stdout.seek(0)
        assert stdout.read() == b"bye\r\n"
        assert proc.wait(timeout=5) == 4  # seen exited through the pidfd, not reaped
    finally:
        kill(proc)
        close_all(master, slave, pidfd)
        stdout.close()


# -- raw mode under a real terminal --

# pyrunc's part: its terminal (the pty the test holds) is its controlling tty,
# so resizing it sends SIGWINCH; SIGTERM raises, as in pyrunc's cli.
DRIVER = r"""
import fcntl, os, signal, subprocess, sys, termios
from runtime.terminal import relay

fcntl.ioctl(0, termios.TIOCSCTTY, 0)
signal.signal(signal.SIGTERM, lambda s, f: sys.exit(143))
master, slave = os.openpty()
child = subprocess.Popen(["sh", "-c", sys.argv[1]], stdin=slave, stdout=slave, stderr=slave,
                         start_new_session=True)
os.close(slave)
os.write(1, b"CHILD %d\n" % child.pid)
pidfd = os.pidfd_open(child.pid)
try:
    relay(master, pidfd)
finally:
    if child.poll() is None:
        os.killpg(child.pid, signal.SIGKILL)  # sh and its sleep
    os.write(1, b"RELAY-DONE %d\n" % child.wait())
"""


class Driver:
    def __init__(self, script: str):
        self.master, self.slave = os.openpty()
        self.child = None
        self.out = b""
        env = dict(os.environ, PYTHONPATH=SOURCE_ROOT)
        self.proc = subprocess.Popen([sys.executable, "-c", DRIVER, script], stdin=self.slave,
                                     stdout=self.slave, stderr=self.slave, env=env,
                                     start_new_session=True)

    def read_until(self, marker: bytes, timeout: float = 10) -> bytes:
        deadline = time.monotonic() + timeout
        while marker not in self.out:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.master], [], [], left)[0]:
                raise AssertionError(f"no {marker!r} in {self.out!r}")
            try:
                self.out += os.read(self.master, 4096)
            except OSError as e:
                if e.errno != errno.EIO:
                    raise
                raise AssertionError(f"terminal closed before {marker!r}: {self.out!r}")
            if self.child is None and b"CHILD " in self.out and b"\n" in self.out.split(b"CHILD ")[1]:
                self.child = int(self.out.split(b"CHILD ")[1].split(b"\n")[0].strip())
        return self.out

    def raw(self) -> bool:
        lflag = termios.tcgetattr(self.slave)[3]
        return not lflag & (termios.ECHO | termios.ICANON | termios.ISIG)

    def close(self):
        for pid in (self.proc.pid, self.child):  # each leads its own session
            if pid:
                try:
                    os.killpg(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        self.proc.wait()
        close_all(self.master, self.slave)


def test_relay_under_a_real_terminal():
    d = Driver('stty size; echo hi; read x; echo "got $x"; stty size; exit 5')
    try:
        set_winsize(d.master, 33, 77)
        before = termios.tcgetattr(d.slave)
        assert not d.raw()  # a fresh pty is cooked: the check below can fail
        d.read_until(b"hi")
        assert b"33 77" in d.out  # the size at start reached the container's pty
        assert d.raw()  # output flows only once the relay has made the terminal raw
        set_winsize(d.master, 44, 99)  # the kernel sends the driver SIGWINCH
        os.write(d.master, b"hello\r")  # raw: \r goes through; the inner pty makes it \n
        d.read_until(b"RELAY-DONE 5")
        assert b"got hello" in d.out
        assert b"44 99" in d.out.split(b"got hello")[1]
        assert b"RELAY-DONE 5" in d.out
        assert d.proc.wait(timeout=10) == 0
        assert termios.tcgetattr(d.slave) == before
    finally:
        d.close()


def test_relay_restores_the_terminal_when_sigterm_raises():
    d = Driver("echo hi; sleep 30")
    try:
        before = termios.tcgetattr(d.slave)
        d.read_until(b"hi")
        assert d.raw()
        d.proc.send_signal(signal.SIGTERM)
        assert d.proc.wait(timeout=10) == 143  # the exception went through the relay
        assert termios.tcgetattr(d.slave) == before
        d.read_until(b"RELAY-DONE -9")
    finally:
        d.close()
