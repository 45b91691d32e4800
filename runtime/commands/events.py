"""pyrunc events: a container's resource stats as runc's JSON events.

`--stats` prints one {"type":"stats","id":ID,"data":{...}} line and exits.
Otherwise a stats event follows every interval (the first after one interval,
as runc) and an {"type":"oom","id":ID} event each time the kernel OOM-kills in
the container, until the container stops. OOMs are noticed as they happen: v1
through an eventfd on memory.oom_control (runc's mechanism); v2 by poll()ing
memory.events (kernfs wakes POLLPRI on change) and counting its oom_kill
field, re-read at every tick too. The end comes from a pidfd of the init.
(runc 1.1 on a v1 host keeps printing stats of a stopped container until it is
deleted; on v2 it stops once the cgroup is empty, as pyrunc does everywhere.)
"""
import json
import os
import re
import select
import signal
import sys
import time

from . import log
from .cgroups.stats import collect
from .errors import PyruncError, strerror
from .procfs import open_pidfd
from .state import ContainerDir, require_cgroup

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


def run(root: str, container_id: str, stats_only: bool, interval: str) -> int:
    try:
        interval_ns = parse_duration(interval)
    except ValueError:
        raise PyruncError(f'invalid value "{interval}" for flag --interval: not a duration '
                          '(Go syntax: 5s, 100ms, 1m30s)') from None
    cdir = ContainerDir(root, container_id)
    st = cdir.load()  # "container does not exist" first, as runc
    if interval_ns <= 0:
        raise PyruncError("duration interval must be greater than 0")
    if cdir.status(st) == "stopped":
        raise PyruncError(f"container with id {container_id} is not running")
    dirs = require_cgroup(st, "collect events of")
    if stats_only:
        _emit("stats", container_id, collect(dirs))
        return 0
    # Nothing to undo: a signal ends pyrunc as it ends runc.
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(sig, signal.SIG_DFL)
    try:
        _stream(cdir, st, container_id, dirs, interval_ns / 1e9)
    except BrokenPipeError:  # the reader went away: nothing left to do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


def _emit(kind: str, container_id: str, data: dict | None = None) -> None:
    event = {"type": kind, "id": container_id}
    if data is not None:
        event["data"] = data
    sys.stdout.write(json.dumps(event, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def _stream(cdir: ContainerDir, st: dict, container_id: str, dirs: dict, interval: float) -> None:
    pidfd = open_pidfd(st.get("init_pid", 0), st.get("init_start"))
    if pidfd is None:
        return  # stopped just now
    watch = _OomWatch(dirs)
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
        if watch.ended or cdir.status(st) == "stopped":
            return
        try:
            data = collect(dirs)
        except PyruncError as e:
            log.error(str(e))  # runc logs and tries again at the next tick
            continue
        _emit("stats", container_id, data)


class _OomWatch:
    """OOM kills in the container's memory cgroup, v1 or v2."""

    def __init__(self, dirs: dict):
        self.ended = False
        self._efd = None        # v1: eventfd registered on memory.oom_control
        self._control = None    # v1: cgroup.event_control, gone once the cgroup is
        self._events = None     # v2: fd of memory.events
        self._kills = 0         # v2: oom_kill count last seen
        memory = next((d for k, d in dirs.items() if "memory" in k.split(",")), None)
        if memory:
            self._watch_v1(memory)
        elif dirs.get("unified") and len(dirs) == 1:
            self._watch_v2(dirs["unified"])

    def fds(self) -> list[tuple[int, int]]:
        """(fd, poll mask). A kernfs file always polls readable; a change shows
        as POLLPRI (until the file is read again)."""
        return [(fd, mask) for fd, mask in ((self._efd, select.POLLIN), (self._events, select.POLLPRI))
                if fd is not None]

    def _watch_v1(self, memory: str) -> None:
        self._control = os.path.join(memory, "cgroup.event_control")
        try:
            efd = os.eventfd(0, os.EFD_CLOEXEC | os.EFD_NONBLOCK)
            ofd = os.open(os.path.join(memory, "memory.oom_control"), os.O_RDONLY | os.O_CLOEXEC)
            with open(self._control, "w") as f:
                f.write(f"{efd} {ofd}")
        except OSError as e:
            log.warning(f"no OOM events: {memory}: {strerror(e)}")
            return
        self._efd = efd  # ofd stays open: the kernel's registration refers to it

    def _watch_v2(self, unified: str) -> None:
        try:
            self._events = os.open(os.path.join(unified, "memory.events"), os.O_RDONLY | os.O_CLOEXEC)
        except OSError as e:
            log.warning(f"no OOM events: {unified}: {strerror(e)}")
            return
        self._kills = self._read_kills()

    def on_ready(self, fd: int) -> bool:
        """True if fd reports an OOM now (one event per wake-up, as runc)."""
        if fd == self._efd:
            try:
                os.eventfd_read(self._efd)
            except BlockingIOError:
                return False
            # The kernel signals the eventfd when the cgroup goes away, too.
            if not os.path.exists(self._control):
                self.ended = True
                return False
            return True
        return self.catch_up()

    def catch_up(self) -> bool:
        """An OOM not reported yet: v1 a pending eventfd, v2 a higher oom_kill count."""
        if self._efd is not None:
            return not self.ended and self.on_ready(self._efd)
        if self._events is None:
            return False
        kills = self._read_kills()
        new, self._kills = kills > self._kills, max(kills, self._kills)
        return new

    def _read_kills(self) -> int:
        try:
            os.lseek(self._events, 0, os.SEEK_SET)
            text = os.read(self._events, 4096).decode()
        except OSError:
            return self._kills
        for line in text.splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill":
                return int(value)
        return self._kills
