"""linux.seccomp: checked here, compiled to classic BPF by libseccomp in the
parent (runtime._seccomp), loaded by the C init (OP_SECCOMP).

The compiled program is cached in the runtime root, keyed by the profile,
the libseccomp version and the kernel's seccomp API level, so a profile is
compiled once per host, not once per container (crun compiles every time).
Load flags (TSYNC, LOG, SPEC_ALLOW, NEW_LISTENER, ...) are not part of the
program: they go to seccomp(2) in the init.
"""
import _socket  # socket.py's enum set-up costs ~2.5 ms; the C module suffices
import _thread  # threading.py is ~1 ms of imports; a lock and a thread suffice
import fcntl
import os

from . import jsonlite, log, root_cache
from .errors import ConfigError, PyruncError, strerror
from .fdio import write_all
from .fdpass import send_fd
from .launcher import SEALS
from .seccomp_names import (FLAG_NEW_LISTENER, FLAG_TSYNC_ESRCH, FLAGS, NOT_NOTIFIABLE, POINTER,
                            action_value)

CACHE_PREFIX = ".seccomp-"


class Filter:
    """A compiled profile: seccomp(2) flags, the program, whether the init
    gets a notify fd to hand to listenerPath. While the program compiles
    (prepare_in_background), program is None and pending has it."""

    def __init__(self, flags: int, program: bytes | None, notify: bool,
                 pending: "PendingProgram | None" = None):
        self.flags = flags
        self.program = program
        self.notify = notify
        self.pending = pending


class PendingProgram:
    """A program compiling in a thread of its own, and the memfd it goes to:
    the init has the memfd from its spawn on (OP_SECCOMP_FD) and reads it
    only once finish() has filled and sealed it. libseccomp's calls release
    the GIL, so the compile runs beside create's own work and the init's."""

    def __init__(self, make_program):
        self.memfd = os.memfd_create("pyrunc-seccomp", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
        self._done = _thread.allocate_lock()
        self._done.acquire()
        self._outcome: bytes | BaseException | None = None
        _thread.start_new_thread(self._run, (make_program,))
        os.sched_yield()  # drops the GIL: the thread starts now, not at our next system call

    def _run(self, make_program) -> None:
        try:
            self._outcome = make_program()
        except BaseException as e:  # raised again by finish(), in the caller's thread
            self._outcome = e
        finally:
            self._done.release()

    def finish(self) -> None:
        """Wait for the program, write it to the memfd and seal it; what
        the compile raised (a rule libseccomp refused) is raised here."""
        with self._done:
            pass
        if isinstance(self._outcome, BaseException):
            raise self._outcome
        write_all(self.memfd, self._outcome)
        fcntl.fcntl(self.memfd, fcntl.F_ADD_SEALS, SEALS)
        log.debug(f"seccomp: {len(self._outcome) // 8} instructions to the init in a sealed "
                  "memfd (SECCOMP_FD)")

    def close(self) -> None:
        """Our copy of the memfd (the init has its own). On an error path
        this waits for the compile too: a command that ends while the thread
        writes the cache would leave a temporary file in the root."""
        with self._done:
            pass
        if self.memfd >= 0:
            os.close(self.memfd)
            self.memfd = -1


def uses_notify(profile: dict) -> bool:
    return profile["defaultAction"] == "SCMP_ACT_NOTIFY" or any(
        rule["action"] == "SCMP_ACT_NOTIFY" for rule in profile.get("syscalls", []))


def check(profile: dict) -> None:
    """What the schema cannot say; libseccomp's own checks come at compile time."""
    action_value(profile["defaultAction"], profile.get("defaultErrnoRet"),
                 POINTER + "/defaultErrnoRet")
    if profile["defaultAction"] == "SCMP_ACT_NOTIFY":
        # Every syscall of the init itself would wait for the listener.
        raise ConfigError(POINTER + "/defaultAction", "SCMP_ACT_NOTIFY cannot be the default "
                                                      "action")
    for i, rule in enumerate(profile.get("syscalls", [])):
        action_value(rule["action"], rule.get("errnoRet"), f"{POINTER}/syscalls/{i}/errnoRet")
        for name in NOT_NOTIFIABLE:
            if rule["action"] == "SCMP_ACT_NOTIFY" and name in rule["names"]:
                raise ConfigError(f"{POINTER}/syscalls/{i}/names",
                                  f"SCMP_ACT_NOTIFY cannot be used for the {name} syscall: "
                                  "the runtime's init makes it after the filter is loaded")
    if uses_notify(profile) and not profile.get("listenerPath"):
        raise ConfigError(POINTER + "/listenerPath", "required with SCMP_ACT_NOTIFY: where "
                                                     "to send the notify fd")


def load_flags(profile: dict) -> int:
    """The seccomp(2) flags; each checked against this kernel."""
    flags = 0
    for i, name in enumerate(profile.get("flags", [])):
        if not flag_supported(FLAGS[name]):
            raise ConfigError(f"{POINTER}/flags/{i}", f"{name} is not supported by this kernel")
        flags |= FLAGS[name]
    if uses_notify(profile):
        flags |= FLAG_NEW_LISTENER
        if flags & FLAGS["SECCOMP_FILTER_FLAG_TSYNC"]:
            flags |= FLAG_TSYNC_ESRCH  # TSYNC alone and NEW_LISTENER exclude each other
    elif flags & FLAGS["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"]:
        raise ConfigError(POINTER + "/flags", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV needs "
                                              "an SCMP_ACT_NOTIFY rule")
    return flags


def flag_supported(flag: int) -> bool:
    from ._native import lib  # deferred: cffi, only for a profile with flags
    if flag == FLAGS["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"]:
        flag |= FLAG_NEW_LISTENER  # the kernel refuses it alone, known or not
    return lib.pyrunc_seccomp_flag_supported(flag) == 1


def prepare(profile: dict | None, cache_dir: str | None) -> Filter | None:
    """Check, compile (or take from the cache) and return the filter."""
    if profile is None:
        return None
    check(profile)
    return Filter(load_flags(profile), _program(profile, cache_dir), uses_notify(profile))


def prepare_in_background(profile: dict | None, cache_dir: str | None) -> Filter | None:
    """prepare() for create: the checks now, the program (from the cache, or
    ~10 ms of libseccomp for Docker's profile) in a PendingProgram, so that
    it overlaps the cgroups, the init's spawn, namespaces and mounts. A
    notify filter loads before READY, so its program is needed at once."""
    if profile is None:
        return None
    check(profile)
    flags = load_flags(profile)
    if uses_notify(profile):
        return Filter(flags, _program(profile, cache_dir), True)
    return Filter(flags, None, False, PendingProgram(lambda: _program(profile, cache_dir)))


def _program(profile: dict, cache_dir: str | None) -> bytes:
    # deferred: libseccomp's cffi module loads only on a cache miss or for a key
    from . import seccomp_compile
    key = seccomp_compile.cache_key(_program_input(profile))
    program = root_cache.get(cache_dir, CACHE_PREFIX, key)
    if program is not None:
        log.debug(f"seccomp: filter {key[:12]} from the cache")
    else:
        program = seccomp_compile.compile_profile(profile)
        root_cache.put(cache_dir, CACHE_PREFIX, key, program)
        log.debug(f"seccomp: filter {key[:12]} compiled ({len(program) // 8} instructions)")
    return program


def _program_input(profile: dict) -> bytes:
    """The parts of the profile the program depends on, canonically."""
    kept = {k: v for k, v in profile.items()
            if k in ("defaultAction", "defaultErrnoRet", "architectures", "syscalls")}
    return jsonlite.dumps(kept, sort_keys=True, compact=True).encode()


def send_notify_fd(profile: dict, fd: int, state: dict, pid: int) -> None:
    """Hand the notify fd to listenerPath with the container process state
    (runtime-spec config-linux.md "Seccomp", "The Container Process State")."""
    message = {"ociVersion": state["ociVersion"], "fds": ["seccompFd"], "pid": pid,
               "metadata": profile.get("listenerMetadata", ""), "state": state}
    path = profile["listenerPath"]
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        sock.connect(path)
        send_fd(sock, jsonlite.dumps(message).encode(), fd)
    except OSError as e:
        raise PyruncError(f"failed to connect with seccomp agent {path} ({POINTER}/listenerPath): "
                          f"{strerror(e)}") from None
    finally:
        sock.close()
