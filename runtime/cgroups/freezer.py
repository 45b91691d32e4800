"""Freezing a container's processes: the v1 freezer's freezer.state, or cgroup
v2's cgroup.freeze. Which one a container has is its Manager's choice."""
import os
import time

from ..errors import PyruncError, strerror
from ..fdio import read_record

FREEZE_TIMEOUT = 10.0


class Freezer:
    """file: the control file ("" when there is none); values: what it takes
    for (frozen, thawed); frozen_when: what it reads while frozen or on the
    way; settle_file and settled_lines: the file whose lines say the kernel
    is done, and the line that says so for (frozen, thawed). All data: the
    front door (csrc/front.c) does the same from the container's front
    record (front_record.py)."""

    def __init__(self, file: str, values: tuple[str, str], frozen_when: tuple[str, ...],
                 settle_file: str, settled_lines: tuple[str, str]):
        self.file = file
        self.values = values
        self.frozen_when = frozen_when
        self.settle_file = settle_file
        self.settled_lines = settled_lines

    @classmethod
    def v1(cls, directory: str | None) -> "Freezer":
        state = f"{directory}/freezer.state" if directory else ""
        return cls(state, ("FROZEN", "THAWED"), ("FROZEN", "FREEZING"), state,
                   ("FROZEN", "THAWED"))

    @classmethod
    def v2(cls, directory: str | None) -> "Freezer":
        if not directory:
            return cls.v1(None)
        return cls(os.path.join(directory, "cgroup.freeze"), ("1", "0"), ("1",),
                   os.path.join(directory, "cgroup.events"), ("frozen 1", "frozen 0"))

    def available(self) -> bool:
        return bool(self.file)

    def frozen(self) -> bool:
        """Frozen or on the way there."""
        try:
            return bool(self.file) and _read(self.file) in self.frozen_when
        except OSError:
            return False

    def freeze(self) -> None:
        self._set(frozen=True)

    def thaw(self) -> None:
        self._set(frozen=False)

    def _set(self, frozen: bool) -> None:
        if not self.available():
            raise PyruncError("this host has no freezer for the container's cgroup "
                              "(neither the v1 freezer nor cgroup.freeze)")
        value = self.values[0 if frozen else 1]
        try:
            with open(self.file, "w") as f:
                f.write(value)
        except OSError as e:
            raise PyruncError(f"write {self.file}: {strerror(e)}") from None
        # Freezing takes effect task by task: wait until the kernel says done.
        deadline = time.monotonic() + FREEZE_TIMEOUT
        delay = 0.0005
        while not self._settled(frozen):
            if time.monotonic() > deadline:
                raise PyruncError(f"{self.file}: still not {value} after {FREEZE_TIMEOUT:.0f} s")
            time.sleep(delay)
            delay = min(delay * 2, 0.05)

    def _settled(self, frozen: bool) -> bool:
        wanted = self.settled_lines[0 if frozen else 1]
        return wanted in _read(self.settle_file).splitlines()


def _read(path: str) -> str:
    return read_record(path).decode().strip()
