"""`start`: let a created container's init exec the program (runtime.md
"Lifecycle" steps 6 to 9): the startContainer hooks run inside first, the
init is released through the exec fifo, then the poststart hooks run. With
NOTIFY_SOCKET, start returns once the program said READY=1 (as runc).

containerd calls start in a process of its own for every container, and most
have no hooks and no NOTIFY_SOCKET: what only those need (the launch layer and
the planner for hooks inside the container, ~5 ms to import; notify's socket)
is imported where it is used.
"""
import os
import select

from .. import log
from ..errors import PyruncError
from ..faults import point
from ..state import RUNNING, STOPPED, ContainerDir, State


def run(args) -> int:
    start(args.root, args.container_id)
    return 0


def start(root: str, container_id: str) -> None:
    with ContainerDir(root, container_id) as cdir:
        st = cdir.load()
        notify_sock = None
        if st.notify and os.environ.get("NOTIFY_SOCKET"):
            from .. import notify  # deferred: see the module's docstring
            notify_sock = notify.bind(cdir.path)
        try:
            _start_locked(cdir, st)
        except BaseException:
            if notify_sock:
                notify_sock.close()
            raise
    if notify_sock:
        from .. import notify
        notify.forward_ready(notify_sock, os.environ["NOTIFY_SOCKET"], st.init_pid)


def _start_locked(cdir: ContainerDir, st: State) -> None:
    status = cdir.status(st)
    if status == STOPPED:
        raise PyruncError("cannot start a container that has stopped")
    if not status.can_start:
        _remove_stale_fifo(cdir)
        raise PyruncError(f"cannot start an already {status} container")
    if (st.hooks or {}).get("startContainer"):
        _hooks_or_stop(cdir, st, "startContainer")
    pidfd = st.pidfd()
    fifo = os.open(cdir.fifo_path(), os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    point("start-opened")
    try:
        # The init opens the fifo for writing, writes one byte and execs. If it
        # dies instead, its pidfd becomes readable and we do not hang.
        poller = select.poll()
        poller.register(fifo, select.POLLIN)
        poller.register(pidfd, select.POLLIN)
        while True:
            ready = dict(poller.poll())
            if fifo in ready and os.read(fifo, 1):
                break
            if pidfd in ready:
                raise PyruncError("cannot start a container that has stopped")
    finally:
        os.close(fifo)
        os.close(pidfd)
    point("start-read")
    log.debug(f"start {cdir.id}: the init read the exec fifo and executes the program")
    os.unlink(cdir.fifo_path())
    if (st.hooks or {}).get("poststart"):
        _hooks_or_stop(cdir, st, "poststart")


def _hooks_or_stop(cdir: ContainerDir, st: State, kind: str) -> None:
    """runtime.md "Lifecycle" steps 7 and 9: a failed startContainer or
    poststart hook is an error; the container is stopped, destroyed (step
    12) and the poststop hooks run (step 13), as delete --force does."""
    # deferred: see the module's docstring
    from ..hooks import HookError, run
    from ..teardown import destroy
    try:
        if kind == "startContainer":
            from ..hook_points import start_container
            start_container(cdir, st)  # inside the container
        else:
            run(kind, st.hooks, st.oci(RUNNING))
    except HookError:
        destroy(cdir, force=True)
        raise


def _remove_stale_fifo(cdir: ContainerDir) -> None:
    """A start killed after the init read its byte leaves the fifo behind."""
    try:
        os.unlink(cdir.fifo_path())
    except FileNotFoundError:
        pass
