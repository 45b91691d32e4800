"""Container state: state.json as a typed State, its directory, and the status.

One directory per container under --root. It is claimed with mkdir (atomic),
state.json is replaced atomically, and operations on one container are
serialized with flock on the directory. Status is derived, never trusted: the
init's pid and start time, the cgroup's freezer and the exec fifo say what
the container is now. A Status says what each command may do with it (as
youki's ContainerStatus::can_*).
"""
import errno
import fcntl
import os

from . import OCI_VERSION, jsonlite
from .cgroups import UNIT_KEY, Manager, from_dirs
from .errors import ContainerNotExist, PyruncError, strerror
from .fdio import atomic_write, read_record
from .ids import check_id
from .log import now_rfc3339
from .procfs import open_pidfd, start_time_and_name
from .rootless import state_dir_hint

STATE_FILE = "state.json"
EXEC_FIFO = "exec.fifo"
# Written once, before any cgroup exists: what delete --force must remove even
# when state.json is lost or corrupt.
CLEANUP_FILE = "cleanup.json"
# What only a process started in the container later needs (exec and the
# startContainer hooks), apart: a container's seccomp profile alone is ~6 KB
# of JSON that state, kill, delete and `list` (per container) would parse.
EXEC_FILE = "exec.json"
EXEC_FIELDS = ("process", "personality", "memory_policy", "seccomp")
INIT_NAME = b"pyrunc:init"  # the C init's comm (csrc/init.c), until it execs


class Status(str):
    """A status of runtime.md "State" ("creating" only while a create holds
    the lock), and what it allows."""

    @property
    def can_start(self) -> bool:
        return self == "created"

    @property
    def can_kill(self) -> bool:
        return self in ("created", "running", "paused")

    @property
    def can_delete(self) -> bool:
        """Without --force (which kills the others first)."""
        return self == "stopped"

    @property
    def can_pause(self) -> bool:
        return self in ("created", "running")

    @property
    def can_resume(self) -> bool:
        return self == "paused"

    @property
    def can_exec(self) -> bool:
        """A paused container too, with --ignore-paused."""
        return self in ("created", "running")

    @property
    def can_update(self) -> bool:
        return self in ("created", "running", "paused")


CREATING, CREATED, RUNNING, PAUSED, STOPPED = map(
    Status, ("creating", "created", "running", "paused", "stopped"))

# state.json's keys, with the value a container has when create did not set
# them. The OCI state's own are in oci(); the rest is what later commands
# need of the config (exec starts from the container's process; start and
# delete run its hooks).
FIELDS = {
    "ociVersion": OCI_VERSION,
    "id": "",
    "init_pid": 0,
    "init_start": None,     # the init's start time: a recycled pid is not the init
    "bundle": "",
    "rootfs": "",
    "created": "",
    "owner": "",
    "annotations": {},
    "creating": True,       # until create has finished
    "cgroup": {},           # Manager.saved(): its dirs ({} rootless without cgroups)
    "process": None,        # config.json's process, for exec
    "personality": None,    # linux.personality as a number, for exec
    "memory_policy": None,  # [mode, nodemask hex], for exec
    "notify": False,        # NOTIFY_SOCKET is relayed (notify.py)
    "hooks": None,          # config.json's hooks
    "seccomp": None,        # linux.seccomp, for exec and startContainer hooks
    "host_mounts": None,    # no mount namespace: {"rootfs", "before"} (host_mounts.py)
    "check_before_update": False,
}


# (state.json key, State attribute, default)
_ATTRIBUTES = tuple((k, "oci_version" if k == "ociVersion" else k, v) for k, v in FIELDS.items())


class State:
    """state.json of one container. Attributes are FIELDS' keys, with
    oci_version for "ociVersion"."""
    __slots__ = tuple(k if k != "ociVersion" else "oci_version" for k in FIELDS)

    def __init__(self, **values):
        for key, default in FIELDS.items():
            attr = "oci_version" if key == "ociVersion" else key
            value = values.pop(attr, values.pop(key, default))
            setattr(self, attr, dict(value) if isinstance(value, dict) else value)
        if values:
            raise TypeError(f"unknown state fields: {sorted(values)}")

    @classmethod
    def new(cls, container_id: str, bundle: str, rootfs: str, annotations: dict) -> "State":
        return cls(id=container_id, bundle=bundle, rootfs=rootfs, created=now_rfc3339(),
                   annotations=annotations)

    @classmethod
    def from_json(cls, data) -> "State":
        """From state.json's object, unknown keys left out. (Set directly, not
        through __init__: `list` reads one per container.)"""
        if not isinstance(data, dict) or not isinstance(data.get("init_pid"), int):
            raise ValueError("not a pyrunc state object")
        state = cls.__new__(cls)
        for key, attr, default in _ATTRIBUTES:
            if key in data:
                setattr(state, attr, data[key])
            else:
                setattr(state, attr, dict(default) if isinstance(default, dict) else default)
        return state

    def to_json(self) -> dict:
        return {key: getattr(self, "oci_version" if key == "ociVersion" else key)
                for key in FIELDS}

    def exec_json(self) -> dict:
        return {key: getattr(self, key) for key in EXEC_FIELDS}

    def oci(self, status: str) -> dict:
        """The OCI state object (runtime.md "State") plus runc's extra fields."""
        out = {
            "ociVersion": self.oci_version,
            "id": self.id,
            "pid": self.init_pid if status != STOPPED else 0,
            "status": str(status),
            "bundle": self.bundle,
            "rootfs": self.rootfs,
            "created": self.created,
            "owner": self.owner,
        }
        if self.annotations:
            out["annotations"] = self.annotations
        return out

    def pidfd(self) -> int:
        """A pidfd of the init, checked to be the same process (pid reuse)."""
        fd = open_pidfd(self.init_pid, self.init_start)
        if fd is None:
            raise PyruncError("container not running")
        return fd

    def cgroups(self) -> Manager:
        return from_dirs(self.cgroup)

    def require_cgroups(self, what: str) -> Manager:
        """The container's cgroups, for an operation that needs them: a
        rootless container may have none (rootless.py)."""
        if not self.cgroup:
            raise PyruncError(f"cannot {what} container {self.id}: it has no cgroup (it was "
                              "created rootless, and its cgroups could not be made)")
        return self.cgroups()

    def memory_policy_value(self) -> tuple[int, bytes] | None:
        if self.memory_policy is None:
            return None
        mode, mask = self.memory_policy
        return mode, bytes.fromhex(mask)


class ContainerDir:
    """The state directory of one container."""

    def __init__(self, root: str, container_id: str):
        self.id = check_id(container_id)
        self.root = root
        self.path = os.path.join(root, container_id)
        self._lock_fd = -1
        self._exec_saved = False

    # -- claiming, locking, removal --

    def claim(self) -> None:
        """Create the directory: exactly one concurrent create of an id wins."""
        try:
            os.makedirs(self.root, mode=0o700, exist_ok=True)
            os.mkdir(self.path, 0o711)
        except FileExistsError:
            raise PyruncError(f"container with id {self.id} already exists") from None
        except OSError as e:
            raise PyruncError(f"--root {self.root}: cannot make the state directory "
                              f"{e.filename}: {strerror(e)}{state_dir_hint(self.root)}") from None
        self.lock()

    def exists(self) -> bool:
        return os.path.isdir(self.path)

    def lock(self) -> None:
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except FileNotFoundError:
            raise ContainerNotExist(self.id) from None
        fcntl.flock(fd, fcntl.LOCK_EX)
        if not os.path.isdir(self.path):  # deleted while we waited for the lock
            os.close(fd)
            raise ContainerNotExist(self.id)
        self._lock_fd = fd

    def __enter__(self) -> "ContainerDir":
        """`with cdir:` holds the exclusive lock for one operation."""
        self.lock()
        return self

    def __exit__(self, *exc) -> None:
        self.unlock()

    def unlock(self) -> None:
        if self._lock_fd >= 0:
            os.close(self._lock_fd)
            self._lock_fd = -1

    def locked_by_other(self) -> bool:
        """True while another pyrunc holds the exclusive lock (a create under way)."""
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except FileNotFoundError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            return False
        except BlockingIOError:
            return True
        finally:
            os.close(fd)

    def remove(self) -> None:
        """The directory holds plain files only (state.json, exec.fifo, temps)."""
        try:
            names = os.listdir(self.path)
        except FileNotFoundError:
            return
        for name in names:
            try:
                os.unlink(os.path.join(self.path, name))
            except FileNotFoundError:
                pass
        try:
            os.rmdir(self.path)
        except FileNotFoundError:
            pass

    # -- state.json, cleanup.json --

    def load(self) -> State:
        path = f"{self.path}/{STATE_FILE}"  # (not os.path.join: `list` asks per container)
        try:
            data = read_record(path)
        except FileNotFoundError:
            if not self.exists():
                raise ContainerNotExist(self.id) from None
            raise PyruncError(
                f"{path}: missing: the create of {self.id} did not finish; "
                f"'delete --force {self.id}' removes it"
            ) from None
        try:
            return State.from_json(jsonlite.loads(data))
        except ValueError as e:
            raise PyruncError(
                f"{path}: corrupt ({e}); 'delete --force {self.id}' removes the container"
            ) from None

    def load_exec(self, state: State) -> State:
        """state with what exec needs (EXEC_FIELDS) from exec.json. A state.json
        of an older pyrunc holds them itself, and there is no exec.json."""
        try:
            data = jsonlite.loads(read_record(f"{self.path}/{EXEC_FILE}"))
        except FileNotFoundError:
            return state
        except ValueError as e:
            raise PyruncError(f"{self.path}/{EXEC_FILE}: corrupt ({e}); "
                              f"'delete --force {self.id}' removes the container") from None
        for key in EXEC_FIELDS:
            setattr(state, key, data.get(key))
        return state

    def save(self, state: State) -> None:
        """Create's, with the whole State: exec.json once, then state.json
        without EXEC_FIELDS (they do not change after create)."""
        if not self._exec_saved:
            self._write(EXEC_FILE, state.exec_json())
            self._exec_saved = True
        data = state.to_json()
        for key in EXEC_FIELDS:
            del data[key]
        self._write(STATE_FILE, data)

    def save_cleanup(self, cgroups_saved: dict) -> None:
        self._write(CLEANUP_FILE, {"cgroup": cgroups_saved})

    def load_cleanup(self) -> dict:
        """What the cleanup journal names: the cgroup dirs, and a systemd
        unit ({} if it is unreadable)."""
        try:
            with open(os.path.join(self.path, CLEANUP_FILE)) as f:
                dirs = jsonlite.loads(f.read())["cgroup"]
        except (OSError, ValueError, KeyError, TypeError):
            return {}
        if not isinstance(dirs, dict):
            return {}
        kept = {k: v for k, v in dirs.items()
                if isinstance(v, str) and v.startswith("/sys/fs/cgroup/")}
        unit = dirs.get(UNIT_KEY)
        if unit is not None:
            from .cgroups.systemd_units import is_unit_name  # feature import
            if is_unit_name(unit):
                kept[UNIT_KEY] = unit
        return kept

    def _write(self, name: str, data: dict) -> None:
        atomic_write(os.path.join(self.path, name), jsonlite.dumps(data).encode())

    # -- status --

    def fifo_path(self) -> str:
        return f"{self.path}/{EXEC_FIFO}"

    def status(self, state: State) -> Status:
        if state.creating:
            # A create under way holds the lock; if nobody does, it died.
            alive = self._lock_fd < 0 and self.locked_by_other()
            return CREATING if alive else STOPPED
        started, name = start_time_and_name(state.init_pid)
        if started != state.init_start:
            return STOPPED
        if state.cgroups().frozen():  # a frozen created container is paused too (runc)
            return PAUSED
        # Created: the init has not exec'd the program (exec renames a process
        # after its program) and start has not used the fifo. (A start killed
        # after the init read its byte leaves the fifo behind: running.)
        if name == INIT_NAME and os.path.exists(self.fifo_path()):
            return CREATED
        return RUNNING


def list_ids(root: str) -> list[str]:
    try:
        with os.scandir(root) as scan:
            entries = list(scan)
    except FileNotFoundError:
        return []
    except OSError as e:
        if e.errno == errno.ENOTDIR:
            raise PyruncError(f"--root {root}: not a directory") from None
        raise
    # Containers are directories; the seccomp program cache holds plain files.
    return sorted(e.name for e in entries if e.is_dir())
