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
        for i, rule in enumerate(profile.get("syscalls", [])):
            _add_rule(ctx, rule, default, f"{POINTER}/syscalls/{i}")
        return seccomp_enosys.patch(profile, _export(ctx), lib)
    finally:
        lib.seccomp_release(ctx)


def _add_architectures(ctx, names: list[str]) -> None:
    for i, name in enumerate(names):
        token = lib.seccomp_arch_resolve_name(name[len(ARCH_PREFIX):].lower().encode())
        if token == 0:
            raise ConfigError(f"{POINTER}/architectures/{i}",
                              f"{name} is not supported by this libseccomp ({_version()})")
        rc = lib.seccomp_arch_add(ctx, token)
        if rc < 0 and rc != -17:  # EEXIST: the native one is always there
            raise ConfigError(f"{POINTER}/architectures/{i}", f"{name}: {strerror(-rc)}")


def _add_rule(ctx, rule: dict, default: int, pointer: str) -> None:
    action = action_value(rule["action"], rule.get("errnoRet"), pointer + "/errnoRet")
    if action == default:
        return  # libseccomp refuses it (EACCES); it changes nothing anyway
    args = rule.get("args", [])
    indexes = [a["index"] for a in args]
    # One rule ANDs its conditions, and libseccomp takes one per argument: with
    # an argument named twice, each condition is a rule of its own (an OR).
    groups = [args] if len(set(indexes)) == len(indexes) else [[a] for a in args]
    for j, name in enumerate(rule["names"]):
        number = lib.seccomp_syscall_resolve_name(name.encode())
        if number == lib.__NR_SCMP_ERROR:
            log.debug(f"seccomp: {pointer}/names/{j}: unknown syscall {name!r} skipped")
            continue
        for group in groups:
            conds = ffi.new("struct scmp_arg_cmp[]", max(len(group), 1))
            for k, a in enumerate(group):
                conds[k].arg = a["index"]
                conds[k].op = getattr(lib, a["op"])
                conds[k].datum_a = a["value"]
                conds[k].datum_b = a.get("valueTwo", 0)
            rc = lib.seccomp_rule_add_array(ctx, action, number, len(group), conds)
            if rc < 0:
                raise ConfigError(f"{pointer}/names/{j}",
                                  f"libseccomp refused the rule for {name}: {strerror(-rc)}")


def unknown_syscalls(profile: dict) -> list[tuple[str, str]]:
    """(pointer, name) of each syscall name this libseccomp does not know:
    _add_rule skips them, as runc does (`pyrunc check` warns)."""
    return [(f"{POINTER}/syscalls/{i}/names/{j}", name)
            for i, rule in enumerate(profile.get("syscalls", []))
            for j, name in enumerate(rule["names"])
            if lib.seccomp_syscall_resolve_name(name.encode()) == lib.__NR_SCMP_ERROR]


def _export(ctx) -> bytes:
    fd = os.memfd_create("seccomp-bpf", os.MFD_CLOEXEC)
    try:
        rc = lib.seccomp_export_bpf(ctx, fd)
        if rc < 0:
            raise PyruncError(f"libseccomp could not export the filter: {strerror(-rc)}")
        size = os.lseek(fd, 0, os.SEEK_END)
        return os.pread(fd, size, 0)
    finally:
        os.close(fd)


def architectures() -> list[str]:
    """The OCI arch names this libseccomp knows."""
    return [n for n in ARCHS if lib.seccomp_arch_resolve_name(n[len(ARCH_PREFIX):].lower().encode())]


def _version() -> str:
    v = lib.seccomp_version()
    return f"{v.major}.{v.minor}.{v.micro}"
