"""The foreground side of process.terminal: without a --console-socket, pyrunc
relays between its own terminal and the container's pty master (relay), as
runc does. (The master reaches pyrunc over the sync socket: launcher.Init
receives it; console.py hands it to a --console-socket.)
"""
import errno
import fcntl
import os
import select
import _signal  # signal's C module: `import signal` costs ~4 ms (enum)
import struct
import termios

from .errors import strerror
from .fdio import write_all

_WINSIZE = struct.Struct("HHHH")  # struct winsize: rows, cols, xpixel, ypixel


def take_our_size(master_fd: int) -> None:
    """Give the pty our terminal's size before the container's program runs
    (the relay starts after it does: a program that asks at once saw 0x0)."""
    for fd in (0, 1):
        if os.isatty(fd):
            _copy_winsize(fd, master_fd)
            return


def _copy_winsize(src: int, dst: int) -> None:
    try:  # all 8 bytes, pixels included
        fcntl.ioctl(dst, termios.TIOCSWINSZ, fcntl.ioctl(src, termios.TIOCGWINSZ, bytes(_WINSIZE.size)))
    except OSError:
        pass  # a terminal that went away has no size to pass on


def _raw(attrs: list) -> list:
    """cfmakeraw(3) on tcgetattr's list: bytes pass through untouched, one at a time."""
    iflag, oflag, cflag, lflag, ispeed, ospeed, cc = attrs
    iflag &= ~(termios.IGNBRK | termios.BRKINT | termios.PARMRK | termios.ISTRIP
               | termios.INLCR | termios.IGNCR | termios.ICRNL | termios.IXON)
    oflag &= ~termios.OPOST
    lflag &= ~(termios.ECHO | termios.ECHONL | termios.ICANON | termios.ISIG | termios.IEXTEN)
    cflag = (cflag & ~(termios.CSIZE | termios.PARENB)) | termios.CS8
    cc = list(cc)
    cc[termios.VMIN] = 1
    cc[termios.VTIME] = 0
    return [iflag, oflag, cflag, lflag, ispeed, ospeed, cc]


def _restore_tty(fd: int, attrs: list) -> None:
    try:
        termios.tcsetattr(fd, termios.TCSANOW, attrs)  # TCSANOW: never wait on a stuck output
    except termios.error:
        pass  # the terminal went away (hangup): nothing left to restore
    except BaseException:
        # A signal handler's exception (SIGTERM raises in pyrunc) can land just
        # before or just after the call: make sure it ran, then let it go on.
        try:
            termios.tcsetattr(fd, termios.TCSANOW, attrs)
        except termios.error:
            pass
        raise


def relay(master_fd: int, child_done, stdin_fd: int | None = 0, stdout_fd: int = 1,
          linger: float = 0.2) -> None:
    """Relay between pyrunc's own stdio and a pty master until the container
    process has exited and its output is drained.

    child_done is a pidfd of the process (readable once it exits) or a callable
    returning true once it has exited; either way the process is NOT reaped
    here (a callable should use waitid(..., WEXITED | WNOHANG | WNOWAIT)).

    stdin → master and master → stdout. A tty stdin is put in raw mode (the
    container's pty does the line editing and signals) and restored on every
    way out, exceptions included. The window size of pyrunc's terminal (stdin,
    else stdout) goes to the master now and on each SIGWINCH, while the handler
    installed for that is in place (main thread only; the previous handler is
    put back). EOF on stdin stops input only; stdin_fd None means no input.

    Returns on EIO from the master (no slave fd is left open anywhere), or once
    the process has exited and the master stayed quiet for `linger` seconds
    (something in the container may hold the slave open). master_fd stays open.
    """
    in_tty = stdin_fd is not None and os.isatty(stdin_fd)
    size_from = stdin_fd if in_tty else stdout_fd if os.isatty(stdout_fd) else None
    saved = None
    winch = False
    old_winch = None
    master_flags = fcntl.fcntl(master_fd, fcntl.F_GETFL)
    try:
        if size_from is not None:
            _copy_winsize(size_from, master_fd)
            try:
                old_winch = _signal.signal(_signal.SIGWINCH,
                                          lambda _s, _f: _copy_winsize(size_from, master_fd))
                winch = True
            except ValueError:
                pass  # not the main thread: the size at start only
        if in_tty:
            saved = termios.tcgetattr(stdin_fd)
            termios.tcsetattr(stdin_fd, termios.TCSANOW, _raw(saved))
        # Non-blocking master: input the container does not read yet must never
        # stop its output from being relayed (it would block on a full pty).
        # Not stdin/stdout: their file descriptions are shared with the shell.
        fcntl.fcntl(master_fd, fcntl.F_SETFL, master_flags | os.O_NONBLOCK)
        _pump(master_fd, child_done, stdin_fd, stdout_fd, linger)
    finally:
        try:
            if saved is not None:
                _restore_tty(stdin_fd, saved)
        finally:
            if winch:
                _signal.signal(_signal.SIGWINCH, _signal.SIG_DFL if old_winch is None else old_winch)
            try:
                fcntl.fcntl(master_fd, fcntl.F_SETFL, master_flags)
            except OSError:
                pass


def _pump(master: int, child_done, stdin_fd, stdout_fd: int, linger: float) -> None:
    pidfd = child_done if isinstance(child_done, int) else None
    pending = b""  # input the master has not taken yet
    reading = stdin_fd is not None
    out_ok = True
    exited = False
    while True:
        poller = select.poll()
        poller.register(master, select.POLLIN | (select.POLLOUT if pending else 0))
        # Read more input only once the master took the last: bounded buffering.
        if reading and not pending and not exited:
            poller.register(stdin_fd, select.POLLIN)
        if pidfd is not None and not exited:
            poller.register(pidfd, select.POLLIN)
        if exited:
            timeout = linger * 1000  # drained: quiet this long after the exit
        else:
            timeout = None if pidfd is not None else 50  # a callable is polled
        events = dict(poller.poll(timeout))
        if exited and not events:
            return
        if any(ev & select.POLLNVAL for ev in events.values()):
            raise OSError(errno.EBADF, "relay: " + strerror(errno.EBADF))

        ev = events.get(master, 0)
        if ev & (select.POLLIN | select.POLLHUP | select.POLLERR):
            try:
                data = os.read(master, 65536)
            except BlockingIOError:
                data = None
            except OSError as e:
                if e.errno == errno.EIO:
                    return  # every slave fd is closed: nothing more can come
                raise
            if data == b"":
                return
            if data and out_ok:
                out_ok = _write_all(stdout_fd, data)
        if ev & select.POLLOUT and pending:
            try:
                pending = pending[os.write(master, pending):]
            except BlockingIOError:
                pass
            except OSError as e:
                if e.errno == errno.EIO:
                    return
                raise

        if stdin_fd is not None and events.get(stdin_fd, 0):
            try:
                data = os.read(stdin_fd, 65536)
            except BlockingIOError:
                data = None  # someone else made the shared stdin non-blocking
            except OSError:
                data = b""  # a hung-up terminal (EIO): as good as EOF
            if data == b"":
                reading = False  # EOF: stop reading input, keep relaying output
            elif data:
                pending = data

        if pidfd is not None:
            exited = exited or bool(events.get(pidfd, 0))
        elif not exited:
            exited = bool(child_done())
        if exited:
            pending = b""  # nobody left to read it


def _write_all(fd: int, data: bytes) -> bool:
    """Write all of data; False if the reader is gone (EPIPE, EIO): output is
    then dropped but still drained, so the container never blocks on it."""
    try:
        write_all(fd, data)
    except OSError:
        return False
    return True
