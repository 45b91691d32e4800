"""Cgroup placement: where a container's cgroup lives on each hierarchy of this host.

Host modes: "unified" (cgroup v2 only), "hybrid" (v1 controllers plus a cgroup2
mount at /sys/fs/cgroup/unified, like this project's CI host) and "legacy" (v1
only). On hybrid hosts the container goes into every v1 hierarchy and also into
the unified one, as runc does. Resource limits are a later layer on top of this.
"""
import errno
import os
import select
import signal
import time

from ..errors import PyruncError, strerror
from .hierarchy import Hierarchy, discover


class Cgroup:
    """The container's directory on every hierarchy of the host."""

    def __init__(self, hierarchies: list[Hierarchy], path: str):
        self.path = path
        self.hierarchies = hierarchies
        self.dirs = {h.name: h.container_dir(path) for h in hierarchies}
        self._made: list[str] = []
        self.left_out: list[Hierarchy] = []
        self.left_out_reasons: list[str] = []

    @classmethod
    def for_container(cls, cgroups_path: str | None, container_id: str) -> "Cgroup":
        # runc's default: the id, relative to the caller's own cgroup.
        return cls(discover(), cgroups_path or container_id)

    @classmethod
    def from_dirs(cls, dirs: dict[str, str]) -> "Cgroup":
        cg = cls([], "")
        cg.dirs = dict(dirs)
        return cg

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
                reason = f"{e.filename}: {strerror(e.errno)}"
                if optional and e.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
                    self.hierarchies.remove(h)
                    self.left_out.append(h)
                    self.left_out_reasons.append(reason)
                    del self.dirs[h.name]
                    continue
                self.remove_made()
                raise PyruncError(f"create cgroup {reason}") from None

    def mount_dirs(self) -> list[tuple[Hierarchy, str]]:
        """Every hierarchy with the directory the container sees as its own:
        a left-out hierarchy's is the caller's cgroup, where the init stays."""
        return ([(h, self.dirs[h.name]) for h in self.hierarchies]
                + [(h, h.container_dir(h.own_path)) for h in self.left_out])

    def remove_made(self) -> None:
        """Undo create(): every directory it made, deepest first."""
        for d in reversed(self._made):
            _rmdir(d)
        self._made = []

    def placement(self) -> tuple[str | None, list[str]]:
        """How the init enters its cgroups without the kernel's global
        cgroup_threadgroup_rwsem (whose write side waits for an RCU grace
        period, ~15 ms): the cgroup2 dir to clone it into, and the v1 `tasks`
        files it writes "0" to itself."""
        unified = None
        tasks = []
        for name, path in self.dirs.items():  # from_dirs knows names only: cgroup2's is "unified"
            if name == "unified":
                unified = path
            else:
                tasks.append(os.path.join(path, "tasks"))
        return unified, tasks

    def add(self, pid: int, dirs: list[str] | None = None) -> None:
        """Move pid into the container's cgroups (or the given dirs of them)."""
        for d in self.dirs.values() if dirs is None else dirs:
            try:
                with open(os.path.join(d, "cgroup.procs"), "w") as f:
                    f.write(str(pid))
            except OSError as e:
                raise PyruncError(f"add pid {pid} to cgroup {d}: {strerror(e.errno)}") from None

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

    def kill(self) -> None:
        """SIGKILL everything in the cgroup: cgroup.kill (Linux 5.14+, also on a
        hybrid host's unified hierarchy) kills atomically, forks included;
        otherwise each pid in turn."""
        unified = self.dirs.get("unified")
        if unified and os.path.exists(os.path.join(unified, "cgroup.kill")):
            try:
                with open(os.path.join(unified, "cgroup.kill"), "w") as f:
                    f.write("1")
                return
            except FileNotFoundError:  # the cgroup is gone already
                return
            except OSError:
                pass
        for pid in self.pids():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def wait_empty(self, timeout: float) -> bool:
        """Wait until no process is left, woken by the kernel: cgroup.events
        signals POLLPRI when "populated" changes. False without a cgroup2 dir."""
        unified = self.dirs.get("unified")
        try:
            fd = os.open(os.path.join(unified or "", "cgroup.events"), os.O_RDONLY | os.O_CLOEXEC)
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


def sub_cgroup_dirs(dirs: dict[str, str], specs: list[str]) -> dict[str, str]:
    """exec --cgroup, as runc: "PATH" (one, for every hierarchy) or
    "CONTROLLER[,CONTROLLER...]:PATH", each PATH below the container's own
    cgroup there and existing."""
    if not specs:
        return dirs
    wanted: dict[str, str] = {}
    for spec in specs:
        parts = spec.split(":")
        if len(parts) > 2:
            raise PyruncError(f"invalid --cgroup argument: {spec}")
        if len(parts) == 1:
            if len(specs) != 1:
                raise PyruncError(f"invalid --cgroup argument: {spec} "
                                  "(missing <controller>: prefix)")
            wanted = {name: spec for name in dirs}
            break
        for controller in parts[0].split(","):
            names = [n for n in dirs if controller in n.split(",")]
            if not names:
                raise PyruncError(f"--cgroup {spec}: unknown controller {controller} "
                                  f"(the container has {', '.join(sorted(dirs))})")
            wanted[names[0]] = parts[1]
    out = dict(dirs)
    for name, sub in wanted.items():
        path = os.path.normpath(os.path.join(dirs[name], sub.lstrip("/")))
        if path != dirs[name] and not path.startswith(dirs[name] + "/"):
            raise PyruncError(f"--cgroup {sub}: {sub} is not a sub cgroup path")
        if not os.path.isdir(path):
            raise PyruncError(f"--cgroup {sub}: adding pid to cgroup {path}: "
                              f"{path}/cgroup.procs: no such file or directory")
        out[name] = path
    return out


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
        raise PyruncError(f"remove cgroup {path}: {strerror(e.errno)}") from None
