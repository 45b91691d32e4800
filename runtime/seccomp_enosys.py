"""The -ENOSYS stub runc puts in front of a profile's filter.

A profile lists the system calls of its day. A newer one (clone3, close_range,
faccessat2 on an older profile) would get the profile's default action, EPERM
or a kill, and libc would not fall back to the older call it knows, as it does
on ENOSYS. So, as runc 1.1 does, a call numbered above the highest the
profile names for its architecture returns ENOSYS: "this kernel has no such
call". Only where the default refuses (not ALLOW, LOG or TRACE) and only for
the architectures the profile lists, as runc.

The stub is classic BPF prepended to libseccomp's program; every jump is
forward, to the ENOSYS return or to the first instruction of that program.
"""
import struct

from . import log

# linux/filter.h, linux/seccomp.h
LD_W_ABS, JEQ_K, JGT_K, JSET_K, JA, RET_K = 0x20, 0x15, 0x25, 0x45, 0x05, 0x06
NR_OFFSET, ARCH_OFFSET = 0, 4  # struct seccomp_data
RET_ERRNO, ENOSYS = 0x00050000, 38
X32_SYSCALL_BIT = 0x40000000
AUDIT_ARCH_X86_64 = 0xC000003E
PERMISSIVE = ("SCMP_ACT_ALLOW", "SCMP_ACT_LOG", "SCMP_ACT_TRACE")


def wanted(profile: dict) -> bool:
    if profile["defaultAction"] in PERMISSIVE:
        return False
    # An ENOSYS default says it already.
    return not (profile["defaultAction"] == "SCMP_ACT_ERRNO"
                and profile.get("defaultErrnoRet") == ENOSYS)


def last_calls(profile: dict, lib, resolve) -> dict[int, dict[str, int]]:
    """{native audit arch: {"x32" or "native": highest call number named}}.
    resolve(names, arch token): their numbers (seccomp_compile.resolve_names)."""
    names = sorted({n for rule in profile.get("syscalls") or [] for n in rule["names"]})
    found: dict[int, dict[str, int]] = {}
    for arch in profile.get("architectures") or []:
        token = lib.seccomp_arch_resolve_name(arch[len("SCMP_ARCH_"):].lower().encode())
        if token == 0:
            continue  # the compiler refuses it, naming the pointer
        x32 = arch == "SCMP_ARCH_X32"
        native = AUDIT_ARCH_X86_64 if x32 else token
        numbers = resolve(names, token)
        numbers = [n & 0xFFFFFFFF for n in numbers if n >= 0]  # negative: none, or a multiplexer
        if not numbers:
            log.debug(f"seccomp: no system call of {arch} named: no -ENOSYS stub for it")
            continue
        found.setdefault(native, {})["x32" if x32 else "native"] = max(numbers)
    return found


def stub(last: dict[int, dict[str, int]]) -> bytes:
    """The stub's instructions, ending where the original program begins."""
    code = [(LD_W_ABS, "", "", ARCH_OFFSET)]
    blocks = []
    for i, (arch, lasts) in enumerate(sorted(last.items())):
        code.append((JEQ_K, f"arch{i}", "", arch))
        blocks.append((f"arch{i}", arch, lasts))
    code.append((JA, "", "", "filter"))
    labels = {}
    for label, arch, lasts in blocks:
        labels[label] = len(code)
        code.append((LD_W_ABS, "", "", NR_OFFSET))
        if arch == AUDIT_ARCH_X86_64:
            # One audit arch, two ABIs: x32 calls carry bit 30 in their number.
            if "native" in lasts and "x32" in lasts:
                code.append((JSET_K, f"{label}x32", "", X32_SYSCALL_BIT))
            elif "native" in lasts:
                code.append((JSET_K, "filter", "", X32_SYSCALL_BIT))
            else:
                code.append((JSET_K, "", "filter", X32_SYSCALL_BIT))
        if "native" in lasts:
            code.append((JGT_K, "enosys", "filter", lasts["native"]))
        if "x32" in lasts:
            labels[f"{label}x32"] = len(code)
            code.append((JGT_K, "enosys", "filter", lasts["x32"]))
    labels["enosys"] = len(code)
    code.append((RET_K, "", "", RET_ERRNO | ENOSYS))
    labels["filter"] = len(code)
    out = []
    for at, (op, jt, jf, k) in enumerate(code):
        rel = lambda target: labels[target] - at - 1 if target else 0  # noqa: E731
        if op == JA:
            out.append(struct.pack("=HBBI", op, 0, 0, rel(k)))
        else:
            out.append(struct.pack("=HBBI", op, rel(jt), rel(jf), k))
    return b"".join(out)


def patch(profile: dict, program: bytes, lib, resolve) -> bytes:
    """program with the stub in front, where the profile wants one."""
    if not wanted(profile):
        return program
    last = last_calls(profile, lib, resolve)
    return (stub(last) + program) if last else program
