"""`exec`: run a new process in a running (or created) container.

The process is built as runc builds it: from `--process FILE` as it is, or
from the container's own process with the trailing args and the flags
applied. The C init joins every namespace of the container's init at once
(setns on a pidfd: no pid-reuse race), forks so that the pid namespace
applies, joins the container's cgroups, then runs the same credential and
exec steps as the container's init (launch.join_container). It is a child of
this pyrunc process, which waits for it unless --detach. exec's own failures
exit 255, as runc's: 1..254 are the program's.
"""
import copy

from .. import caps, process_attrs, spec
from ..errors import ConfigError, PyruncError
from ..fdio import write_pid_file
from ..foreground import wait
from ..launch import compile_seccomp, join_container
from ..process_setup import inherited_fds, prepare_process
from ..state import CREATING, PAUSED, STOPPED, ContainerDir
from ..console import check_terminal_flags, hand_over
from ..terminal import take_our_size

# Set by create for the init only (socket activation): never inherited by exec.
INIT_ONLY_ENV = ("LISTEN_FDS=", "LISTEN_PID=")
EXEC_FAILED = 255
REFUSED = {STOPPED: "cannot exec in a stopped container",
           PAUSED: "cannot exec in a paused container (use --ignore-paused to override)",
           CREATING: "cannot exec in a container that is being created"}


def run(args) -> int:
    try:
        return _exec(args)
    except PyruncError as e:
        e.exit_code = EXEC_FAILED
        raise


def _exec(args) -> int:
    if args.preserve_fds < 0:
        raise PyruncError(f"--preserve-fds {args.preserve_fds}: must not be negative")
    preserved = inherited_fds(args.preserve_fds)
    command_args = args.command_args
    if command_args[:1] == ["--"]:
        command_args = command_args[1:]
    if args.process:
        process, what, pointer = spec.load_process(args.process), f"{args.process}: /terminal", ""
    else:
        cdir = ContainerDir(args.root, args.container_id)
        st = cdir.load_exec(cdir.load())
        if st.process is None:
            raise PyruncError(f"container {args.container_id} was created by an older pyrunc: "
                              "exec needs --process")
        process = build_process(st.process, command_args, args)
        what, pointer = "--tty", "/process"
    check_terminal_flags(bool(process.get("terminal")), args.console_socket,
                         not args.detach, what)
    try:
        started = start_process(args.root, args.container_id, process, args.preserve_fds,
                                preserved, args.ignore_paused, pointer,
                                foreground=not args.detach and not args.console_socket,
                                sub_cgroups=args.cgroup)
    except ConfigError as e:
        if not args.process:
            raise
        raise ConfigError(e.pointer, e.problem, file=args.process) from None
    if started.console_fd is not None and args.console_socket:
        hand_over(args.console_socket, started)
    if args.pid_file:
        write_pid_file(args.pid_file, started.pid)
    if args.detach:
        return 0
    return wait(started.pid, started.console_fd)


def build_process(base: dict, args: list[str], opts) -> dict:
    """The container's process with exec's args and flags (runc's exec without -p)."""
    if not args:
        raise PyruncError("exec: no command given (pass a command after the container id, "
                          "or --process FILE)")
    p = copy.deepcopy(base)
    p["args"] = list(args)
    p["terminal"] = bool(opts.tty)
    p.pop("consoleSize", None)
    p["env"] = [e for e in p.get("env", []) if not e.startswith(INIT_ONLY_ENV)] + list(opts.env)
    if opts.cwd:
        p["cwd"] = opts.cwd
    if opts.user:
        uid, _, gid = opts.user.partition(":")
        user = p.setdefault("user", {})
        user["uid"] = _id(uid, "--user", "uid")
        if gid:
            user["gid"] = _id(gid, "--user", "gid")
    if opts.additional_gids:
        p.setdefault("user", {})["additionalGids"] = [
            _id(g, "--additional-gids", "gid") for g in opts.additional_gids]
    if opts.cap:
        _add_caps(p, opts.cap)
    if opts.no_new_privs:
        p["noNewPrivileges"] = True
    if opts.apparmor:
        if not process_attrs.apparmor_enabled():
            raise PyruncError(f"--apparmor {opts.apparmor}: AppArmor is not enabled on this host")
        p["apparmorProfile"] = opts.apparmor
    if opts.process_label:
        if not process_attrs.selinux_enabled():
            raise PyruncError(f"--process-label {opts.process_label}: SELinux is not enabled "
                              "on this host")
        p["selinuxLabel"] = opts.process_label
    return p


def _id(text: str, flag: str, what: str) -> int:
    if not text.isdigit() or int(text) > 2**32 - 2:
        raise PyruncError(f"{flag} {text}: the {what} must be a number (0 to 4294967294)")
    return int(text)


def _add_caps(process: dict, names: list[str]) -> None:
    """--cap adds to the bounding, effective and permitted sets, and to the
    ambient set only when the process has inheritable ones (runc's rule)."""
    sets = process.setdefault("capabilities", {})
    for name in names:
        full = name.upper() if name.upper().startswith("CAP_") else "CAP_" + name.upper()
        if full not in caps.NUMBERS:
            raise PyruncError(f"--cap {name}: unknown capability")
        wanted = ["bounding", "effective", "permitted"]
        if sets.get("inheritable"):
            wanted.append("ambient")
        for s in wanted:
            if full not in sets.setdefault(s, []):
                sets[s].append(full)


def start_process(root: str, container_id: str, process: dict, preserve_fds: int,
                  preserved: list[int], ignore_paused: bool = False,
                  pointer: str = "/process", foreground: bool = False,
                  sub_cgroups: list[str] = ()):
    """Start the process in the container; returns its Init once it has
    exec'd (an exec failure, e.g. a missing program, is raised with runc's
    message)."""
    cdir = ContainerDir(root, container_id)
    # The lock keeps delete out until the process is in the container's
    # cgroups and namespaces, and no longer: in a paused container
    # (--ignore-paused) it stays frozen until a resume, which takes the lock.
    with cdir:
        st = cdir.load_exec(cdir.load())
        status = cdir.status(st)
        if not (status.can_exec or (status == PAUSED and ignore_paused)):
            raise PyruncError(REFUSED[status])
        preserve_fds = prepare_process(process, pointer, preserve_fds, preserved)
        seccomp = compile_seccomp(st.seccomp, root)  # the container's, as runc
        init = join_container(cdir.path, st, process, preserve_fds, preserved, pointer,
                              seccomp=seccomp, status=status, placed=cdir.unlock,
                              cgroups=st.cgroups().sub(list(sub_cgroups)))
        if init.console_fd is not None and foreground:
            take_our_size(init.console_fd)
        init.exec_now()
    return init
