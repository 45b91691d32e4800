"""The pyrunc command line: runc's flags, exit codes and messages.

Global flags go before the subcommand, as with runc. Every failure is one line
on stderr (and in --log), exit status 1, and no traceback unless --debug.
"""
import argparse
import json
import os
import signal
import sys

from . import OCI_VERSION, __version__, log, update
from .errors import ConfigError, PyruncError, strerror

# argparse passes every string through gettext, which searches the disk for
# translation catalogs on each call and never caches a miss: ~340 stat calls,
# ~5 ms per invocation. pyrunc's messages are English only.
argparse._ = lambda message: message


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        # A usage error is bad input like any other: one line, exit 1.
        if "invalid choice" in message and self.prog == "pyrunc":
            # runc's words for an unknown command, which scripts match.
            word = message.split("'")[1] if "'" in message else "?"
            raise PyruncError(f"No help topic for '{word}': pyrunc has no such command "
                              f"(see 'pyrunc --help')")
        raise PyruncError(f"{message} (see '{self.prog} --help')")

    def format_help(self):
        from .help import render
        return render(self, _version_text() if self.prog == "pyrunc" else "")


def _commit() -> str:
    try:
        with open(os.path.join(os.path.dirname(__file__), "COMMIT")) as f:
            return f.read().strip() or "unknown"
    except OSError:
        return "unknown"


class _Version(argparse.Action):
    def __init__(self, option_strings, dest, **kwargs):
        super().__init__(option_strings, dest, nargs=0, help="print the version")

    def __call__(self, parser, namespace, values, option_string=None):
        print(f"pyrunc version {_version_text()}")
        parser.exit(0)


def _version_text() -> str:
    return f"{__version__}\ncommit: {_commit()}\nspec: {OCI_VERSION}"


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="pyrunc", description="Open Container Initiative runtime "
                                           "(runc's drop-in replacement, in Python)")
    p.add_argument("--root", help="state directory (default /run/pyrunc; "
                                  "$XDG_RUNTIME_DIR/pyrunc when not root)")
    p.add_argument("--log", help="append log lines to this file")
    p.add_argument("--log-format", choices=("text", "json"), default="text")
    p.add_argument("--debug", action="store_true", help="debug logging and tracebacks")
    p.add_argument("--systemd-cgroup", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--rootless", default="auto", metavar="true|false|auto",
                   help="leave out cgroups we may not write (default auto: when not root)")
    p.add_argument("-v", "--version", action=_Version)
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    def command(name, help_text):
        c = sub.add_parser(name, help=help_text, description=help_text)
        return c

    def bundle_flags(c):
        c.add_argument("-b", "--bundle", default=".", help="bundle directory (default: cwd)")
        c.add_argument("--pid-file", help="write the init's pid here")
        c.add_argument("--console-socket", help="AF_UNIX socket to send the pty master to")
        c.add_argument("--no-pivot", action="store_true", help="use MS_MOVE+chroot, not pivot_root")
        c.add_argument("--no-new-keyring", action="store_true", help=argparse.SUPPRESS)
        c.add_argument("--preserve-fds", type=int, default=0, metavar="N",
                       help="pass fds 3..3+N-1 to the container")
        c.add_argument("container_id", metavar="container-id")

    bundle_flags(command("create", "create a container (its process waits for start)"))
    c = command("run", "create, start, wait and delete a container")
    bundle_flags(c)
    c.add_argument("-d", "--detach", action="store_true", help="return once it runs")
    c.add_argument("--keep", action="store_true",
                   help="keep the stopped container (state, cgroup) until delete")
    c = command("exec", "run a new process in a running container")
    c.add_argument("-p", "--process", metavar="FILE", help="the process as OCI process JSON")
    c.add_argument("--cwd", help="working directory in the container")
    c.add_argument("-e", "--env", action="append", default=[], metavar="NAME=VALUE",
                   help="set an environment variable (repeatable)")
    c.add_argument("-t", "--tty", action="store_true", help="allocate a pseudo-terminal")
    c.add_argument("-u", "--user", metavar="UID[:GID]", help="numeric user (and group)")
    c.add_argument("-g", "--additional-gids", action="append", default=[], metavar="GID",
                   help="an additional group (repeatable)")
    c.add_argument("-c", "--cap", action="append", default=[], metavar="CAP",
                   help="add a capability (repeatable)")
    c.add_argument("--no-new-privs", action="store_true", help="set no_new_privs")
    c.add_argument("--apparmor", metavar="PROFILE", help="AppArmor profile for the process")
    c.add_argument("--process-label", metavar="LABEL", help="SELinux label for the process")
    c.add_argument("-d", "--detach", action="store_true", help="return once the process runs")
    c.add_argument("--pid-file", help="write the process's pid here")
    c.add_argument("--console-socket", help="AF_UNIX socket to send the pty master to")
    c.add_argument("--preserve-fds", type=int, default=0, metavar="N",
                   help="pass fds 3..3+N-1 to the process")
    c.add_argument("--ignore-paused", action="store_true", help="exec into a paused container")
    c.add_argument("--cgroup", action="append", default=[], metavar="[CONTROLLER:]PATH",
                   help="join this existing sub-cgroup of the container's (repeatable, "
                        "one per controller list)")
    c.add_argument("container_id", metavar="container-id")
    c.add_argument("command_args", nargs=argparse.REMAINDER, metavar="COMMAND",
                   help="the program and its arguments (unless --process)")
    command("start", "run the process of a created container").add_argument("container_id", metavar="container-id")
    command("state", "print the state of a container as JSON").add_argument("container_id", metavar="container-id")
    c = command("kill", "send a signal to the container's init (default TERM)")
    c.add_argument("-a", "--all", action="store_true", help="signal every process in the container")
    c.add_argument("container_id", metavar="container-id")
    c.add_argument("signal", nargs="?", default="TERM")
    c = command("delete", "delete a container and everything it holds")
    c.add_argument("-f", "--force", action="store_true", help="kill it first if it runs")
    c.add_argument("container_id", metavar="container-id")
    command("pause", "freeze every process of a running container").add_argument(
        "container_id", metavar="container-id")
    command("resume", "thaw a paused container").add_argument("container_id", metavar="container-id")
    c = command("ps", "list the container's processes (host pids)")
    c.add_argument("-f", "--format", choices=("table", "json"), default="table")
    c.add_argument("container_id", metavar="container-id")
    c.add_argument("ps_args", nargs=argparse.REMAINDER, metavar="PS-OPTIONS",
                   help="options for ps(1), default -ef")
    c = command("update", "change the resource limits of a live container")
    c.add_argument("-r", "--resources", metavar="FILE",
                   help="LinuxResources JSON (config.json's linux.resources); - reads stdin")
    for flag, _section, _key, _kind, help_text in update.FLAGS:
        c.add_argument(flag, help=help_text)
    c.add_argument("container_id", metavar="container-id")
    c = command("events", "display container events: OOM notifications and resource usage stats")
    c.add_argument("--interval", default="5s", metavar="DURATION",
                   help="stats collection interval, Go syntax: 5s, 100ms, 1m30s (default %(default)s)")
    c.add_argument("--stats", action="store_true", help="display the container's stats then exit")
    c.add_argument("container_id", metavar="container-id")
    c = command("list", "list containers")
    c.add_argument("-f", "--format", choices=("table", "json"), default="table")
    c.add_argument("-q", "--quiet", action="store_true", help="only ids")
    command("features", "print the features this runtime supports (runtime-spec JSON)")
    for name in ("checkpoint", "restore"):  # runc's, refused (see _dispatch)
        c = command(name, f"{name} a container with CRIU: not supported by pyrunc")
        c.add_argument("rest", nargs=argparse.REMAINDER, metavar="container-id",
                       help=argparse.SUPPRESS)
    c = command("spec", "write a default config.json")
    c.add_argument("-b", "--bundle", default=".", help="where to write it (default: cwd)")
    # Its own dest: the global --rootless (true|false|auto) is another flag.
    c.add_argument("--rootless", dest="spec_rootless", action="store_true",
                   help="a config for a user without privileges (user namespace, no cgroups)")
    return p


class Terminated(BaseException):
    """SIGTERM/SIGHUP while pyrunc works: unwind so that create undoes itself."""


def _terminate(signum, _frame):
    raise Terminated(signum)


_UNWIND_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


def _default_signals_in_fork_child() -> None:
    """A library's fork (pyroute2 makes its netns socket in one and ends it
    with SIGTERM) must die, not unwind pyrunc's work: an inherited handler
    would run create's undo (killing the init) in the child and let the
    child read the parent's netlink replies."""
    for sig in _UNWIND_SIGNALS:
        if signal.getsignal(sig) is _terminate:
            signal.signal(sig, signal.SIG_DFL)


os.register_at_fork(after_in_child=_default_signals_in_fork_child)  # once, at import


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    debug = "--debug" in argv
    for sig in _UNWIND_SIGNALS:
        signal.signal(sig, _terminate)
    _configure_log(argv)  # first, so that even a usage error reaches --log
    try:
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
        return 128 + signal.SIGPIPE
    except Exception as e:
        return _internal_error(e, debug)


def _stdout_reader_gone() -> bool:
    """A pipe on stdout whose read end is closed polls as POLLERR."""
    import select
    poller = select.poll()
    poller.register(1, 0)
    return any(events & select.POLLERR for _fd, events in poller.poll(0))


def _internal_error(e: Exception, debug: bool) -> int:
    if debug:
        raise e
    log.error(f"internal error: {type(e).__name__}: {e} (run with --debug for details)")
    return 1


def _configure_log(argv) -> None:
    """--log, --log-format and --debug, read leniently before the real parse."""
    early = _Parser(prog="pyrunc", add_help=False)
    early.add_argument("--log")
    early.add_argument("--log-format", default="text")
    early.add_argument("--debug", action="store_true")
    try:
        known, _ = early.parse_known_args(argv)
    except PyruncError:
        return  # the real parse reports it
    fmt = known.log_format if known.log_format in ("text", "json") else "text"
    log.configure(known.log, fmt, known.debug)


def _dispatch(args) -> int:
    from . import container

    cmd = args.command
    from . import rootless
    if args.root is None:
        args.root = rootless.default_root()
    rootless.check_flag(args.rootless)
    if cmd in ("create", "run"):
        _check_create_flags(args)
        args.optional_cgroups = rootless.cgroups_optional(args.rootless)
    if cmd == "create":
        container.create(args.root, args.container_id, args.bundle, args.pid_file,
                         args.no_pivot, args.preserve_fds, args.console_socket,
                         optional_cgroups=args.optional_cgroups)
    elif cmd == "run":
        return container.run(args.root, args.container_id, args.bundle, args.pid_file,
                             args.detach, args.no_pivot, args.preserve_fds,
                             args.console_socket, optional_cgroups=args.optional_cgroups,
                             keep=args.keep)
    elif cmd == "exec":
        try:
            return _exec(args)
        except PyruncError as e:
            # runc exits 255 when exec itself fails, so a caller can tell it
            # from the process's own exit status (1..254 are the program's).
            e.exit_code = 255
            raise
    elif cmd == "start":
        container.start(args.root, args.container_id)
    elif cmd == "state":
        print(json.dumps(container.state(args.root, args.container_id), indent=2))
    elif cmd == "kill":
        from .signals import parse_signal
        container.kill(args.root, args.container_id, parse_signal(args.signal), args.all)
    elif cmd == "delete":
        container.delete(args.root, args.container_id, args.force)
    elif cmd == "pause":
        container.pause(args.root, args.container_id)
    elif cmd == "resume":
        container.resume(args.root, args.container_id)
    elif cmd == "ps":
        _ps(args, container.pids(args.root, args.container_id))
    elif cmd == "update":
        from .update import resources_from_args
        container.update(args.root, args.container_id, resources_from_args(args),
                         args.resources or "flags")
    elif cmd == "events":
        from . import events
        return events.run(args.root, args.container_id, args.stats, args.interval)
    elif cmd == "list":
        _list(args)
    elif cmd == "spec":
        _spec(args)
    elif cmd == "features":
        from . import features
        sys.stdout.write(features.render())
    elif cmd in ("checkpoint", "restore"):
        raise PyruncError(f"{cmd}: not supported: pyrunc has no CRIU checkpoint/restore")
    return 0


def _check_create_flags(args) -> None:
    if args.preserve_fds < 0:
        raise PyruncError(f"--preserve-fds {args.preserve_fds}: must not be negative")


def _exec(args) -> int:
    from . import container, exec_process, spec
    from .state import ContainerDir

    if args.preserve_fds < 0:
        raise PyruncError(f"--preserve-fds {args.preserve_fds}: must not be negative")
    command_args = args.command_args
    if command_args[:1] == ["--"]:
        command_args = command_args[1:]
    if args.process:
        process, what, pointer = spec.load_process(args.process), f"{args.process}: /terminal", ""
    else:
        st = ContainerDir(args.root, args.container_id).load()
        if "process" not in st:
            raise PyruncError(f"container {args.container_id} was created by an older pyrunc: "
                              "exec needs --process")
        process = exec_process.build_process(st["process"], command_args, args)
        what, pointer = "--tty", "/process"
    container.check_terminal_flags(bool(process.get("terminal")), args.console_socket,
                                   not args.detach, what)
    try:
        started = exec_process.start_process(args.root, args.container_id, process,
                                             args.preserve_fds, args.ignore_paused, pointer,
                                             foreground=not args.detach and not args.console_socket,
                                             sub_cgroups=args.cgroup)
    except ConfigError as e:
        if not args.process:
            raise
        raise ConfigError(e.pointer, e.problem, file=args.process) from None
    if started.console_fd is not None and args.console_socket:
        from .terminal import send_console
        try:
            send_console(args.console_socket, started.console_fd)
        finally:
            os.close(started.console_fd)
            started.console_fd = None
    if args.pid_file:
        container.write_pid_file(args.pid_file, started.pid)
    if args.detach:
        return 0
    return exec_process.wait(started.pid, started.console_fd)


def _ps(args, pids: list[int]) -> None:
    """json: the array of host pids (containerd parses it); table: ps(1)'s
    output cut to the container's processes, as runc does."""
    if args.format == "json":
        print(json.dumps(pids))
        return
    import subprocess
    ps_args = args.ps_args or ["-ef"]
    try:
        out = subprocess.run(["ps", *ps_args], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        raise PyruncError(f"ps {' '.join(ps_args)}: {getattr(e, 'stderr', '') or e}".strip()) from None
    lines = out.splitlines()
    if not lines:
        return
    header = lines[0].split()
    if "PID" not in header:
        raise PyruncError(f"ps {' '.join(ps_args)}: its output has no PID column")
    column = header.index("PID")
    wanted = set(map(str, pids))
    print(lines[0])
    for line in lines[1:]:
        fields = line.split()
        if len(fields) > column and fields[column] in wanted:
            print(line)


def _list(args) -> None:
    from . import container
    from .state import list_ids

    rows = []
    for cid in list_ids(args.root):
        try:
            rows.append(container.state(args.root, cid))
        except PyruncError:
            continue  # deleted meanwhile, or unreadable: list shows what it can
    if args.quiet:
        for r in rows:
            print(r["id"])
    elif args.format == "json":
        print(json.dumps(rows, separators=(",", ":")))  # compact, as runc (scripts match it)
    else:
        table = [("ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER")]
        table += [(r["id"], str(r["pid"]), r["status"], r["bundle"], r["created"], r["owner"])
                  for r in rows]
        widths = [max(len(row[i]) for row in table) for i in range(6)]
        for row in table:
            print("   ".join(cell.ljust(max(w, 9)) for cell, w in zip(row, widths)).rstrip())


def _spec(args) -> None:
    from .defaults import default_config, pure_cgroup_v2

    path = os.path.join(args.bundle, "config.json")
    if os.path.exists(path):
        raise PyruncError(f"{path}: exists; remove it first")
    try:
        with open(path, "x") as f:
            # runc 1.1 lists a cgroup namespace only where the host is pure
            # cgroup v2: scripts (runc's own tests) add one to what it writes.
            json.dump(default_config(args.spec_rootless, cgroup_ns=pure_cgroup_v2()), f,
                      indent=2)
            f.write("\n")
    except OSError as e:
        raise PyruncError(f"{path}: {strerror(e)}") from None


if __name__ == "__main__":
    sys.exit(main())
