"""fds over AF_UNIX sockets (SCM_RIGHTS): the pty master and a seccomp notify
fd sent on, the init's fds received."""
import sys

import _socket  # socket.py's enum set-up costs ~2.5 ms; the C module suffices


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
