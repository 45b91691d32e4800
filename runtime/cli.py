"""The pyrunc command line: runc's flags, exit codes and messages.

Global flags go before the subcommand, as with runc. Every failure is one line
on stderr (and in --log), exit status 1, and no traceback unless --debug.

The command lines containerd and Podman send most are read by quickargs.py;
any other by the argparse parser of cli_parser.py, imported only then (~10 ms).
"""
import _signal  # signal's C module: `import signal` costs ~4 ms (enum)
import os
import sys

from . import log, quickargs, rootless
from .errors import PyruncError

# The dispatch table: command -> its module in runtime/commands/, imported
# only when that command runs.
MODULES = {
    "create": "create", "run": "run", "start": "start", "exec": "exec", "state": "state",
    "kill": "kill", "delete": "delete", "pause": "pause", "resume": "resume", "ps": "ps",
    "update": "update", "events": "events", "list": "list", "spec": "spec",
    "features": "features", "checkpoint": "checkpoint", "restore": "checkpoint",
    "check": "check", "plan": "plan",
}

class Terminated(BaseException):
    """SIGTERM/SIGHUP while pyrunc works: unwind so that create undoes itself."""


def _terminate(signum, _frame):
    raise Terminated(signum)


_UNWIND_SIGNALS = (_signal.SIGTERM, _signal.SIGHUP)


def _default_signals_in_fork_child() -> None:
    """A library's fork (pyroute2 makes its netns socket in one and ends it
    with SIGTERM) must die, not unwind pyrunc's work: an inherited handler
    would run create's undo (killing the init) in the child and let the
    child read the parent's netlink replies."""
    for sig in _UNWIND_SIGNALS:
        if _signal.getsignal(sig) is _terminate:
            _signal.signal(sig, _signal.SIG_DFL)


os.register_at_fork(after_in_child=_default_signals_in_fork_child)  # once, at import


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    debug = "--debug" in argv
    for sig in _UNWIND_SIGNALS:
        _signal.signal(sig, _terminate)
    args = quickargs.parse(argv)
    if args is not None:
        log.configure(args.log, args.log_format, args.debug)
    else:
        # deferred: argparse (~10 ms), only for what quickargs does not read
        from .cli_parser import build_parser, configure_log_leniently
        configure_log_leniently(argv)  # first, so that even a usage error reaches --log
    try:
        if args is None:
            args = build_parser().parse_args(argv)
        status = _dispatch(args) or 0
        sys.stdout.flush()  # here, where a reader that went away is handled (below)
        return status
    except PyruncError as e:
        log.error(str(e))
        return e.exit_code
    except KeyboardInterrupt:
        log.error("interrupted")
        return 130
    except Terminated as e:
        log.error(f"terminated by signal {e.args[0]}")
        return 128 + e.args[0]
    except BrokenPipeError as e:
        if not _stdout_reader_gone():
            return _internal_error(e, debug)
        # `pyrunc list | head -1`: the reader went away. As a Go program (runc)
        # dies of SIGPIPE there, quietly; nothing left to flush at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
        return 128 + _signal.SIGPIPE
    except Exception as e:
        return _internal_error(e, debug)


def _stdout_reader_gone() -> bool:
    """A pipe on stdout whose read end is closed polls as POLLERR."""
    import select  # error path only

    poller = select.poll()
    poller.register(1, 0)
    return any(events & select.POLLERR for _fd, events in poller.poll(0))


def _internal_error(e: Exception, debug: bool) -> int:
    if debug:
        raise e
    log.error(f"internal error: {type(e).__name__}: {e} (run with --debug for details)")
    return 1


def _dispatch(args) -> int:
    """The command's module, imported only now (commands/__init__.py)."""
    if args.root is None:
        args.root = rootless.default_root()
    rootless.check_flag(args.rootless)
    module = __import__(f"{__package__}.commands.{MODULES[args.command]}", fromlist=["run"])
    return module.run(args) or 0


if __name__ == "__main__":
    sys.exit(main())
