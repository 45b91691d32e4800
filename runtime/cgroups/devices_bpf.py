"""The cgroup v2 device controller: OCI linux.resources.devices → an eBPF program
(BPF_PROG_TYPE_CGROUP_DEVICE) attached to the container's cgroup2 directory.

cgroup v2 has no devices.allow/deny files; a program attached to the directory
decides each open and mknod of a device node. To keep v1 behaviour, the rules are
first run through a model of the v1 controller (as runc does): a default (deny
all, or allow all after a type "a" allow) plus exceptions keyed by (type, major,
minor), then runc's always-allowed devices are applied the same way. The program
checks the exceptions and returns the default otherwise.

program() is pure; attach_program() does the bpf(2) calls through runtime._native,
imported only when needed (commands that read no config never load it).
"""
import errno
import os
import struct
import sys

from .. import _consts
from ..errors import ConfigError, PyruncError, strerror
from .v1_resources import DEFAULT_ALLOWED_DEVICES, device_access

LICENSE = b"Apache-2.0"  # no GPL-only helper is called, so any license loads
U32_MAX = 2**32 - 1
LOG_SIZE = 1 << 16
POINTER = "/linux/resources/devices"


def _lib():
    """The eBPF constants (generated from the kernel headers at build time)."""
    return _consts


# -- rules → the v1 controller's state --

def _access_bits(access: str) -> int:
    lib = _lib()
    bits = {"r": lib.BPF_DEVCG_ACC_READ, "w": lib.BPF_DEVCG_ACC_WRITE,
            "m": lib.BPF_DEVCG_ACC_MKNOD}
    out = 0
    for c in access:
        out |= bits[c]
    return out


def _number(rule: dict, field: str, pointer: str) -> int:
    """-1 (absent, null or -1) is the wildcard."""
    value = rule.get(field)
    if value is None or value == -1:
        return -1
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= U32_MAX:
        raise ConfigError(f"{pointer}/{field}", f"must be -1 or 0..{U32_MAX}, not {value!r}")
    return value


def _parse(rule: dict, pointer: str):
    """(allow, type, major, minor, access bits); type "a" is the whole-table reset."""
    kind = rule.get("type") or "a"
    if kind not in ("a", "b", "c"):
        raise ConfigError(f"{pointer}/type", f"unknown device type {kind!r} (want a, b, c)")
    access = _access_bits(device_access(rule, pointer))
    return (bool(rule.get("allow")), kind, _number(rule, "major", pointer),
            _number(rule, "minor", pointer), access)


def _default_rules():
    """DEFAULT_ALLOWED_DEVICES ("c 1:3 rwm", "c *:* m") as rule dicts."""
    for text in DEFAULT_ALLOWED_DEVICES:
        kind, numbers, access = text.split()
        major, minor = (-1 if n == "*" else int(n) for n in numbers.split(":"))
        yield {"allow": True, "type": kind, "major": major, "minor": minor, "access": access}


def access_letters(access: int) -> str:
    """Access bits as "rwm" letters."""
    lib = _lib()
    return "".join(c for c, bit in (("r", lib.BPF_DEVCG_ACC_READ), ("w", lib.BPF_DEVCG_ACC_WRITE),
                                    ("m", lib.BPF_DEVCG_ACC_MKNOD)) if access & bit)


def _show(kind: str, major: int, minor: int, access: int) -> str:
    return f"{kind} {'*' if major < 0 else major}:{'*' if minor < 0 else minor} {access_letters(access)}"


def emulate(rules: list[dict] | None) -> tuple[bool, dict]:
    """The v1 controller after writing the rules and then the default devices:
    (default_allow, {(type, major, minor): access bits}), the exceptions being
    what differs from the default.

    As the v1 kernel: a type "a" rule resets everything; a rule that goes against
    the default adds (or widens) its exception; a rule that agrees with the default
    takes its access away from the exception with exactly the same type:major:minor.
    v1 silently ignores such a removal when a wider wildcard exception still grants
    the access (deny c 1:5 after allow c *:* keeps 1:5 usable); runc refuses that
    config, and so does this."""
    default_allow = False
    exceptions: dict = {}
    numbered = [(f"{POINTER}/{i}", r) for i, r in enumerate(rules or [])]
    numbered += [(POINTER, r) for r in _default_rules()]
    for pointer, rule in numbered:
        if not isinstance(rule, dict):
            raise ConfigError(pointer, "a device rule must be an object")
        allow, kind, major, minor, access = _parse(rule, pointer)
        if kind == "a":
            default_allow, exceptions = allow, {}
            continue
        key = (kind, major, minor)
        if allow != default_allow:
            exceptions[key] = exceptions.get(key, 0) | access
            continue
        for wider in {(kind, -1, minor), (kind, major, -1), (kind, -1, -1)} - {key}:
            if exceptions.get(wider, 0) & access:
                verb = "allow" if allow else "deny"
                raise ConfigError(pointer, f"{verb} {_show(kind, major, minor, access)} cannot "
                                           f"punch a hole in the wildcard rule "
                                           f"{_show(*wider, exceptions[wider])} (cgroup v1 "
                                           f"would ignore it)")
        left = exceptions.pop(key, 0) & ~access
        if left:
            exceptions[key] = left
    return default_allow, exceptions


# -- the v1 state → eBPF --
#
# ctx is struct bpf_cgroup_dev_ctx {u32 access_type; u32 major; u32 minor}, with
# access_type = (access << 16) | type. Registers: r2 type, r3 access, r4 major,
# r5 minor, r1 scratch once the context is read. Each exception is one block
# whose failed tests jump to the next block; the last block returns the default.

def _insn(code: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
    # struct bpf_insn: the 4-bit dst_reg bitfield comes first, i.e. low on little-endian.
    regs = dst | src << 4 if sys.byteorder == "little" else dst << 4 | src
    if imm > 2**31 - 1:
        imm -= 2**32  # the u32 as the s32 field holds it
    return struct.pack("=BBhi", code, regs, off, imm)


class _Asm:
    def __init__(self):
        lib = _lib()
        self.lib = lib
        self.ldxw = lib.BPF_LDX | lib.BPF_MEM | lib.BPF_W
        self.exit_ = lib.BPF_JMP | lib.BPF_EXIT

    def alu32(self, op: str, dst: int, imm: int | None = None, src: int | None = None) -> bytes:
        lib = self.lib
        code = lib.BPF_ALU | getattr(lib, f"BPF_{op}") | (lib.BPF_K if src is None else lib.BPF_X)
        return _insn(code, dst=dst, src=src or 0, imm=imm or 0)

    def jump(self, op: str, dst: int, off: int, imm: int | None = None,
             src: int | None = None) -> bytes:
        lib = self.lib
        code = lib.BPF_JMP | getattr(lib, f"BPF_{op}") | (lib.BPF_K if src is None else lib.BPF_X)
        return _insn(code, dst=dst, src=src or 0, off=off, imm=imm or 0)

    def ret(self, value: int) -> list[bytes]:
        return [self.alu32("MOV", 0, imm=value), _insn(self.exit_)]


def _block(asm: _Asm, default_allow: bool, kind: str, major: int, minor: int,
           access: int) -> list[bytes]:
    """One exception: its tests, then the verdict (the opposite of the default).
    A test that jumps is a function of its offset to the block's end."""
    lib = asm.lib
    dev = lib.BPF_DEVCG_DEV_CHAR if kind == "c" else lib.BPF_DEVCG_DEV_BLOCK
    steps: list = [lambda off: asm.jump("JNE", 2, off, imm=dev)]
    steps.append(asm.alu32("MOV", 1, src=3))
    if default_allow:
        # A deny exception: v1 denies when the request shares any access bit
        # with it (match_exception_partial), so an O_RDWR open hits "deny w".
        steps.append(asm.alu32("AND", 1, imm=access))
        steps.append(lambda off: asm.jump("JEQ", 1, off, imm=0))
    else:
        # An allow exception: every requested bit must be in it (match_exception).
        steps.append(asm.alu32("AND", 1, imm=0xFFFF & ~access))
        steps.append(lambda off: asm.jump("JNE", 1, off, imm=0))
    for reg, value in ((4, major), (5, minor)):
        if value < 0:
            continue
        if value < 2**31:
            steps.append(lambda off, reg=reg, value=value: asm.jump("JNE", reg, off, imm=value))
        else:
            # A JMP immediate is sign-extended to 64 bits and would never equal
            # the zero-extended u32: compare against a register instead.
            steps.append(asm.alu32("MOV", 1, imm=value))
            steps.append(lambda off, reg=reg: asm.jump("JNE", reg, off, src=1))
    steps += asm.ret(0 if default_allow else 1)
    return [s(len(steps) - i - 1) if callable(s) else s for i, s in enumerate(steps)]


def program(rules: list[dict] | None) -> bytes:
    """The device program for linux.resources.devices (None: no rules, so deny
    all but runc's default devices). Raises ConfigError for a bad rule."""
    default_allow, exceptions = emulate(rules)
    asm = _Asm()
    out = [
        _insn(asm.ldxw, dst=2, src=1, off=0),   # r2 = access_type
        asm.alu32("MOV", 3, src=2),
        asm.alu32("AND", 2, imm=0xFFFF),        # r2 = type
        asm.alu32("RSH", 3, imm=16),            # r3 = access
        _insn(asm.ldxw, dst=4, src=1, off=4),   # r4 = major
        _insn(asm.ldxw, dst=5, src=1, off=8),   # r5 = minor
    ]
    for (kind, major, minor), access in sorted(exceptions.items()):
        out += _block(asm, default_allow, kind, major, minor, access)
    out += asm.ret(1 if default_allow else 0)
    if len(out) > asm.lib.BPF_MAXINSNS:
        raise ConfigError(POINTER, f"{len(exceptions)} device rules make a program of "
                                   f"{len(out)} instructions, over the kernel's "
                                   f"{asm.lib.BPF_MAXINSNS}")
    return b"".join(out)


# -- attaching --

def _open_dir(cgroup_dir: str) -> int:
    try:
        return os.open(cgroup_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as e:
        raise PyruncError(f"device program: cannot open cgroup {cgroup_dir}: "
                          f"{strerror(e.errno)}") from None


def _query(fd: int, cgroup_dir: str) -> list[int]:
    from .._native import ffi, lib  # deferred: cffi, only for bpf(2)
    capacity = 64
    while True:
        ids = ffi.new("unsigned int[]", capacity)
        n = lib.pyrunc_bpf_dev_query(fd, ids, capacity)
        if n < 0:
            raise PyruncError(f"cannot list the device programs of cgroup {cgroup_dir}: "
                              f"{strerror(-n)}")
        if n <= capacity:
            return list(ids[0:n])
        capacity = n  # more were attached than we had room for: ask again


def _load(prog: bytes, cgroup_dir: str) -> int:
    from .._native import ffi, lib  # deferred: cffi, only for bpf(2)
    if not prog or len(prog) % 8:
        raise PyruncError(f"device program for cgroup {cgroup_dir}: {len(prog)} bytes "
                          f"is not a whole number of instructions")
    log = ffi.new("char[]", LOG_SIZE)
    fd = lib.pyrunc_bpf_dev_load(prog, len(prog) // 8, LICENSE, log, LOG_SIZE)
    if fd < 0:
        # The verifier's reason is the last line before its "processed N insns" summary.
        lines = [ln.strip() for ln in ffi.string(log).decode(errors="replace").splitlines()
                 if ln.strip() and not ln.startswith("processed ")]
        why = f" (verifier: {lines[-1]})" if lines else ""
        raise PyruncError(f"cannot load the device program for cgroup {cgroup_dir}: "
                          f"{strerror(-fd)}{why}")
    return fd


def attach_program(cgroup_dir: str, prog: bytes) -> None:
    """Load PROG and attach it to CGROUP_DIR, then detach every other device
    program there: the new filter is in place before the old ones go, so the
    cgroup is never without one (in between, both must allow)."""
    from .._native import lib  # deferred: cffi, only for bpf(2)
    fd = _open_dir(cgroup_dir)
    try:
        old = _query(fd, cgroup_dir)
        prog_fd = _load(prog, cgroup_dir)
        try:
            rc = lib.pyrunc_bpf_dev_attach(fd, prog_fd)
        finally:
            os.close(prog_fd)  # the attachment holds its own reference
        if rc < 0:
            raise PyruncError(f"cannot attach the device program to cgroup {cgroup_dir}: "
                              f"{strerror(-rc)}")
        for prog_id in old:
            rc = lib.pyrunc_bpf_dev_detach_id(fd, prog_id)
            # ENOENT: already gone. EPERM/EACCES: an LSM hides it from us; a
            # program left attached can only deny more, never allow more.
            if rc < 0 and -rc not in (errno.ENOENT, errno.EPERM, errno.EACCES):
                raise PyruncError(f"cannot detach the old device program {prog_id} from "
                                  f"cgroup {cgroup_dir}: {strerror(-rc)}")
    finally:
        os.close(fd)
