"""Reading and writing fds and files whole: read_file, read_record, write_all,
atomic_write."""
import os
import select

from .errors import PyruncError, strerror

_RECORD_SIZE = 65536


def read_file(path: str) -> bytes:
    """A small file's bytes by plain system calls: `open()`'s buffered file
    object costs more than the read itself. OSError is the caller's."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        chunks = []
        while True:
            chunk = os.read(fd, 65536)
            if not chunk:  # (a /proc seq_file may return less than asked before its end)
                return b"".join(chunks)
            chunks.append(chunk)
    finally:
        os.close(fd)


def read_record(path: str) -> bytes:
    """read_file() of a regular file or a kernel file of one record
    (/proc/PID/stat, a cgroup control file), where a read shorter than asked
    is the end: one read instead of two, which `list` does three times per
    container. (Not for a many-record seq_file such as mountinfo: it hands
    out about a page per read.)"""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        chunk = os.read(fd, _RECORD_SIZE)
    finally:
        os.close(fd)
    return chunk if len(chunk) < _RECORD_SIZE else read_file(path)


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


def write_pid_file(path: str, pid: int) -> None:
    """--pid-file: the decimal pid, no newline (containerd rejects one),
    replaced atomically."""
    try:
        atomic_write(os.path.abspath(path), str(pid).encode())
    except OSError as e:
        raise PyruncError(f"--pid-file {os.path.abspath(path)}: {strerror(e)}") from None
