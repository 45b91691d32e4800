"""The systemd cgroup driver (--systemd-cgroup): the container's cgroup is a
transient unit's, made and owned by systemd, as Kubernetes nodes
(SystemdCgroup = true) and Podman (cgroup_manager = "systemd") want.

Each kind of host gets its manager plus the unit (UnitMixin):

    SystemdManager        a pure cgroup v2 host: the unit's one directory
    SystemdHybridManager  v1 controllers + cgroup2 (systemd's "hybrid" mode)
    SystemdV1Manager      v1 only (systemd's "legacy" mode)

create() only connects; place() starts the unit with the init as its
process (systemd moves it in) and the resources as unit properties
(systemd_props.py); on a v1 or hybrid host the init then joins, as runc
does, the hierarchies systemd did not put it in (same path: the slices and
the unit); then the files are written as the kind's own manager writes them.
update sets the properties and the files; destroy() stops the unit.
Freezing, killing, stats and OOM events use the directories, as on any host
of that kind.

What it keeps in state is its dirs plus {"systemd_unit": UNIT}. The D-Bus
connection (jeepney) is made only by the commands that talk to systemd:
create, update and delete.
"""
import os

from ..errors import PyruncError
from .kinds import HybridManager, V1Manager, V2Manager
from .manager import UNIT_KEY, V2_NAME, Manager, Placement
from .systemd_units import Unit

STOP_WAIT = 10.0  # seconds for killed processes to leave the unit before it is stopped


class UnitMixin:
    """The unit's part, over a kind's Manager (listed after it)."""
    v1_names = False  # systemd's v1 property names (MemoryLimit, ...): v1 and hybrid hosts

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

    def saved(self) -> dict:
        return {**self.dirs, UNIT_KEY: self.unit_name}

    def front_facts(self) -> dict[str, str]:
        return {**super().front_facts(), "destroy": "unit"}  # stopped over D-Bus

    def _systemd(self):
        if self._bus is None:
            self._bus = connect()
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
        from .systemd_props import unit_properties
        resources = self._pending or {}
        props = unit_properties(self._unit.slice, pid, self._container_id, v1=self.v1_names)
        props += self._supported(self._resource_properties(resources, lambda name: None))
        props += self._extra
        self._start(props)
        self._started = True
        self._join_the_rest(pid)
        super()._apply(resources, True)

    def _join_the_rest(self, pid: int) -> None:
        """The hierarchies systemd did not put the init in (v1: those of the
        controllers it does not manage)."""

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

    # -- resources --

    def _apply(self, resources: dict, creating: bool) -> None:
        """As runc: systemd's properties first, then every file as the kind's
        manager writes it (what systemd has no property for included)."""
        if not self._started:
            self._pending = resources  # for the unit's properties: place()
            return
        if resources:
            props = self._supported(self._resource_properties(resources, self._read))
            if props:
                self._systemd().set_properties(self.unit_name, props)
        super()._apply(resources, creating)

    def _resource_properties(self, resources: dict, read) -> list:
        raise NotImplementedError

    def _read(self, name: str) -> str | None:
        return None

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
        if self.pids():
            self.kill()
            self.wait_empty(STOP_WAIT)
        self._systemd().stop_unit(self.unit_name)
        super().destroy()  # what systemd left (sub-cgroups, the v1 dirs the init joined)


class SystemdManager(UnitMixin, V2Manager):
    kind = "systemd"
    # The slices are systemd's: enable in them only the controllers a resource
    # needs (systemd enables those it accounts for itself).
    every_controller = False

    def _resource_properties(self, resources: dict, read) -> list:
        from .systemd_props import resource_properties
        return resource_properties(resources, read)

    def _read(self, name: str) -> str | None:
        from .resources import read_control  # deferred: see Manager.apply
        return read_control(self._v2_dir(), name)



class _LegacyMixin(UnitMixin):
    v1_names = True

    def _resource_properties(self, resources: dict, read) -> list:
        from .systemd_props import v1_resource_properties
        return v1_resource_properties(resources)

    def _join_the_rest(self, pid: int) -> None:
        # Manager.create makes what is missing (a new v1 cpuset dir takes its
        # parent's cpus and mems); joining a cgroup the init is in already is
        # a no-op.
        Manager.create(self)
        self.add(pid)


class SystemdHybridManager(_LegacyMixin, HybridManager):
    kind = "systemd-hybrid"


class SystemdV1Manager(_LegacyMixin, V1Manager):
    kind = "systemd-v1"


def connect():
    """systemd over D-Bus: the system's for root, else the user's own (a
    rootless container's unit is the user's)."""
    from .systemd_bus import Systemd  # jeepney: only where systemd is talked to
    return Systemd(user=os.geteuid() != 0)


def for_unit(unit: Unit, hierarchies: list, container_id: str, extra: list) -> UnitMixin:
    """The manager of a new container's unit: in every hierarchy, the unit's
    path (its slices, then the unit), below the systemd instance's own cgroup
    (a user's: /user.slice/user-UID.slice/user@UID.service)."""
    bus = connect()
    path = unit.cgroup
    if os.geteuid() != 0:
        path = os.path.join(bus.manager_cgroup(), unit.cgroup.lstrip("/"))
    dirs = {h.name: h.container_dir(path) for h in hierarchies}
    manager = for_dirs(dirs)(dirs, hierarchies, unit=unit, container_id=container_id,
                             extra=extra)
    manager._bus = bus
    return manager


def for_dirs(dirs: dict) -> type:
    """The systemd manager for a host whose hierarchies these dirs are in."""
    if V2_NAME not in dirs:
        return SystemdV1Manager
    return SystemdManager if len(dirs) == 1 else SystemdHybridManager
