"""The command lines containerd, Podman and scripts send most, parsed without
argparse: `create`, `run`, `exec --process`, `start`, `state`, `kill`,
`delete`, `pause`, `resume`, `ps`, `list`, `features`, `update` (containerd
sends `update --resources -`), with runc's global flags.

argparse costs ~10 ms to import (it imports re, enum, gettext), twice what a
light command may spend above the interpreter's start. parse() answers only
for a command line it understands in full, each flag spelled out, and gives
exactly the Namespace fields argparse would (tests/unit/test_quickargs.py
compares the two); anything else (help, an abbreviated or unknown flag, a
usage error, another command) returns None and cli_parser.py's argparse
parser reads it, with its messages.
"""

# Global flags: name -> (field, choices or None); a value follows each.
GLOBAL_VALUES = {"--root": ("root", None), "--log": ("log", None),
                 "--log-format": ("log_format", ("text", "json")),
                 "--rootless": ("rootless", None)}
GLOBAL_SWITCHES = {"--debug": "debug", "--systemd-cgroup": "systemd_cgroup"}
GLOBAL_DEFAULTS = {"root": None, "log": None, "log_format": "text", "rootless": "auto",
                   "debug": False, "systemd_cgroup": False, "version": None}

# command -> (switches {flag: field}, valued flags {flag: (field, choices)},
#             positionals [(field, default or REQUIRED)], fields' defaults,
#             remainder: its last field takes the rest (argparse.REMAINDER),
#             which only argparse reads; here it stays empty).
# A valued flag's choices: a tuple of words, INT (argparse's type=int) or
# APPEND (repeatable, collected in a list).
REQUIRED = object()
INT = "int"
APPEND = "append"
_ID = [("container_id", REQUIRED)]
_FORMAT = ("format", ("table", "json"))
_CREATE_SWITCHES = {"--no-pivot": "no_pivot", "--no-new-keyring": "no_new_keyring"}
_CREATE_VALUES = {"-b": ("bundle", None), "--bundle": ("bundle", None),
                  "--pid-file": ("pid_file", None), "--console-socket": ("console_socket", None),
                  "--preserve-fds": ("preserve_fds", INT)}
_CREATE_DEFAULTS = {"bundle": ".", "pid_file": None, "console_socket": None, "no_pivot": False,
                    "no_new_keyring": False, "preserve_fds": 0}
# runc update's limit flags: (flag, LinuxResources section and key, how its
# value reads, help); sizes take k/m/g/t suffixes (powers of 1024). The one
# table of them: cli_parser.py's parser and commands/update.py read it too
# (here, as every command line is read here first: no module more to import).
UPDATE_FLAGS = (
    ("--memory", "memory", "limit", "size", "memory limit (bytes, or 64m, 1g; -1: none)"),
    ("--memory-swap", "memory", "swap", "size", "memory+swap limit"),
    ("--memory-reservation", "memory", "reservation", "size", "memory soft limit"),
    ("--kernel-memory", "memory", "kernel", "size", "kernel memory limit"),
    ("--kernel-memory-tcp", "memory", "kernelTCP", "size", "kernel TCP buffer limit"),
    ("--cpu-shares", "cpu", "shares", "int", "CPU shares (relative weight)"),
    ("--cpu-period", "cpu", "period", "int", "CPU CFS period (us)"),
    ("--cpu-quota", "cpu", "quota", "int", "CPU CFS quota (us; -1: none)"),
    ("--cpu-rt-period", "cpu", "realtimePeriod", "int", "CPU realtime period (us)"),
    ("--cpu-rt-runtime", "cpu", "realtimeRuntime", "int", "CPU realtime runtime (us)"),
    ("--cpuset-cpus", "cpu", "cpus", "str", "CPUs to use (0-3,5)"),
    ("--cpuset-mems", "cpu", "mems", "str", "memory nodes to use"),
    ("--pids-limit", "pids", "limit", "int", "maximum number of processes (-1: none)"),
    ("--blkio-weight", "blockIO", "weight", "int", "block IO weight (10-1000)"),
)


def flag_field(flag: str) -> str:
    """The Namespace field of a long flag, as argparse names it."""
    return flag[2:].replace("-", "_")


_UPDATE_VALUES = {"-r": ("resources", None), "--resources": ("resources", None)} | {
    flag: (flag_field(flag), None) for flag, *_ in UPDATE_FLAGS}
COMMANDS = {
    "state": ({}, {}, _ID, {}, None),
    "start": ({}, {}, _ID, {}, None),
    "pause": ({}, {}, _ID, {}, None),
    "resume": ({}, {}, _ID, {}, None),
    "kill": ({"-a": "all", "--all": "all"}, {}, _ID + [("signal", "TERM")], {"all": False},
             None),
    "delete": ({"-f": "force", "--force": "force"}, {}, _ID, {"force": False}, None),
    "ps": ({}, {"-f": _FORMAT, "--format": _FORMAT}, _ID, {"format": "table"}, "ps_args"),
    "list": ({"-q": "quiet", "--quiet": "quiet"}, {"-f": _FORMAT, "--format": _FORMAT}, [],
             {"format": "table", "quiet": False}, None),
    "features": ({}, {}, [], {}, None),
    "update": ({}, _UPDATE_VALUES, _ID, {name: None for name, _ in _UPDATE_VALUES.values()},
               None),
    "create": (_CREATE_SWITCHES, _CREATE_VALUES, _ID, _CREATE_DEFAULTS, None),
    "run": (_CREATE_SWITCHES | {"-d": "detach", "--detach": "detach", "--keep": "keep"},
            _CREATE_VALUES, _ID, _CREATE_DEFAULTS | {"detach": False, "keep": False}, None),
    # exec as containerd and conmon send it: the process in a file (--process).
    "exec": ({"-t": "tty", "--tty": "tty", "--no-new-privs": "no_new_privs", "-d": "detach",
              "--detach": "detach", "--ignore-paused": "ignore_paused"},
             {"-p": ("process", None), "--process": ("process", None), "--cwd": ("cwd", None),
              "-u": ("user", None), "--user": ("user", None), "--apparmor": ("apparmor", None),
              "--process-label": ("process_label", None), "--pid-file": ("pid_file", None),
              "--console-socket": ("console_socket", None), "--preserve-fds": ("preserve_fds", INT),
              "-e": ("env", APPEND), "--env": ("env", APPEND),
              "-g": ("additional_gids", APPEND), "--additional-gids": ("additional_gids", APPEND),
              "-c": ("cap", APPEND), "--cap": ("cap", APPEND), "--cgroup": ("cgroup", APPEND)},
             _ID, {"process": None, "cwd": None, "user": None, "apparmor": None,
                   "process_label": None, "pid_file": None, "console_socket": None,
                   "preserve_fds": 0, "tty": False, "no_new_privs": False, "detach": False,
                   "ignore_paused": False, "env": [], "additional_gids": [], "cap": [],
                   "cgroup": []}, "command_args"),
}


class Args:
    """What argparse.Namespace is to the commands: fields as attributes."""

    def __init__(self, **fields):
        self.__dict__.update(fields)


def parse(argv: list[str]) -> Args | None:
    fields = dict(GLOBAL_DEFAULTS)
    i = _flags(argv, 0, GLOBAL_SWITCHES, GLOBAL_VALUES, fields)
    if i is None or i >= len(argv) or argv[i] not in COMMANDS:
        return None
    command = argv[i]
    switches, values, positionals, defaults, remainder = COMMANDS[command]
    fields["command"] = command
    fields.update({k: list(v) if isinstance(v, list) else v for k, v in defaults.items()})
    if remainder:
        fields[remainder] = []
    words: list[str] = []
    i += 1
    while i < len(argv):
        if remainder and len(words) == len(positionals):
            return None  # the rest is the remainder's, flags or not
        start = i
        i = _flags(argv, i, switches, values, fields)
        if i is None:
            return None
        if i < len(argv):
            if words and i > start:
                return None  # words, flags, words: argparse splits those its own way
            words.append(argv[i])
            i += 1
    if len(words) > len(positionals):
        return None
    for n, (field, default) in enumerate(positionals):
        if n < len(words):
            fields[field] = words[n]
        elif default is REQUIRED:
            return None
        else:
            fields[field] = default
    return Args(**fields)


def _flags(argv, i, switches, values, fields) -> int | None:
    """Reads flags from argv[i] on; returns the index of the first word that
    is not a flag, or None for anything argparse should judge."""
    while i < len(argv):
        arg = argv[i]
        if not arg.startswith("-"):
            return i
        name, eq, value = arg.partition("=")
        if name in switches and not eq:
            fields[switches[name]] = True
            i += 1
        elif name in values:
            if not eq:  # a lone "-" is a value to argparse too (stdin)
                if i + 1 >= len(argv) or argv[i + 1].startswith("-") and argv[i + 1] != "-":
                    return None
                value = argv[i + 1]
                i += 1
            field, choices = values[name]
            if choices == APPEND:
                fields[field].append(value)
            elif choices == INT:
                try:
                    fields[field] = int(value)
                except ValueError:
                    return None
            elif choices is not None and value not in choices:
                return None
            else:
                fields[field] = value
            i += 1
        else:
            return None  # -h, --, a negative number, an unknown or abbreviated flag
    return i
