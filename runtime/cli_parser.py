"""pyrunc's argparse parser: every command and flag, runc's names. cli.py
asks it for any command line quickargs.py does not read (help and usage
errors included); help.py renders its help.
"""
import argparse
import os

from . import OCI_VERSION, __version__, log
from .errors import PyruncError
from .quickargs import UPDATE_FLAGS

ID_HELP = "the container's id, unique under --root"

# argparse passes every string through gettext, which searches the disk for
# translation catalogs on each call and never caches a miss: ~340 stat calls,
# ~5 ms per invocation. pyrunc's messages are English only.
argparse._ = lambda message: message


class _Formatter(argparse.HelpFormatter):
    """A fixed width: argparse makes a formatter for every add_argument, and
    asking the terminal its size each time costs ~0.3 ms a command. pyrunc's
    help is rendered by help.py, which does not use it."""

    def __init__(self, prog, indent_increment=2, max_help_position=24, width=100):
        super().__init__(prog, indent_increment, max_help_position, width)


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", _Formatter)
        super().__init__(*args, **kwargs)

    def error(self, message):
        # A usage error is bad input like any other: one line, exit 1.
        if "invalid choice" in message and self.prog == "pyrunc":
            # runc's words for an unknown command, which scripts match.
            word = message.split("'")[1] if "'" in message else "?"
            raise PyruncError(f"No help topic for '{word}': pyrunc has no such command "
                              f"(see 'pyrunc --help')")
        raise PyruncError(f"{message} (see '{self.prog} --help')")

    def format_help(self):
        from .help import render  # deferred: only -h renders help
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
    p.add_argument("--log-format", choices=("text", "json"), default="text",
                   help="the log's line format (default %(default)s)")
    p.add_argument("--debug", action="store_true", help="debug logging and tracebacks")
    p.add_argument("--systemd-cgroup", action="store_true",
                   help="cgroups through systemd: linux.cgroupsPath is slice:prefix:name")
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
        c.add_argument("container_id", metavar="container-id", help=ID_HELP)

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
    c.add_argument("container_id", metavar="container-id", help=ID_HELP)
    c.add_argument("command_args", nargs=argparse.REMAINDER, metavar="COMMAND",
                   help="the program and its arguments (unless --process)")
    command("start", "run the process of a created container").add_argument("container_id", metavar="container-id", help=ID_HELP)
    command("state", "print the state of a container as JSON").add_argument("container_id", metavar="container-id", help=ID_HELP)
    c = command("kill", "send a signal to the container's init (default TERM)")
    c.add_argument("-a", "--all", action="store_true", help="signal every process in the container")
    c.add_argument("container_id", metavar="container-id", help=ID_HELP)
    c.add_argument("signal", nargs="?", default="TERM",
                   help="a name (KILL, SIGKILL, RTMIN+3) or number (default %(default)s)")
    c = command("delete", "delete a container and everything it holds")
    c.add_argument("-f", "--force", action="store_true", help="kill it first if it runs")
    c.add_argument("container_id", metavar="container-id", help=ID_HELP)
    command("pause", "freeze every process of a running container").add_argument(
        "container_id", metavar="container-id", help=ID_HELP)
    command("resume", "thaw a paused container").add_argument("container_id", metavar="container-id", help=ID_HELP)
    c = command("ps", "list the container's processes (host pids)")
    c.add_argument("-f", "--format", choices=("table", "json"), default="table",
                   help="output format (default %(default)s)")
    c.add_argument("container_id", metavar="container-id", help=ID_HELP)
    c.add_argument("ps_args", nargs=argparse.REMAINDER, metavar="PS-OPTIONS",
                   help="options for ps(1), default -ef")
    c = command("update", "change the resource limits of a live container")
    c.add_argument("-r", "--resources", metavar="FILE",
                   help="LinuxResources JSON (config.json's linux.resources); - reads stdin")
    for flag, _section, _key, _kind, help_text in UPDATE_FLAGS:
        c.add_argument(flag, help=help_text)
    c.add_argument("container_id", metavar="container-id", help=ID_HELP)
    c = command("events", "display container events: OOM notifications and resource usage stats")
    c.add_argument("--interval", default="5s", metavar="DURATION",
                   help="stats collection interval, Go syntax: 5s, 100ms, 1m30s (default %(default)s)")
    c.add_argument("--stats", action="store_true", help="display the container's stats then exit")
    c.add_argument("container_id", metavar="container-id", help=ID_HELP)
    c = command("list", "list containers")
    c.add_argument("-f", "--format", choices=("table", "json"), default="table",
                   help="output format (default %(default)s)")
    c.add_argument("-q", "--quiet", action="store_true", help="only ids")
    command("features", "print the features this runtime supports (runtime-spec JSON)")
    for name in ("checkpoint", "restore"):  # runc's, refused (commands/checkpoint.py)
        c = command(name, f"{name} a container with CRIU: not supported by pyrunc")
        c.add_argument("rest", nargs=argparse.REMAINDER, metavar="container-id",
                       help=argparse.SUPPRESS)
    c = command("check", "find every problem of a bundle (config, host, rootfs) without running it")
    c.epilog = ("Each finding names where (a JSON pointer into config.json, or a path in the "
                "rootfs), what, and a fix; errors first, then warnings. Nothing is created. "
                "Exit status 0 without errors (warnings allowed), 1 otherwise. --format json: "
                "a list of {severity, pointer, path, message, hint}.")
    c.add_argument("-b", "--bundle", default=".", help="bundle directory (default: cwd)")
    c.add_argument("-f", "--format", choices=("text", "json"), default="text",
                   help="output format (default %(default)s)")
    c = command("plan", "show step by step what create would do, without running it")
    c.epilog = ("The steps are the plan the C init would execute, numbered as --debug traces "
                "them (init step N); around them the cgroup files written, the seccomp "
                "filter and where each hook runs. Nothing is created.")
    c.add_argument("-b", "--bundle", default=".", help="bundle directory (default: cwd)")
    c.add_argument("-f", "--format", choices=("text", "json"), default="text",
                   help="output format (default %(default)s)")
    c.add_argument("--no-pivot", action="store_true", help="plan MS_MOVE+chroot, not pivot_root")
    c.add_argument("container_id", metavar="container-id", nargs="?", default="CONTAINER-ID",
                   help="the id create would get: it names the default cgroup")
    c = command("spec", "write a default config.json")
    c.add_argument("-b", "--bundle", default=".", help="where to write it (default: cwd)")
    # Its own dest: the global --rootless (true|false|auto) is another flag.
    c.add_argument("--rootless", dest="spec_rootless", action="store_true",
                   help="a config for a user without privileges (user namespace, no cgroups)")
    return p


def configure_log_leniently(argv) -> None:
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


