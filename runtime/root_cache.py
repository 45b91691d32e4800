"""Small derived files in the runtime root (schema verdicts, compiled seccomp
programs), named PREFIX + key. Bounded: at LIMIT files of one kind they are
all dropped rather than grow. A cache that cannot be written only costs time."""
import os

from .fdio import atomic_write

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
    """Written atomically, so a reader never sees half a file."""
    if not cache_dir:
        return
    try:
        os.makedirs(cache_dir, mode=0o700, exist_ok=True)
        names = [n for n in os.listdir(cache_dir) if n.startswith(prefix)]
        if len(names) >= LIMIT:
            for n in names:
                os.unlink(os.path.join(cache_dir, n))
        atomic_write(path(cache_dir, prefix, key), data, 0o600)
    except OSError:
        pass
