"""pyrunc's SIGTERM/SIGHUP unwinding stays in pyrunc: a process a library
forks from it (pyroute2 makes a network namespace's socket in one, then ends
it with SIGTERM) dies of the signal instead of running create's undo.

CI found the bug as a hung create with netDevices: the child unwound, killed
the init and read the parent's netlink reply."""
import os
import signal
import time

from runtime import cli


def test_fork_child_dies_of_sigterm_instead_of_unwinding():
    old = signal.signal(signal.SIGTERM, cli._terminate)  # as main() sets it
    try:
        pid = os.fork()
        if pid == 0:
            try:
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(5)  # a moment for the handler, if any
                os._exit(0)
            except BaseException:  # Terminated: the inherited handler ran
                os._exit(3)
        _, status = os.waitpid(pid, 0)
    finally:
        signal.signal(signal.SIGTERM, old)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGTERM, status
    assert signal.getsignal(signal.SIGTERM) is old  # the parent's own is untouched


def test_pyrunc_itself_still_unwinds():
    old = signal.signal(signal.SIGTERM, cli._terminate)
    try:
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)
        except cli.Terminated as e:
            assert e.args == (signal.SIGTERM,)
        else:
            raise AssertionError("SIGTERM did not unwind pyrunc")
    finally:
        signal.signal(signal.SIGTERM, old)
