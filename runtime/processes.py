"""A container's processes when it has no cgroup (rootless, rootless.py).

They are found in /proc: with its own pid namespace, every process in it;
sharing ours, the init; and in both cases their descendants. /proc races
with forks, so a SIGKILL to all is repeated until no new process shows.
"""
import os
import _signal  # signal's C module: `import signal` costs ~4 ms (enum)

from .procfs import parent


def _ns_id(pid, kind: str) -> tuple[int, int] | None:
    """None if the process is gone or, not dumpable, hides its namespaces
    from a caller without privileges (an init that shares a pid namespace,
    before it execs)."""
    try:
        st = os.stat(f"/proc/{pid}/ns/{kind}")
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _all_pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def container_pids(init_pid: int) -> list[int]:
    """Host pids of the container whose init is init_pid (empty once it is
    gone): the processes in its pid namespace, unless that is ours or hidden
    (_ns_id), and every descendant of those (nested pid namespaces)."""
    parents = {p: parent(p) for p in _all_pids()}
    if init_pid not in parents:
        return []
    theirs = _ns_id(init_pid, "pid")
    if theirs is None or theirs == _ns_id("self", "pid"):
        found = {init_pid}
    else:
        found = {p for p in parents if _ns_id(p, "pid") == theirs}
    grew = True
    while grew:
        grew = False
        for pid, ppid in parents.items():
            if ppid in found and pid not in found:
                found.add(pid)
                grew = True
    return sorted(found)


def signal_all(init_pid: int, sig: int, rounds: int = 10) -> None:
    """Signal every process of the container; again for those forked meanwhile."""
    done: set[int] = set()
    for _ in range(rounds):
        todo = [p for p in container_pids(init_pid) if p not in done]
        if not todo:
            return
        for pid in todo:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
            done.add(pid)
        if sig != _signal.SIGKILL and sig != _signal.SIGSTOP:
            return  # other signals may be handled: the forks meanwhile are the program's own

