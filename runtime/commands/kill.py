"""`kill`: a signal to the container's init (through a pidfd: never to a
recycled pid), or with --all to every process of the container."""
import os
import _signal  # signal's C module: `import signal` costs ~4 ms (enum)

from ..cgroups import Manager
from ..errors import PyruncError
from ..signals import parse_signal
from ..state import STOPPED, ContainerDir


def run(args) -> int:
    kill(args.root, args.container_id, parse_signal(args.signal), args.all)
    return 0


def kill(root: str, container_id: str, sig: int, all_processes: bool = False) -> None:
    cdir = ContainerDir(root, container_id)
    st = cdir.load()
    status = cdir.status(st)
    if all_processes:
        # As runc: every process of the cgroup in any state, stopped included
        # (containerd's shim ends what a shared-pid container's dead init left
        # behind); nothing to signal is no error.
        if not st.cgroup:  # rootless, without cgroups
            if status != STOPPED:
                from ..processes import signal_all  # feature import
                signal_all(st.init_pid, sig)
            return
        cgroups = st.cgroups()
        if status != STOPPED or cgroups.exists():
            _signal_all(cgroups, sig)
        return
    if not status.can_kill:
        raise PyruncError("container not running")
    pidfd = st.pidfd()
    try:
        _signal.pidfd_send_signal(pidfd, sig)
    except ProcessLookupError:
        raise PyruncError("container not running") from None
    finally:
        os.close(pidfd)


def _signal_all(cgroups: Manager, sig: int) -> None:
    """Every process of the container, frozen meanwhile so that none forks away
    from the signal, then thawed so that it is delivered (as runc does, also for
    a paused container)."""
    freezer = cgroups.freezer()
    if freezer.available():
        freezer.freeze()
    try:
        if sig == _signal.SIGKILL:
            cgroups.kill()  # at once, where the kernel can
        else:
            for pid in cgroups.pids():
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
    finally:
        if freezer.available():
            freezer.thaw()
