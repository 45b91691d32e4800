"""process.terminal's rules and the --console-socket: the C init opens the
pty inside the container's /dev/pts and sends the master over the sync
socket (launcher.Init receives it); pyrunc hands it to the caller's
--console-socket (send_console), as runc does. No termios here: the relay
(terminal.py) is for the foreground only."""
import os

import _socket  # socket.py's enum set-up is not needed here

from .errors import PyruncError, strerror
from .fdpass import send_fd

_SUN_PATH_MAX = 107  # sockaddr_un.sun_path is 108 bytes with the NUL


def check_terminal_flags(terminal: bool, console_socket: str | None, foreground: bool,
                         what: str) -> None:
    """runc's rules: a terminal needs someone to hold its master. what: where
    the terminal was asked for (config.json's pointer, or --tty)."""
    if terminal and not console_socket and not foreground:
        raise PyruncError(f"{what}: a detached terminal needs --console-socket to receive "
                          "its pty master")
    if console_socket and not terminal:
        raise PyruncError(f"--console-socket {console_socket}: the process has no terminal "
                          f"({what} is not set)")


def hand_over(console_socket: str, started) -> None:
    """--console-socket: the pty master of `started` (an Init) goes to the
    caller, and is no longer ours."""
    try:
        send_console(console_socket, started.console_fd)
    finally:
        os.close(started.console_fd)
        started.console_fd = None


def send_console(socket_path: str, master_fd: int, name: str = "/dev/ptmx") -> None:
    """Connect to the AF_UNIX stream socket at socket_path and send one message
    carrying master_fd (and nothing else) by SCM_RIGHTS; the data is the pty's
    name, which clients ignore. The caller still owns and closes master_fd."""
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    dir_fd = -1
    try:
        target = socket_path
        if len(os.fsencode(socket_path)) > _SUN_PATH_MAX:
            # Too long for sun_path: reach it through an O_PATH fd of its directory.
            head, tail = os.path.split(socket_path)
            dir_fd = os.open(head or ".", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
            target = f"/proc/self/fd/{dir_fd}/{tail}"
        sock.connect(target)
        # A stream socket drops control data sent with no bytes: never send none.
        send_fd(sock, os.fsencode(name) or b"\0", master_fd)
    except OSError as e:
        text = strerror(e)
        raise PyruncError(f"--console-socket {socket_path}: {text}") from None
    finally:
        sock.close()
        if dir_fd >= 0:
            os.close(dir_fd)
