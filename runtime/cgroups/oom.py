"""Noticing OOM kills in a container's memory cgroup as they happen (for
`events`): v1 through an eventfd registered on memory.oom_control (runc's
mechanism); v2 by poll()ing memory.events (kernfs wakes POLLPRI on change)
and counting its oom_kill field. Which one a container has is its Manager's
choice; every watch has the same face: fds(), on_ready(fd), catch_up(), ended."""
import os
import select

from .. import log
from ..errors import strerror


class OomWatch:
    """No memory cgroup: nothing to watch."""
    ended = False

    def fds(self) -> list[tuple[int, int]]:
        """(fd, poll mask) to wait on."""
        return []

    def on_ready(self, fd: int) -> bool:
        """True if fd, ready, reports an OOM now (one event per wake-up, as runc)."""
        return False

    def catch_up(self) -> bool:
        """An OOM not reported yet (read again at every tick)."""
        return False


class V1OomWatch(OomWatch):
    def __init__(self, memory: str):
        self._efd = None
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

    def fds(self) -> list[tuple[int, int]]:
        return [] if self._efd is None else [(self._efd, select.POLLIN)]

    def on_ready(self, fd: int) -> bool:
        if fd != self._efd:
            return False
        try:
            os.eventfd_read(self._efd)
        except BlockingIOError:
            return False
        # The kernel signals the eventfd when the cgroup goes away, too.
        if not os.path.exists(self._control):
            self.ended = True
            return False
        return True

    def catch_up(self) -> bool:
        return self._efd is not None and not self.ended and self.on_ready(self._efd)


class V2OomWatch(OomWatch):
    def __init__(self, directory: str):
        self._events = None
        self._kills = 0  # the oom_kill count last seen
        try:
            self._events = os.open(os.path.join(directory, "memory.events"),
                                   os.O_RDONLY | os.O_CLOEXEC)
        except OSError as e:
            log.warning(f"no OOM events: {directory}: {strerror(e)}")
            return
        self._kills = self._read_kills()

    def fds(self) -> list[tuple[int, int]]:
        # A kernfs file always polls readable; a change shows as POLLPRI.
        return [] if self._events is None else [(self._events, select.POLLPRI)]

    def on_ready(self, fd: int) -> bool:
        return self.catch_up()

    def catch_up(self) -> bool:
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
