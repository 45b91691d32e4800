"""`events`: a container's resource stats as runc's JSON events.

`--stats` prints one {"type":"stats","id":ID,"data":{...}} line and exits.
Otherwise a stats event follows every interval (the first after one interval,
as runc) and an {"type":"oom","id":ID} event each time the kernel OOM-kills in
the container, until the container stops. The container's cgroup Manager
reads the stats and watches for OOMs as they happen (cgroups/oom.py); the
watch is asked again at every tick too. The end comes from a pidfd of the
init. (runc 1.1 on a v1 host keeps printing stats of a stopped container
until it is deleted; on v2 it stops once the cgroup is empty, as pyrunc does
everywhere.)
"""
import json
import os
import re
import select
import signal
import sys
import time

from .. import log
from ..cgroups import Manager
from ..errors import PyruncError
from ..procfs import open_pidfd
from ..state import STOPPED, ContainerDir, State

_UNITS = {"ns": 1, "us": 10**3, "\u00b5s": 10**3, "\u03bcs": 10**3, "ms": 10**6,
          "s": 10**9, "m": 60 * 10**9, "h": 3600 * 10**9}
_COMPONENT = re.compile(r"([0-9]*)(?:\.([0-9]*))?([^0-9.]*)")


def parse_duration(text: str) -> int:
    """Go's time.ParseDuration ("5s", "100ms", "1m30s", "1.5h", "-2s", "0"), in ns."""
    s, sign = text, 1
    if s[:1] in ("+", "-"):
        sign, s = (-1 if s[0] == "-" else 1), s[1:]
    if s == "0":
        return 0
    if not s:
        raise ValueError(text)
    total, pos = 0, 0
    while pos < len(s):
        m = _COMPONENT.match(s, pos)
        whole, frac, unit = m.groups()
        if not (whole or frac) or unit not in _UNITS:
            raise ValueError(text)
        scale = _UNITS[unit]
        total += int(whole or 0) * scale + (int(frac) * scale // 10**len(frac) if frac else 0)
        pos = m.end()
    if total > 2**63 - (sign > 0):
        raise ValueError(text)
    return sign * total


def run(args) -> int:
    return events(args.root, args.container_id, args.stats, args.interval)


def events(root: str, container_id: str, stats_only: bool, interval: str) -> int:
    try:
        interval_ns = parse_duration(interval)
    except ValueError:
        raise PyruncError(f'invalid value "{interval}" for flag --interval: not a duration '
                          '(Go syntax: 5s, 100ms, 1m30s)') from None
    cdir = ContainerDir(root, container_id)
    st = cdir.load()  # "container does not exist" first, as runc
    if interval_ns <= 0:
        raise PyruncError("duration interval must be greater than 0")
    if cdir.status(st) == STOPPED:
        raise PyruncError(f"container with id {container_id} is not running")
    cgroups = st.require_cgroups("collect events of")
    if stats_only:
        _emit("stats", container_id, cgroups.stats())
        return 0
    # Nothing to undo: a signal ends pyrunc as it ends runc.
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(sig, signal.SIG_DFL)
    try:
        _stream(cdir, st, cgroups, interval_ns / 1e9)
    except BrokenPipeError:  # the reader went away: nothing left to do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


def _emit(kind: str, container_id: str, data: dict | None = None) -> None:
    event = {"type": kind, "id": container_id}
    if data is not None:
        event["data"] = data
    sys.stdout.write(json.dumps(event, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def _stream(cdir: ContainerDir, st: State, cgroups: Manager, interval: float) -> None:
    container_id = st.id
    pidfd = open_pidfd(st.init_pid, st.init_start)
    if pidfd is None:
        return  # stopped just now
    watch = cgroups.oom_watch()
    poller = select.poll()
    poller.register(pidfd, select.POLLIN)
    for fd, mask in watch.fds():
        poller.register(fd, mask)
    next_tick = time.monotonic() + interval
    while True:
        timeout = max(0.0, next_tick - time.monotonic())
        ready = {fd for fd, _ in poller.poll(int(timeout * 1000) + 1)}
        for fd in ready - {pidfd}:
            if watch.on_ready(fd):
                _emit("oom", container_id)
            if watch.ended:
                return
        if pidfd in ready:
            if watch.catch_up():  # an OOM that killed the init
                _emit("oom", container_id)
            return
        now = time.monotonic()
        if now < next_tick:
            continue
        next_tick += interval
        if next_tick <= now:  # fell behind (a slow reader): skip ticks, as Go's time.Tick
            next_tick = now + interval
        if watch.catch_up():
            _emit("oom", container_id)
        if watch.ended or cdir.status(st) == STOPPED:
            return
        try:
            data = cgroups.stats()
        except PyruncError as e:
            log.error(str(e))  # runc logs and tries again at the next tick
            continue
        _emit("stats", container_id, data)
