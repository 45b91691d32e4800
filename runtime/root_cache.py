"""Small derived files in the runtime root (schema verdicts, compiled seccomp
programs), named PREFIX + key. Bounded: at LIMIT files of one kind they are
all dropped rather than grow. A cache that cannot be written only costs time."""
import os

LIMIT = 1024


def path(cache_dir: str, prefix: str, key: str) -> str:
    return os.path.join(cache_dir, prefix + key)


def get(cache_dir: str | None, prefix: str, key: str) -> bytes | None:
    if not cache_dir:
        return None
    try:
        with open(path(cache_dir, prefix, key), "rb") as f:
            return f.read()
    except OSError:
        return None


def put(cache_dir: str | None, prefix: str, key: str, data: bytes = b"") -> None:
    """Write atomically (rename), so a reader never sees half a file."""
    if not cache_dir:
        return
    target = path(cache_dir, prefix, key)
    temp = f"{target}.{os.getpid()}.tmp"
    try:
        os.makedirs(cache_dir, mode=0o700, exist_ok=True)
        names = [n for n in os.listdir(cache_dir) if n.startswith(prefix)]
        if len(names) >= LIMIT:
            for n in names:
                os.unlink(os.path.join(cache_dir, n))
        fd = os.open(temp, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_CLOEXEC, 0o600)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
        finally:
            os.close(fd)
        os.rename(temp, target)
    except OSError:
        try:
            os.unlink(temp)
        except OSError:
            pass
