"""The systemd cgroup driver (--systemd-cgroup): the container's cgroup is a
transient unit's, made and owned by systemd, as Kubernetes nodes
(SystemdCgroup = true) and Podman (cgroup_manager = "systemd") want.

A SystemdManager is a V2Manager over the unit's cgroup directory, plus the
unit: create() only connects; place() starts the unit with the init as its
process (systemd moves it in) and the resources as unit properties
(systemd_props.py), then writes the cgroup files as the v2 manager does;
update sets the properties and the files; destroy() stops the unit. Freezing,
killing, stats and OOM events use the directory, as on any v2 host.

What it keeps in state is {"unified": DIR, "systemd_unit": UNIT}. The D-Bus
connection (jeepney) is made only by the commands that talk to systemd:
create, update and delete.
"""
import os

from ..errors import PyruncError
from .kinds import V2Manager
from .manager import UNIT_KEY, V2_NAME, Placement
from .systemd_units import Unit

STOP_WAIT = 10.0  # seconds for killed processes to leave the unit before it is stopped


class SystemdManager(V2Manager):
    kind = "systemd"

    def __init__(self, dirs: dict, hierarchies=(), unit: Unit | None = None,
                 unit_name: str = "", container_id: str = "", extra: list = ()):
        super().__init__(dirs, hierarchies)
        self.unit_name = unit.name if unit else unit_name
        self._unit = unit
        self._container_id = container_id
        self._extra = list(extra)  # the annotations' properties, last (they win)
        self._started = unit is None  # a loaded container's unit runs already
        self._pending: dict | None = None
        self._bus = None
        self._version: int | None = None

    @classmethod
    def new(cls, unit: Unit, hierarchies: list, container_id: str, extra: list):
        (h,) = hierarchies
        return cls({V2_NAME: os.path.join(h.mountpoint, unit.cgroup.lstrip("/"))}, hierarchies,
                   unit=unit, container_id=container_id, extra=extra)

    def saved(self) -> dict:
        return {**self.dirs, UNIT_KEY: self.unit_name}

    def _systemd(self):
        if self._bus is None:
            from .systemd_bus import Systemd  # jeepney: only where systemd is talked to
            self._bus = Systemd()
        return self._bus

    # -- create: connect early, start the unit once the init exists --

    def create(self, optional: bool = False) -> None:
        """Nothing to make yet (systemd makes the cgroup with the unit): reach
        systemd now, so that a host without it fails before anything runs."""
        self._systemd()

    def placement(self) -> Placement:
        if self._started:
            return super().placement()
        return Placement(None, [], [])  # systemd moves the init in: place()

    def place(self, pid: int, placement: Placement) -> None:
        if self._started:
            return super().place(pid, placement)
        from .systemd_props import resource_properties, unit_properties
        resources = self._pending or {}
        props = unit_properties(self._unit.slice, pid, self._container_id)
        props += self._supported(resource_properties(resources))
        props += self._extra
        self._start(props)
        self._started = True
        self._write_files(resources, creating=True)

    def _start(self, props: list) -> None:
        bus = self._systemd()
        try:
            bus.start_unit(self.unit_name, props)
        except PyruncError as e:
            if "UnitExists" not in str(e):
                raise
            # A failed unit of an earlier container keeps its name: reset it, once.
            bus.reset_failed(self.unit_name)
            bus.start_unit(self.unit_name, props)
        if not os.path.isdir(self._v2_dir()):
            raise PyruncError(f"systemd started {self.unit_name} but its cgroup "
                              f"{self._v2_dir()} is not there")

    # -- resources --

    def _apply(self, resources: dict, creating: bool) -> None:
        if not self._started:
            self._pending = resources  # for the unit's properties: place()
            return
        if resources:
            from .systemd_props import resource_properties

            def read(name):
                try:
                    with open(os.path.join(self._v2_dir(), name)) as f:
                        return f.read()
                except OSError:
                    return None
            props = self._supported(resource_properties(resources, read))
            if props:
                self._systemd().set_properties(self.unit_name, props)
        self._write_files(resources, creating)

    def _write_files(self, resources: dict, creating: bool) -> None:
        """As runc: systemd's properties first, then every file as the v2
        manager writes it (what systemd has no property for included). The
        slices are systemd's: only controllers a resource needs are enabled
        in them (systemd enables the rest it accounts for itself)."""
        from .resources import apply_v2  # deferred: see Manager.apply
        apply_v2(self._v2_dir(), resources, creating, every_controller=False)

    def _supported(self, props: list) -> list:
        """systemd before 244 has no AllowedCPUs/AllowedMemoryNodes, before
        242 no CPUQuotaPeriodUSec: left to the cgroup files, as runc does."""
        if self._version is None:
            self._version = self._systemd().version()
        too_new = set()
        if self._version < 244:
            too_new |= {"AllowedCPUs", "AllowedMemoryNodes"}
        if self._version < 242:
            too_new.add("CPUQuotaPeriodUSec")
        return [p for p in props if p[0] not in too_new]

    # -- removal --

    def remove_made(self) -> None:
        pass  # create() made nothing; destroy() stops the unit

    def destroy(self) -> None:
        """Stop the unit once nothing runs in it: stopping a populated scope
        has systemd send SIGTERM and wait TimeoutStopSec (90 s) for it. (The
        other managers' rmdir fails instead, and their callers kill and
        retry: the same end.)"""
        if self._populated():
            self.kill()
            self.wait_empty(STOP_WAIT)
        self._systemd().stop_unit(self.unit_name)
        super().destroy()  # what systemd left (sub-cgroups made in a delegated unit)

    def _populated(self) -> bool:
        try:
            with open(os.path.join(self._v2_dir(), "cgroup.events")) as f:
                return "populated 1" in f.read()
        except OSError:
            return False


