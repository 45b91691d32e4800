"""Compile a checked OCI seccomp profile to classic BPF with libseccomp
(runtime._seccomp). Imported only on a cache miss or to make a cache key."""
import os

from . import log, seccomp_enosys
from .errors import ConfigError, PyruncError, strerror
from .seccomp_names import ARCHS, POINTER, action_value
from ._seccomp import ffi, lib

ARCH_PREFIX = "SCMP_ARCH_"
STUB_VERSION = 1  # a changed stub must not come from a cache of the old one


def cache_key(program_input: bytes) -> str:
    """The profile, this libseccomp and the kernel's seccomp API level (which
    decides what libseccomp may emit) name a program."""
    from _sha256 import sha256  # hashlib's OpenSSL import costs ~2.5 ms
    v = lib.seccomp_version()
    host = (f"libseccomp {v.major}.{v.minor}.{v.micro} api {lib.seccomp_api_get()} "
            f"enosys-stub {STUB_VERSION}\0")
    return sha256(host.encode() + program_input).hexdigest()


def compile_profile(profile: dict) -> bytes:
    default = action_value(profile["defaultAction"], profile.get("defaultErrnoRet"), POINTER)
    ctx = lib.seccomp_init(default)
    if ctx == ffi.NULL:
        raise PyruncError("libseccomp could not start a filter (seccomp_init)")
    try:
        _add_architectures(ctx, profile.get("architectures", []))
        return seccomp_enosys.patch(profile, _add_rules_and_export(ctx, profile, default),
                                    lib, resolve_names)
    finally:
        lib.seccomp_release(ctx)


def resolve_names(names: list[str], arch_token: int = 0) -> list[int]:
    """Each name's syscall number, native or arch_token's, in one call
    (csrc/seccomp_batch.c); __NR_SCMP_ERROR for a name libseccomp does not
    know, a negative number for a call the architecture does not have."""
    texts = [ffi.new("char[]", name.encode()) for name in names]
    numbers = ffi.new("int[]", len(names))
    lib.pyrunc_resolve_names(arch_token, ffi.new("char *[]", texts), len(names), numbers)
    return list(numbers)


def _add_architectures(ctx, names: list[str]) -> None:
    for i, name in enumerate(names):
        token = lib.seccomp_arch_resolve_name(name[len(ARCH_PREFIX):].lower().encode())
        if token == 0:
            raise ConfigError(f"{POINTER}/architectures/{i}",
                              f"{name} is not supported by this libseccomp ({_version()})")
        rc = lib.seccomp_arch_add(ctx, token)
        if rc < 0 and rc != -17:  # EEXIST: the native one is always there
            raise ConfigError(f"{POINTER}/architectures/{i}", f"{name}: {strerror(-rc)}")


def _add_rules_and_export(ctx, profile: dict, default: int) -> bytes:
    """The profile's rules, added and exported in one call (seccomp_batch.c)."""
    syscalls = profile.get("syscalls", [])
    numbers = iter(resolve_names([name for rule in syscalls for name in rule["names"]]))
    rules, named, keep = [], [], []
    for i, rule in enumerate(syscalls):
        pointer = f"{POINTER}/syscalls/{i}"
        action = action_value(rule["action"], rule.get("errnoRet"), pointer + "/errnoRet")
        args = rule.get("args", [])
        indexes = [a["index"] for a in args]
        # One rule ANDs its conditions, and libseccomp takes one per argument:
        # with an argument named twice, each condition is a rule of its own (an OR).
        groups = [args] if len(set(indexes)) == len(indexes) else [[a] for a in args]
        conditions = [_conditions(group, keep) for group in groups]
        for j, name in enumerate(rule["names"]):
            number = next(numbers)
            if action == default:
                continue  # libseccomp refuses it (EACCES); it changes nothing anyway
            if number == lib.__NR_SCMP_ERROR:
                log.debug(f"seccomp: {pointer}/names/{j}: unknown syscall {name!r} skipped")
                continue
            for group, conds in zip(groups, conditions):
                rules.append((action, number, len(group), conds))
                named.append((f"{pointer}/names/{j}", name))
    array = ffi.new("struct pyrunc_rule[]", len(rules))
    for slot, (action, number, count, conds) in zip(array, rules):
        slot.action, slot.syscall, slot.nargs, slot.args = action, number, count, conds
    failed = ffi.new("long *")
    fd = os.memfd_create("seccomp-bpf", os.MFD_CLOEXEC)
    try:
        rc = lib.pyrunc_add_and_export(ctx, array, len(rules), fd, failed)
        if rc < 0 and failed[0] >= 0:
            where, name = named[failed[0]]
            raise ConfigError(where, f"libseccomp refused the rule for {name}: {strerror(-rc)}")
        if rc < 0:
            raise PyruncError(f"libseccomp could not export the filter: {strerror(-rc)}")
        size = os.lseek(fd, 0, os.SEEK_END)
        return os.pread(fd, size, 0)
    finally:
        os.close(fd)


def _conditions(group: list[dict], keep: list):
    """A rule's conditions as libseccomp takes them (kept alive in keep)."""
    if not group:
        return ffi.NULL
    conds = ffi.new("struct scmp_arg_cmp[]", len(group))
    for k, a in enumerate(group):
        conds[k].arg = a["index"]
        conds[k].op = getattr(lib, a["op"])
        conds[k].datum_a = a["value"]
        conds[k].datum_b = a.get("valueTwo", 0)
    keep.append(conds)
    return conds


def unknown_syscalls(profile: dict) -> list[tuple[str, str]]:
    """(pointer, name) of each syscall name this libseccomp does not know:
    the compile skips them, as runc does (`pyrunc check` warns)."""
    where = [(f"{POINTER}/syscalls/{i}/names/{j}", name)
             for i, rule in enumerate(profile.get("syscalls", []))
             for j, name in enumerate(rule["names"])]
    numbers = resolve_names([name for _, name in where])
    return [w for w, number in zip(where, numbers) if number == lib.__NR_SCMP_ERROR]


def architectures() -> list[str]:
    """The OCI arch names this libseccomp knows."""
    return [n for n in ARCHS if lib.seccomp_arch_resolve_name(n[len(ARCH_PREFIX):].lower().encode())]


def _version() -> str:
    v = lib.seccomp_version()
    return f"{v.major}.{v.minor}.{v.micro}"
