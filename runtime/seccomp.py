"""linux.seccomp: checked here, compiled to classic BPF by libseccomp in the
parent (runtime._seccomp), loaded by the C init (OP_SECCOMP).

The compiled program is cached in the runtime root, keyed by the profile,
the libseccomp version and the kernel's seccomp API level, so a profile is
compiled once per host, not once per container (crun compiles every time).
Load flags (TSYNC, LOG, SPEC_ALLOW, NEW_LISTENER, ...) are not part of the
program: they go to seccomp(2) in the init.
"""
import _socket  # socket.py's enum set-up costs ~2.5 ms; the C module suffices

from . import jsonlite, log, root_cache
from .errors import ConfigError, PyruncError, strerror
from .fdpass import send_fd
from .seccomp_names import (FLAG_NEW_LISTENER, FLAG_TSYNC_ESRCH, FLAGS, NOT_NOTIFIABLE, POINTER,
                            action_value)

CACHE_PREFIX = ".seccomp-"


class Filter:
    """A compiled profile: seccomp(2) flags, the program, whether the init
    gets a notify fd to hand to listenerPath."""

    def __init__(self, flags: int, program: bytes, notify: bool):
        self.flags = flags
        self.program = program
        self.notify = notify


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
    flags = load_flags(profile)
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
    return Filter(flags, program, uses_notify(profile))


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
