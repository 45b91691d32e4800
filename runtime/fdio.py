"""Writing to fds and files whole, and fds over AF_UNIX sockets (SCM_RIGHTS)."""
import os
import select
import sys

import _socket  # socket.py's enum set-up costs ~2.5 ms; the C module suffices

from .errors import PyruncError, strerror


def write_all(fd: int, data: bytes) -> None:
    """os.write until all of data is written (a pipe may take less); on a
    non-blocking fd (a shared stdout), wait until it takes more."""
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(fd, view):]
        except BlockingIOError:
            poller = select.poll()
            poller.register(fd, select.POLLOUT)
            poller.poll()


def atomic_write(path: str, data: bytes, mode: int = 0o644) -> None:
    """Replace path with data: a reader sees the old file or the new one,
    never half of it. The temp file is removed if anything fails (OSError
    is the caller's to report)."""
    temp = os.path.join(os.path.dirname(path), f".{os.path.basename(path)}.{os.getpid()}.tmp")
    try:
        fd = os.open(temp, os.O_CREAT | os.O_TRUNC | os.O_WRONLY | os.O_CLOEXEC, mode)
        try:
            write_all(fd, data)
        finally:
            os.close(fd)
        os.rename(temp, path)
    except BaseException:
        try:
            os.unlink(temp)
        except OSError:
            pass
        raise


def send_fd(sock, data: bytes, fd: int) -> None:
    """One message carrying fd. A stream socket drops control data sent with
    no bytes: data must not be empty."""
    sock.sendmsg([data], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS,
                           fd.to_bytes(4, sys.byteorder, signed=True))])


def recv_with_fds(sock, size: int, max_fds: int = 8) -> tuple[bytes, list[int]]:
    """One message and the fds that came with it, close-on-exec (none may
    leak into a later spawn). Room for max_fds, so that a peer's extra fds
    are seen (to be closed by the caller), not lost. OSError is the caller's."""
    data, ancillary, _flags, _addr = sock.recvmsg(size, _socket.CMSG_SPACE(4 * max_fds),
                                                  _socket.MSG_CMSG_CLOEXEC)
    fds = []
    for level, kind, payload in ancillary:
        if level == _socket.SOL_SOCKET and kind == _socket.SCM_RIGHTS:
            usable = len(payload) - len(payload) % 4
            fds += [int.from_bytes(payload[i:i + 4], sys.byteorder, signed=True)
                    for i in range(0, usable, 4)]
    return data, fds


def write_pid_file(path: str, pid: int) -> None:
    """--pid-file: the decimal pid, no newline (containerd rejects one),
    replaced atomically."""
    try:
        atomic_write(os.path.abspath(path), str(pid).encode())
    except OSError as e:
        raise PyruncError(f"--pid-file {os.path.abspath(path)}: {strerror(e)}") from None
