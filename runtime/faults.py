"""Failpoints for the fault-injection tests.

PYRUNC_FAULT=POINT makes pyrunc SIGKILL itself when it reaches POINT;
PYRUNC_FAULT=POINT:sleep makes it wait there (for a signal) instead. Points are
named where they are placed (create: claimed, state-saved, cgroup-made, spawned,
pid-saved, ready, saved, released; start: start-opened, start-read; delete:
delete-killed, delete-cgroup). Unset, a point costs one string comparison.
"""
import os
import _signal  # signal's C module: `import signal` costs ~4 ms (enum)

_FAULT = os.environ.get("PYRUNC_FAULT", "")


def point(name: str) -> None:
    if not _FAULT:
        return
    where, _, action = _FAULT.partition(":")
    if where != name:
        return
    if action == "sleep":
        while True:
            _signal.pause()
    os.kill(os.getpid(), _signal.SIGKILL)
