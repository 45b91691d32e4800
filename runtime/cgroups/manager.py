"""The cgroup Manager: one container's cgroups, whatever kind of host it is on.

for_container() (in __init__.py) reads the host's hierarchies once and picks the
kind; from_dirs() picks it again from the directories a container's state saved:

    V1Manager      v1 hierarchies only (a "legacy" host)
    V2Manager      one cgroup2 hierarchy (a pure cgroup v2 host)
    HybridManager  v1 controllers plus cgroup2 at /sys/fs/cgroup/unified

Nothing outside this package asks which kind the host is: callers use a
Manager's methods (create and place, apply, freeze, pids, kill, destroy, stats,
OOM events, the container's cgroup mounts) and each kind does them its own way,
as runc's fs/fs2/systemd managers and crun's cgroup-manager table do. A systemd
driver is one more subclass.

This class holds what every kind shares: the directories themselves.
"""
import errno
import os
import select
import _signal  # signal's C module: `import signal` costs ~4 ms (enum)
import time

from ..errors import PyruncError, strerror
from .freezer import Freezer
from .hierarchy import Hierarchy

V2_NAME = "unified"  # the cgroup2 hierarchy's key in a container's dirs
UNIT_KEY = "systemd_unit"  # a systemd-driven container's unit, in its saved dirs (systemd.py)

# (No namedtuple here: creating one costs ~0.1 ms on every command.)


class CgroupMount:
    """One filesystem the container's "cgroup" mount is made of: fstype
    "cgroup" or "cgroup2"; source: the host directory to bind when data is
    None (no cgroup namespace), else a fresh mount with these options; sub:
    the directory under the mount's destination, or None for the
    destination itself."""
    __slots__ = ("fstype", "source", "data", "sub")

    def __init__(self, fstype: str, source: str, data: str | None, sub: str | None):
        self.fstype, self.source, self.data, self.sub = fstype, source, data, sub

    def replace(self, **changes) -> "CgroupMount":
        fields = {name: getattr(self, name) for name in self.__slots__}
        return CgroupMount(**{**fields, **changes})

    def __eq__(self, other) -> bool:
        return isinstance(other, CgroupMount) and all(
            getattr(self, n) == getattr(other, n) for n in self.__slots__)

    def __repr__(self) -> str:
        return f"CgroupMount({self.fstype!r}, {self.source!r}, {self.data!r}, {self.sub!r})"


class Placement:
    """Where the init enters its cgroups without the kernel's global
    cgroup_threadgroup_rwsem (whose write side waits for an RCU grace period,
    ~15 ms): clone_dir, the cgroup2 dir to clone it into (CLONE_INTO_CGROUP);
    task_files, the v1 `tasks` files it writes "0" to itself; parent_adds,
    dirs the parent moves it into instead (a kernel without CLONE_INTO_CGROUP)."""
    __slots__ = ("clone_dir", "task_files", "parent_adds")

    def __init__(self, clone_dir: str | None, task_files: list[str], parent_adds: list[str]):
        self.clone_dir, self.task_files, self.parent_adds = clone_dir, task_files, parent_adds


class Manager:
    kind = "none"  # no cgroups at all (rootless, when none could be made)

    def __init__(self, dirs: dict[str, str], hierarchies: list[Hierarchy] = ()):
        self.dirs = dict(dirs)
        self.hierarchies = list(hierarchies)
        self.left_out: list[Hierarchy] = []
        self.left_out_reasons: list[str] = []
        self._made: list[str] = []

    # -- what each kind does its own way --

    def freezer(self) -> Freezer:
        return Freezer.v1(None)

    def apply(self, resources: dict | None, creating: bool, devices: bool = True) -> None:
        """linux.resources (create) or an update's. devices=False: no default
        device rules (rootless; or a second call at create).

        Every command needs a Manager; only create, update and events need
        resources, stats, OOM watches or delegation. The modules behind those (a dozen,
        ~3 ms to import) are imported by the methods that use them, so that
        state, kill, start and delete do not pay for them."""
        from .resources import check_before_update
        from .unset import drop_unset
        resources = drop_unset(resources)  # Go clients' zero values, as runc reads them
        if creating and devices and "devices" not in resources and self._controls_devices():
            # As runc: no rules still means deny all but the always-allowed devices.
            resources = {**resources, "devices": []}
        if not creating:
            check_before_update(self._memory_usage_file(), resources)
        self._apply(resources, creating)

    def _apply(self, resources: dict, creating: bool) -> None:
        if resources:
            raise PyruncError("cannot set resource limits: the container has no cgroup")

    def _controls_devices(self) -> bool:
        return False

    def split(self, resources: dict) -> tuple[dict, dict]:
        """(what the v1 controllers take, what cgroup2 takes)."""
        return dict(resources), {}

    def controller_dir(self, controller: str) -> str | None:
        """The container's dir of the v1 hierarchy holding controller."""
        return None

    def _memory_usage_file(self) -> str:
        return ""

    def stats(self) -> dict:
        raise PyruncError("no stats: the container has no cgroup")

    def oom_watch(self):
        """What `events` polls for OOM kills (cgroups/oom.py)."""
        from .oom import OomWatch  # deferred: see apply
        return OomWatch()

    def delegate(self, config: dict) -> None:
        """config-linux.md "Cgroup ownership": only a pure v2 host delegates."""

    # -- shared by every kind --

    def _v2_dir(self) -> str | None:
        """The container's cgroup2 directory, where it has one (v2, hybrid)."""
        return self.dirs.get(V2_NAME)

    def kill(self) -> None:
        """SIGKILL everything in the container's cgroups: at once through
        cgroup.kill (Linux 5.14+, also on a hybrid host's unified hierarchy),
        else one pid at a time."""
        if kill_v2(self._v2_dir()):
            return
        for pid in self.pids():
            try:
                os.kill(pid, _signal.SIGKILL)
            except ProcessLookupError:
                pass

    def wait_empty(self, timeout: float) -> bool:
        """Wait until no process is left, woken by the kernel through the
        cgroup2 directory's cgroup.events. False where there is none (v1)."""
        return wait_v2_empty(self._v2_dir(), timeout)

    def create(self, optional: bool = False) -> None:
        """Make the directories; a failure removes what this call made. With
        optional (rootless), a hierarchy the caller may not create or join
        a cgroup in is left out instead (self.left_out says why), as runc's
        rootless cgroup manager does."""
        for h in list(self.hierarchies):
            path = self.dirs[h.name]
            try:
                h.make_dirs(path, self._made)
                if optional and not os.access(os.path.join(path, "cgroup.procs"), os.W_OK):
                    raise PermissionError(errno.EACCES, "permission denied",
                                          os.path.join(path, "cgroup.procs"))
            except OSError as e:
                reason = f"{e.filename}: {strerror(e)}"
                if optional and e.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
                    self.hierarchies.remove(h)
                    self.left_out.append(h)
                    self.left_out_reasons.append(reason)
                    del self.dirs[h.name]
                    continue
                self.remove_made()
                raise PyruncError(f"create cgroup {reason}") from None

    def remove_made(self) -> None:
        """Undo create(): every directory it made, deepest first."""
        for d in reversed(self._made):
            _rmdir(d)
        self._made = []

    def placement(self) -> Placement:
        clone_dir = self._v2_dir()
        tasks = [os.path.join(d, "tasks") for name, d in self.dirs.items() if name != V2_NAME]
        if clone_dir and not clone_into_cgroup_supported():
            return Placement(None, tasks, [clone_dir])
        return Placement(clone_dir, tasks, [])

    def place(self, pid: int, placement: Placement) -> None:
        """After the init is spawned with placement: the parent's part."""
        if placement.parent_adds:  # slower: the kernel's global cgroup lock
            self.add(pid, placement.parent_adds)

    def saved(self) -> dict:
        """What the container's state keeps, for from_dirs() to read back."""
        return dict(self.dirs)

    def front_facts(self) -> dict[str, str]:
        """What the front door (csrc/front.c) needs of the cgroups, for the
        container's front record (front_record.py): the dirs delete removes
        (one per line, in this order), the cgroup2 dir whose cgroup.kill
        kill --all writes, the freezer (pause and resume set it, it makes a
        container paused, kill --all thaws it), and how delete removes them
        ("rmdir": as destroy() does; anything else: Python does it)."""
        freezer = self.freezer()
        return {"dirs": "\n".join(self.dirs.values()), "kill_dir": self._v2_dir() or "",
                "freeze_file": freezer.file, "frozen_when": " ".join(freezer.frozen_when),
                "freeze_value": freezer.values[0], "thaw_value": freezer.values[1],
                "settle_file": freezer.settle_file, "frozen_line": freezer.settled_lines[0],
                "thawed_line": freezer.settled_lines[1], "destroy": "rmdir"}

    def add(self, pid: int, dirs: list[str] | None = None) -> None:
        """Move pid into the container's cgroups (or the given dirs of them)."""
        for d in self.dirs.values() if dirs is None else dirs:
            try:
                with open(os.path.join(d, "cgroup.procs"), "w") as f:
                    f.write(str(pid))
            except OSError as e:
                raise PyruncError(f"add pid {pid} to cgroup {d}: {strerror(e)}") from None

    def exists(self) -> bool:
        return any(os.path.isdir(d) for d in self.dirs.values())

    def pids(self) -> list[int]:
        """Every process in the container's cgroup and its sub-cgroups (exec
        --cgroup, or made inside): any one hierarchy holds them all."""
        for d in self.dirs.values():
            if not os.path.isdir(d):
                continue
            found = []
            for sub, _dirs, _files in os.walk(d):
                try:
                    with open(os.path.join(sub, "cgroup.procs")) as f:
                        found += [int(line) for line in f if line.strip()]
                except OSError:
                    continue  # removed meanwhile
            return found
        return []

    def destroy(self) -> None:
        """Remove the container's directory on every hierarchy, the
        sub-cgroups in it first (as runc: made by exec --cgroup users or by
        the container itself through a writable cgroupfs)."""
        for d in self.dirs.values():
            if os.path.isdir(d):
                for sub, _dirs, _files in os.walk(d, topdown=False):
                    if sub != d:
                        _rmdir(sub)
            _rmdir(d)

    def frozen(self) -> bool:
        return self.freezer().frozen()

    def sub(self, specs: list[str]) -> "Manager":
        """exec --cgroup, as runc: "PATH" (one, for every hierarchy) or
        "CONTROLLER[,CONTROLLER...]:PATH", each PATH below the container's own
        cgroup there and existing. The same kind of Manager, over those dirs."""
        if not specs:
            return self
        wanted: dict[str, str] = {}
        for spec in specs:
            parts = spec.split(":")
            if len(parts) > 2:
                raise PyruncError(f"invalid --cgroup argument: {spec}")
            if len(parts) == 1:
                if len(specs) != 1:
                    raise PyruncError(f"invalid --cgroup argument: {spec} "
                                      "(missing <controller>: prefix)")
                wanted = {name: spec for name in self.dirs}
                break
            for controller in parts[0].split(","):
                names = [n for n in self.dirs if controller in n.split(",")]
                if not names:
                    raise PyruncError(f"--cgroup {spec}: unknown controller {controller} "
                                      f"(the container has {', '.join(sorted(self.dirs))})")
                wanted[names[0]] = parts[1]
        dirs = dict(self.dirs)
        for name, sub in wanted.items():
            path = os.path.normpath(os.path.join(self.dirs[name], sub.lstrip("/")))
            if path != self.dirs[name] and not path.startswith(self.dirs[name] + "/"):
                raise PyruncError(f"--cgroup {sub}: {sub} is not a sub cgroup path")
            if not os.path.isdir(path):
                raise PyruncError(f"--cgroup {sub}: adding pid to cgroup {path}: "
                                  f"{path}/cgroup.procs: no such file or directory")
            dirs[name] = path
        return type(self)(dirs)

    def container_mounts(self, own_namespace: bool, user_namespace: bool, bound_at) -> list:
        """The CgroupMounts that show the container its own cgroups: a tmpfs
        with one mount per hierarchy (v1 and hybrid). With a cgroup namespace
        each is a fresh mount, rooted at the container's cgroup; without one,
        or a v1 hierarchy in a user namespace (the kernel refuses that
        mount), a bind of the container's directory. A left-out hierarchy
        (rootless) shows the caller's own cgroup, where the init stays.
        bound_at(host path): whether an earlier mount already shows that host
        path at the cgroup mount's destination (only a lone cgroup2 cares)."""
        out = []
        shown = ([(h, self.dirs[h.name]) for h in self.hierarchies]
                 + [(h, h.container_dir(h.own_path)) for h in self.left_out])
        for h, host_dir in shown:
            fresh = own_namespace and (h.is_v2 or not user_namespace)
            data = ("" if h.is_v2 else h.name) if fresh else None
            sub = V2_NAME if h.is_v2 else h.name.replace("name=", "")
            out.append(CgroupMount("cgroup2" if h.is_v2 else "cgroup", host_dir, data, sub))
        return out


def kill_v2(directory: str | None) -> bool:
    """cgroup.kill: SIGKILL to everything in the cgroup at once, forks
    included. False where the kernel lacks it."""
    if not directory or not os.path.exists(os.path.join(directory, "cgroup.kill")):
        return False
    try:
        with open(os.path.join(directory, "cgroup.kill"), "w") as f:
            f.write("1")
        return True
    except FileNotFoundError:  # the cgroup is gone already
        return True
    except OSError:
        return False


def wait_v2_empty(directory: str | None, timeout: float) -> bool:
    """Wait until the cgroup holds no process: cgroup.events signals POLLPRI
    when "populated" changes. False if it cannot be read."""
    try:
        fd = os.open(os.path.join(directory or "", "cgroup.events"), os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        poller = select.poll()
        poller.register(fd, select.POLLPRI | select.POLLERR)
        deadline = time.monotonic() + timeout
        while b"populated 0" not in os.pread(fd, 4096, 0):
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            poller.poll(left * 1000)
        return True
    finally:
        os.close(fd)


def default_spec_has_cgroup_namespace() -> bool:
    """runc 1.1's `spec` lists a cgroup namespace only on a pure cgroup v2 host."""
    return os.path.exists("/sys/fs/cgroup/cgroup.controllers")


def clone_into_cgroup_supported() -> bool:
    """clone3(CLONE_INTO_CGROUP) exists since Linux 5.7."""
    release = os.uname().release.split(".")
    try:
        return (int(release[0]), int(release[1].split("-")[0])) >= (5, 7)
    except (ValueError, IndexError):
        return False


def _rmdir(path: str) -> None:
    # Processes leave a cgroup when they exit, before they are reaped, so a
    # container whose processes are all dead has empty directories.
    try:
        os.rmdir(path)
    except FileNotFoundError:
        pass
    except OSError as e:
        raise PyruncError(f"remove cgroup {path}: {strerror(e)}") from None
