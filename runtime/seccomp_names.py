"""The OCI seccomp profile's vocabulary (config-linux.md "Seccomp"): actions
and their kernel values, load flags, architectures, operators. Needs no
libseccomp: the checks (seccomp.py), the compiler (seccomp_compile.py) and
the features document share it."""
from .errors import ConfigError

POINTER = "/linux/seccomp"

# Kernel SECCOMP_RET_* values (libseccomp's SCMP_ACT_* are the same numbers);
# ERRNO and TRACE carry a 16-bit value in the low bits.
ACTIONS = {
    "SCMP_ACT_KILL": 0x00000000,
    "SCMP_ACT_KILL_THREAD": 0x00000000,
    "SCMP_ACT_KILL_PROCESS": 0x80000000,
    "SCMP_ACT_TRAP": 0x00030000,
    "SCMP_ACT_ERRNO": 0x00050000,
    "SCMP_ACT_TRACE": 0x7FF00000,
    "SCMP_ACT_LOG": 0x7FFC0000,
    "SCMP_ACT_ALLOW": 0x7FFF0000,
    "SCMP_ACT_NOTIFY": 0x7FC00000,
}
WITH_ERRNO = ("SCMP_ACT_ERRNO", "SCMP_ACT_TRACE")
# The init calls these after a notify filter is on: sendmsg hands the notify fd
# over (before any agent has it), write opens the exec fifo's gate (runc
# refuses write, its own sync call, too).
NOT_NOTIFIABLE = ("sendmsg", "write")
EPERM = 1

# include/uapi/linux/seccomp.h
FLAGS = {
    "SECCOMP_FILTER_FLAG_TSYNC": 1 << 0,
    "SECCOMP_FILTER_FLAG_LOG": 1 << 1,
    "SECCOMP_FILTER_FLAG_SPEC_ALLOW": 1 << 2,
    "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV": 1 << 5,
}
FLAG_NEW_LISTENER = 1 << 3
FLAG_TSYNC_ESRCH = 1 << 4

# config-linux.md "Seccomp": the architectures a profile may name (which of
# them libseccomp knows: seccomp_compile.architectures).
ARCHS = ("SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32", "SCMP_ARCH_ARM", "SCMP_ARCH_AARCH64",
         "SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64", "SCMP_ARCH_MIPS64N32", "SCMP_ARCH_MIPSEL",
         "SCMP_ARCH_MIPSEL64", "SCMP_ARCH_MIPSEL64N32", "SCMP_ARCH_PPC", "SCMP_ARCH_PPC64",
         "SCMP_ARCH_PPC64LE", "SCMP_ARCH_S390", "SCMP_ARCH_S390X", "SCMP_ARCH_PARISC",
         "SCMP_ARCH_PARISC64", "SCMP_ARCH_RISCV64", "SCMP_ARCH_LOONGARCH64", "SCMP_ARCH_M68K",
         "SCMP_ARCH_SH", "SCMP_ARCH_SHEB")
OPERATORS = ("SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ", "SCMP_CMP_GE",
             "SCMP_CMP_GT", "SCMP_CMP_MASKED_EQ")


def action_value(name: str, errno_ret: int | None, pointer: str) -> int:
    if name in WITH_ERRNO:
        return ACTIONS[name] | ((EPERM if errno_ret is None else errno_ret) & 0xFFFF)
    if errno_ret is not None:
        raise ConfigError(pointer, f"{name} takes no errno value "
                                   f"(only {' and '.join(WITH_ERRNO)} do)")
    return ACTIONS[name]
