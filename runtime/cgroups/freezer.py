"""Freezing a container: the v1 freezer where the host has it (hybrid hosts like
this project's CI), else cgroup v2's cgroup.freeze."""
import os
import time

from ..errors import PyruncError, strerror

FREEZE_TIMEOUT = 10.0


class Freezer:
    def __init__(self, dirs: dict):
        self.v1 = dirs.get("freezer")
        unified = dirs.get("unified")
        self.v2 = unified if not self.v1 and unified else None

    def available(self) -> bool:
        return bool(self.v1 or self.v2)

    def frozen(self) -> bool:
        """Frozen or on the way there."""
        try:
            if self.v1:
                return _read(self.v1, "freezer.state") in ("FROZEN", "FREEZING")
            if self.v2:
                return _read(self.v2, "cgroup.freeze") == "1"
        except OSError:
            pass
        return False

    def freeze(self) -> None:
        self._set(frozen=True)

    def thaw(self) -> None:
        self._set(frozen=False)

    def _set(self, frozen: bool) -> None:
        if not self.available():
            raise PyruncError("this host has no freezer for the container's cgroup "
                              "(neither the v1 freezer nor cgroup.freeze)")
        if self.v1:
            path, value = os.path.join(self.v1, "freezer.state"), "FROZEN" if frozen else "THAWED"
        else:
            path, value = os.path.join(self.v2, "cgroup.freeze"), "1" if frozen else "0"
        try:
            with open(path, "w") as f:
                f.write(value)
        except OSError as e:
            raise PyruncError(f"write {path}: {strerror(e)}") from None
        # Freezing takes effect task by task: wait until the kernel says done.
        deadline = time.monotonic() + FREEZE_TIMEOUT
        delay = 0.0005
        while not self._settled(frozen):
            if time.monotonic() > deadline:
                raise PyruncError(f"{path}: still not {value} after {FREEZE_TIMEOUT:.0f} s")
            time.sleep(delay)
            delay = min(delay * 2, 0.05)

    def _settled(self, frozen: bool) -> bool:
        if self.v1:
            return _read(self.v1, "freezer.state") == ("FROZEN" if frozen else "THAWED")
        events = dict(line.split() for line in _read(self.v2, "cgroup.events").splitlines())
        return events.get("frozen") == ("1" if frozen else "0")


def _read(directory: str, name: str) -> str:
    with open(os.path.join(directory, name)) as f:
        return f.read().strip()
