"""The -ENOSYS stub in front of a profile's filter, run in a tiny classic-BPF
interpreter: which calls it answers ENOSYS, which it hands to the filter."""
import struct

import pytest

from runtime import seccomp_enosys as enosys

FILTER = "filter"


def run(program: bytes, arch: int, nr: int):
    """ENOSYS, or FILTER when control reaches the end of the stub."""
    insns = [struct.unpack("=HBBI", program[i:i + 8]) for i in range(0, len(program), 8)]
    data = {enosys.NR_OFFSET: nr, enosys.ARCH_OFFSET: arch}
    acc, pc = 0, 0
    while pc < len(insns):
        op, jt, jf, k = insns[pc]
        if op == enosys.LD_W_ABS:
            acc = data[k]
        elif op == enosys.RET_K:
            assert k == enosys.RET_ERRNO | enosys.ENOSYS
            return "ENOSYS"
        elif op == enosys.JA:
            pc += k
        else:
            taken = {enosys.JEQ_K: acc == k, enosys.JGT_K: acc > k,
                     enosys.JSET_K: bool(acc & k)}[op]
            pc += jt if taken else jf
        pc += 1
    assert pc == len(insns)
    return FILTER


X86_64, I386 = enosys.AUDIT_ARCH_X86_64, 0x40000003
X32 = enosys.X32_SYSCALL_BIT


@pytest.mark.parametrize("lasts, arch, nr, want", [
    ({X86_64: {"native": 334}}, X86_64, 334, FILTER),
    ({X86_64: {"native": 334}}, X86_64, 335, "ENOSYS"),
    ({X86_64: {"native": 334}}, X86_64, X32 | 500, FILTER),  # x32 not listed: the filter's
    ({X86_64: {"native": 334, "x32": X32 | 300}}, X86_64, X32 | 301, "ENOSYS"),
    ({X86_64: {"native": 334, "x32": X32 | 300}}, X86_64, X32 | 300, FILTER),
    ({X86_64: {"native": 334, "x32": X32 | 300}}, X86_64, 301, FILTER),
    ({X86_64: {"x32": X32 | 300}}, X86_64, 1000, FILTER),
    ({X86_64: {"native": 334}, I386: {"native": 400}}, I386, 401, "ENOSYS"),
    ({X86_64: {"native": 334}, I386: {"native": 400}}, I386, 399, FILTER),
    ({X86_64: {"native": 334}}, I386, 9999, FILTER),  # an arch not listed: the filter's
])
def test_stub(lasts, arch, nr, want):
    assert run(enosys.stub(lasts), arch, nr) == want


@pytest.mark.parametrize("default, errno_ret, wanted", [
    ("SCMP_ACT_ERRNO", None, True), ("SCMP_ACT_KILL", None, True),
    ("SCMP_ACT_ERRNO", 38, False), ("SCMP_ACT_ALLOW", None, False),
    ("SCMP_ACT_LOG", None, False), ("SCMP_ACT_TRACE", None, False)])
def test_wanted_where_the_default_refuses(default, errno_ret, wanted):
    profile = {"defaultAction": default}
    if errno_ret is not None:
        profile["defaultErrnoRet"] = errno_ret
    assert enosys.wanted(profile) is wanted
