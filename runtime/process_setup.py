"""The process a container gets, as the parent prepares it before the C init
starts (create, and exec): the fds it keeps, LISTEN_FDS for socket
activation, and the capabilities the host cannot grant left out with a
warning. (A default HOME is the init's: plan_process.DEFAULT_HOME.)"""
import os

from .caps import drop_ungrantable
from .launcher import open_fds


def inherited_fds(preserve_fds: int) -> list[int]:
    """--preserve-fds: which of fds 3 .. 3+N-1 are open, taken before pyrunc
    opens anything of its own, so that none of its fds can slip in."""
    return open_fds(3, preserve_fds)


def prepare_process(process: dict, pointer: str, preserve_fds: int,
                    preserved: list[int]) -> int:
    """The process as the container gets it, changed in place; returns the
    number of fds it keeps from 3 on (LISTEN_FDS may raise it)."""
    preserve_fds = _listen_fds(process, preserve_fds, preserved)
    drop_ungrantable(process, pointer)
    return preserve_fds


def _listen_fds(process: dict, preserve_fds: int, preserved: list[int]) -> int:
    """Socket activation: LISTEN_FDS passes fds 3.. on, as runc does."""
    count = os.environ.get("LISTEN_FDS", "")
    if not count.isdigit() or int(count) == 0:
        return preserve_fds
    n = int(count)
    process.setdefault("env", []).extend([f"LISTEN_FDS={n}", "LISTEN_PID=1"])
    if n > preserve_fds:
        preserved[:] = open_fds(3, n)
        return n
    return preserve_fds
