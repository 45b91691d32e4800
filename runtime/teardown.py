"""Ending a container for good (runtime.md "Lifecycle" steps 11 to 13): kill
what still runs, undo the mounts it made in our namespace, remove its cgroups
and its state, then run the poststop hooks. `delete`, and `start` and `run`
when a container must go."""
import os
import select
import _signal  # signal's C module: `import signal` costs ~4 ms (enum)
import time

from . import log
from .cgroups import Manager, from_dirs
from .errors import PyruncError
from .faults import point
from .state import STOPPED, ContainerDir, State

KILL_TIMEOUT = 10.0  # seconds to wait for a killed container to go away


def destroy(cdir: ContainerDir, force: bool) -> None:
    """With the lock held. Without force, only a stopped container: the spec
    ("Delete") says deleting one that is not stopped is an error (runc kills a
    created one instead; --force does that here)."""
    try:
        st = cdir.load()
    except PyruncError:
        if not force:
            raise
        # state.json is missing or corrupt: the cleanup journal still names the
        # cgroups, and everything the container ran is in them.
        cgroups = from_dirs(cdir.load_cleanup())
        cgroups.kill()
        _remove_cgroups(cgroups)
        cdir.remove()
        return
    status = cdir.status(st)
    if not status.can_delete and not force:
        raise PyruncError(f"cannot delete container {cdir.id} that is not stopped: "
                          f"{status} (--force kills it first)")
    cgroups = st.cgroups()
    if status != STOPPED:
        _kill_everything(st, cgroups)
    point("delete-killed")
    log.debug(f"delete {cdir.id}: no process left")
    if st.host_mounts:  # no mount namespace: it mounted in ours
        from .host_mounts import unmount_new  # feature import
        unmount_new(st.host_mounts["rootfs"], st.host_mounts["before"])
    _remove_cgroups(cgroups)
    point("delete-cgroup")
    log.debug(f"delete {cdir.id}: cgroups removed")
    cdir.remove()
    if (st.hooks or {}).get("poststop"):
        from .hooks import poststop  # deferred: ~0.3 ms that a delete without hooks never needs
        poststop(st.hooks, st.oci(STOPPED))


def _kill_everything(st: State, cgroups: Manager) -> None:
    try:
        pidfd = st.pidfd()
    except PyruncError:
        pidfd = -1
    if not cgroups.dirs and pidfd >= 0:  # rootless, without cgroups
        from .processes import signal_all  # feature import
        signal_all(st.init_pid, _signal.SIGKILL)
    cgroups.kill()
    # A v1-frozen process dies of SIGKILL only once thawed.
    freezer = cgroups.freezer()
    if freezer.frozen():
        freezer.thaw()
    if pidfd >= 0:
        try:
            _signal.pidfd_send_signal(pidfd, _signal.SIGKILL)
            select.select([pidfd], [], [], KILL_TIMEOUT)
        except ProcessLookupError:
            pass
        finally:
            os.close(pidfd)


def _remove_cgroups(cgroups: Manager) -> None:
    """rmdir fails with EBUSY until the killed processes have exited: wait for
    the kernel to say so (or, where it cannot, retry with backoff), never a
    fixed sleep."""
    deadline = time.monotonic() + KILL_TIMEOUT
    delay = 0.001
    while True:
        try:
            cgroups.destroy()
            return
        except PyruncError:
            if time.monotonic() > deadline:
                raise
            cgroups.kill()
            if not cgroups.wait_empty(deadline - time.monotonic()):
                time.sleep(delay)
                delay = min(delay * 2, 0.05)
