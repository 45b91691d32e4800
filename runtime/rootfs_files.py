"""Read files of the container's rootfs from the host, safely: paths resolve as if
the rootfs were /, so a symlinked /etc/passwd cannot make pyrunc read a host file."""
import os

from ._native import lib


def open_in_root(rootfs: str, path: str, flags: int = os.O_RDONLY) -> int | None:
    """An fd of path resolved as if rootfs were /, or None (missing, unreadable)."""
    rootfd = os.open(rootfs, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        fd = lib.pyrunc_open_in_root(rootfd, path.encode(), flags)
    finally:
        os.close(rootfd)
    return fd if fd >= 0 else None


def read_in_root(rootfs: str, path: str, limit: int = 1 << 20) -> bytes | None:
    """The file's first `limit` bytes, or None if it does not exist or is unreadable."""
    fd = open_in_root(rootfs, path)
    if fd is None:
        return None
    try:
        return os.read(fd, limit)
    except OSError:
        return None
    finally:
        os.close(fd)
