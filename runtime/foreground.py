"""Waiting in the foreground for a process pyrunc started (`run`'s container
init, `exec`'s process): signals pyrunc gets are passed on to it, a pty
master is relayed to our own terminal meanwhile (runc's foreground mode),
and its exit status becomes ours (128+N for a signal)."""
import os
import _signal  # signal's C module: `import signal` costs ~4 ms (enum)

FORWARDED_SIGNALS = (_signal.SIGHUP, _signal.SIGINT, _signal.SIGQUIT, _signal.SIGTERM,
                     _signal.SIGUSR1, _signal.SIGUSR2, _signal.SIGWINCH, _signal.SIGCONT)


def wait(pid: int, console_fd: int | None = None) -> int:
    # With a terminal the kernel tells the container of size changes when the
    # relay resizes the master: SIGWINCH is the relay's, not forwarded.
    forwarded = [s for s in FORWARDED_SIGNALS if not (console_fd is not None and
                                                      s == _signal.SIGWINCH)]
    for sig in forwarded:
        _signal.signal(sig, lambda s, _frame: _forward(pid, s))
    try:
        if console_fd is not None:
            from .terminal import relay  # feature import: termios, only with a terminal
            pidfd = os.pidfd_open(pid)
            try:
                relay(console_fd, pidfd)
            finally:
                os.close(pidfd)
                os.close(console_fd)
        _, status = os.waitpid(pid, 0)
    finally:
        for sig in forwarded:
            _signal.signal(sig, _signal.SIG_DFL)
    code = os.waitstatus_to_exitcode(status)
    return 128 - code if code < 0 else code


def _forward(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass
