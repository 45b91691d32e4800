"""Container state on disk: one directory per container under --root.

The directory is claimed with mkdir (atomic), state.json is replaced atomically,
and operations on one container are serialized with flock on the directory.
Status is derived, never trusted: the init's pid and start time, and the exec
fifo, say what the container is now.
"""
import errno
import fcntl
import json
import os
import time

from . import OCI_VERSION
from .errors import ContainerNotExist, PyruncError, strerror
from .fdio import atomic_write
from .ids import check_id
from .procfs import start_time

STATE_FILE = "state.json"
EXEC_FIFO = "exec.fifo"
# Written once, before any cgroup exists: what delete --force must remove even
# when state.json is lost or corrupt.
CLEANUP_FILE = "cleanup.json"
INIT_EXE_PREFIX = "/memfd:pyrunc-init"


def now_rfc3339() -> str:
    """UTC with nanoseconds, as runc writes it (without importing datetime)."""
    ns = time.time_ns()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ns // 10**9)) + f".{ns % 10**9:09d}Z"


class ContainerDir:
    """The state directory of one container."""

    def __init__(self, root: str, container_id: str):
        self.id = check_id(container_id)
        self.root = root
        self.path = os.path.join(root, container_id)
        self._lock_fd = -1

    # -- claiming, locking, removal --

    def claim(self) -> None:
        """Create the directory: exactly one concurrent create of an id wins."""
        try:
            os.makedirs(self.root, mode=0o700, exist_ok=True)
            os.mkdir(self.path, 0o711)
        except FileExistsError:
            raise PyruncError(f"container with id {self.id} already exists") from None
        except OSError as e:
            from .rootless import state_dir_hint
            raise PyruncError(f"--root {self.root}: cannot make the state directory "
                              f"{e.filename}: {strerror(e.errno)}"
                              f"{state_dir_hint(self.root)}") from None
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

    # -- state.json --

    def load(self) -> dict:
        path = os.path.join(self.path, STATE_FILE)
        try:
            with open(path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            if not self.exists():
                raise ContainerNotExist(self.id) from None
            raise PyruncError(
                f"{path}: missing: the create of {self.id} did not finish; "
                f"'delete --force {self.id}' removes it"
            ) from None
        try:
            state = json.loads(data)
            if not isinstance(state, dict) or not isinstance(state.get("init_pid"), int):
                raise ValueError("not a pyrunc state object")
        except ValueError as e:
            raise PyruncError(
                f"{path}: corrupt ({e}); 'delete --force {self.id}' removes the container"
            ) from None
        return state

    def save_cleanup(self, cgroup_dirs: dict) -> None:
        self._write_atomically(CLEANUP_FILE, {"cgroup": cgroup_dirs})

    def load_cleanup(self) -> dict:
        """The cgroup dirs from the cleanup journal ({} if it is unreadable)."""
        try:
            with open(os.path.join(self.path, CLEANUP_FILE)) as f:
                dirs = json.load(f)["cgroup"]
        except (OSError, ValueError, KeyError, TypeError):
            return {}
        return {k: v for k, v in dirs.items() if isinstance(v, str) and v.startswith("/sys/fs/cgroup/")} \
            if isinstance(dirs, dict) else {}

    def save(self, state: dict) -> None:
        self._write_atomically(STATE_FILE, state)

    def _write_atomically(self, name: str, data: dict) -> None:
        atomic_write(os.path.join(self.path, name), json.dumps(data).encode())

    # -- status --

    def fifo_path(self) -> str:
        return os.path.join(self.path, EXEC_FIFO)

    def status(self, state: dict) -> str:
        if state.get("creating"):
            # A create under way holds the lock; if nobody does, it died.
            alive = self._lock_fd < 0 and self.locked_by_other()
            return "creating" if alive else "stopped"
        pid = state["init_pid"]
        if start_time(pid) != state.get("init_start"):
            return "stopped"
        if _frozen(state):  # a frozen created container is paused too (runc)
            return "paused"
        if os.path.exists(self.fifo_path()) and _still_init(pid):
            return "created"
        return "running"


def _still_init(pid: int) -> bool:
    """The init has not exec'd the container's program yet. (A start killed
    after the init read its byte leaves the fifo behind: that is running.)"""
    try:
        return os.readlink(f"/proc/{pid}/exe").startswith(INIT_EXE_PREFIX)
    except OSError:
        return True  # cannot tell: trust the fifo


def _frozen(state: dict) -> bool:
    from .cgroups.freezer import Freezer
    return Freezer(state.get("cgroup", {})).frozen()


def require_cgroup(state: dict, what: str) -> dict:
    """The container's cgroup dirs, for an operation that needs them: a
    rootless container may have none (rootless.py)."""
    if not state.get("cgroup"):
        raise PyruncError(f"cannot {what} container {state['id']}: it has no cgroup (it was "
                          "created rootless, and its cgroups could not be made)")
    return state["cgroup"]


def new_state(container_id: str, bundle: str, rootfs: str, annotations: dict) -> dict:
    return {
        "ociVersion": OCI_VERSION,
        "id": container_id,
        "init_pid": 0,
        "init_start": None,
        "bundle": bundle,
        "rootfs": rootfs,
        "created": now_rfc3339(),
        "owner": "",
        "annotations": annotations,
        "creating": True,
        "cgroup": {},
    }


def oci_state(state: dict, status: str) -> dict:
    """The OCI state object (runtime.md "State") plus runc's extra fields."""
    out = {
        "ociVersion": state["ociVersion"],
        "id": state["id"],
        "pid": state["init_pid"] if status not in ("stopped",) else 0,
        "status": status,
        "bundle": state["bundle"],
        "rootfs": state.get("rootfs", ""),
        "created": state.get("created", ""),
        "owner": state.get("owner", ""),
    }
    if state.get("annotations"):
        out["annotations"] = state["annotations"]
    return out


def list_ids(root: str) -> list[str]:
    try:
        names = os.listdir(root)
    except FileNotFoundError:
        return []
    except OSError as e:
        if e.errno == errno.ENOTDIR:
            raise PyruncError(f"--root {root}: not a directory") from None
        raise
    # Containers are directories; the schema verdict cache holds plain files.
    return sorted(n for n in names if os.path.isdir(os.path.join(root, n)))
