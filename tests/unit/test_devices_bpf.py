"""The cgroup v2 device program, checked without root: a small eBPF interpreter
runs program(rules) and its verdicts are compared with a model of the cgroup v1
devices controller fed with the v1 path's own writes (v1_resources.device_writes).

The interpreter hard-codes the opcode numbers from linux/bpf.h and
bpf_common.h, so it also checks the constants the generator takes from the
headers into runtime._consts at build time.
"""
import random
import struct
import sys

import pytest

from runtime.cgroups.devices_bpf import attach_program, emulate, program
from runtime.cgroups.v1_resources import device_writes
from runtime.errors import ConfigError, PyruncError

BLOCK, CHAR = 1, 2            # BPF_DEVCG_DEV_*
MKNOD, READ, WRITE = 1, 2, 4  # BPF_DEVCG_ACC_*
ACCESS_BITS = {"m": MKNOD, "r": READ, "w": WRITE}
U64 = 2**64 - 1


# -- the interpreter: only what a cgroup device program needs --

class BadProgram(Exception):
    pass


def decode(prog: bytes) -> list[tuple[int, int, int, int, int]]:
    assert prog and len(prog) % 8 == 0, len(prog)
    out = []
    for i in range(0, len(prog), 8):
        code, regs, off, imm = struct.unpack("=BBhi", prog[i:i + 8])
        dst, src = (regs & 0xF, regs >> 4) if sys.byteorder == "little" else (regs >> 4, regs & 0xF)
        out.append((code, dst, src, off, imm))
    return out


CTX = object()  # r1 at entry: the context pointer, not a number


def run(insns, access_type: int, major: int, minor: int) -> int:
    ctx = struct.pack("=III", access_type, major, minor)
    regs = {1: CTX}

    def get(r):
        if r not in regs or regs[r] is CTX:
            raise BadProgram(f"r{r} read before it holds a number")
        return regs[r]

    pc = 0
    while True:
        if not 0 <= pc < len(insns):
            raise BadProgram(f"pc {pc} outside the program")
        code, dst, src, off, imm = insns[pc]
        cls, op, source = code & 0x07, code & 0xF0, code & 0x08
        pc += 1
        if code == 0x61:  # BPF_LDX | BPF_MEM | BPF_W
            if regs.get(src) is not CTX or off not in (0, 4, 8):
                raise BadProgram(f"bad load r{dst} = *(u32 *)(r{src} + {off})")
            regs[dst] = struct.unpack_from("=I", ctx, off)[0]
        elif cls in (0x04, 0x07):  # BPF_ALU (32-bit, zero-extends), BPF_ALU64
            mask = 0xFFFFFFFF if cls == 0x04 else U64
            value = get(src) if source else imm & U64  # K: sign-extended s32
            if op == 0xB0:
                result = value
            elif op == 0x50:
                result = get(dst) & value
            elif op == 0x70:
                result = (get(dst) & mask) >> (value & (31 if cls == 0x04 else 63))
            else:
                raise BadProgram(f"ALU op {op:#x}")
            regs[dst] = result & mask
        elif cls == 0x05:  # BPF_JMP: 64-bit compares, K sign-extended
            if op == 0x90:  # BPF_EXIT
                r0 = get(0)
                if r0 not in (0, 1):
                    raise BadProgram(f"returns {r0}")
                return r0
            if op == 0x00:
                taken = True
            else:
                a, b = get(dst), get(src) if source else imm & U64
                if op == 0x10:
                    taken = a == b
                elif op == 0x50:
                    taken = a != b
                else:
                    raise BadProgram(f"JMP op {op:#x}")
            if off < 0:
                raise BadProgram("backward jump")
            if taken:
                pc += off
        else:
            raise BadProgram(f"opcode {code:#x}")


def decide(prog: bytes, kind: str, major: int, minor: int, access: str) -> bool:
    bits = sum(ACCESS_BITS[c] for c in access)
    dev = CHAR if kind == "c" else BLOCK
    return run(decode(prog), bits << 16 | dev, major, minor) == 1


# -- the model: the v1 devices controller (security/device_cgroup.c) --

class Refused(Exception):
    """runc refuses a rule that v1 would silently ignore."""


class V1Devices:
    def __init__(self):
        self.allow_default = True
        self.exceptions = []  # [kind, major, minor, access bits]; None is *

    def write(self, name: str, line: str) -> None:
        allow = name == "devices.allow"
        if line == "a":
            self.allow_default, self.exceptions = allow, []
            return
        kind, numbers, letters = line.split()
        major, minor = (None if n == "*" else int(n) for n in numbers.split(":"))
        bits = sum(ACCESS_BITS[c] for c in letters)
        if allow != self.allow_default:  # dev_exception_add: merge into an equal one
            for ex in self.exceptions:
                if ex[:3] == [kind, major, minor]:
                    ex[3] |= bits
                    return
            self.exceptions.append([kind, major, minor, bits])
            return
        # dev_exception_rm: only the exactly equal exception loses the bits.
        for ex in self.exceptions:
            covers = (ex[0] == kind and ex[1] in (None, major) and ex[2] in (None, minor)
                      and ex[:3] != [kind, major, minor])
            if covers and ex[3] & bits:
                raise Refused(line)
        for ex in self.exceptions:
            if ex[:3] == [kind, major, minor]:
                ex[3] &= ~bits
        self.exceptions = [ex for ex in self.exceptions if ex[3]]

    def allows(self, kind: str, major: int, minor: int, access: str) -> bool:
        bits = sum(ACCESS_BITS[c] for c in access)
        hits = [ex for ex in self.exceptions
                if ex[0] == kind and ex[1] in (None, major) and ex[2] in (None, minor)]
        if self.allow_default:  # match_exception_partial: any shared bit denies
            return not any(ex[3] & bits for ex in hits)
        return any(not bits & ~ex[3] for ex in hits)  # match_exception: all bits in one


def model(rules):
    cg = V1Devices()
    for _, name, line, _ in device_writes(list(rules or [])):
        cg.write(name, line)
    return cg


# -- queries --

ACCESSES = ["", "m", "r", "w", "rw", "rm", "wm", "rwm"]


def check_all(rules, devices):
    prog = program(rules)
    cg = model(rules)
    for kind, major, minor in devices:
        for access in ACCESSES:
            want = cg.allows(kind, major, minor, access)
            got = decide(prog, kind, major, minor, access)
            assert got == want, (rules, kind, major, minor, access, want)


def rule(allow, kind=None, major=None, minor=None, access=None):
    r = {"allow": allow}
    for key, value in (("type", kind), ("major", major), ("minor", minor), ("access", access)):
        if value is not None:
            r[key] = value
    return r


SOME_DEVICES = [("c", 1, 3), ("c", 1, 5), ("c", 1, 11), ("c", 1, 1), ("c", 5, 2), ("c", 136, 7),
                ("c", 10, 200), ("c", 10, 229), ("b", 8, 0), ("b", 7, 0), ("b", 1, 3)]


# -- the decisions --

def test_no_rules_denies_all_but_the_defaults():
    prog = program(None)
    assert prog == program([])
    assert decide(prog, "c", 1, 3, "rw")        # /dev/null
    assert decide(prog, "c", 5, 2, "rw")        # /dev/ptmx
    assert decide(prog, "c", 136, 42, "rw")     # a pts
    assert not decide(prog, "c", 1, 11, "r")    # /dev/kmsg
    assert not decide(prog, "b", 8, 0, "r")
    assert decide(prog, "c", 1, 11, "m")        # mknod of anything: c *:* m
    assert decide(prog, "b", 8, 0, "m")
    assert not decide(prog, "b", 8, 0, "rm")
    check_all(None, SOME_DEVICES)


def test_allow_all_first():
    prog = program([rule(True, access="rwm")])
    assert emulate([rule(True)]) == (True, {})
    for kind, major, minor in SOME_DEVICES:
        assert decide(prog, kind, major, minor, "rwm")
    check_all([rule(True)], SOME_DEVICES)


def test_a_rule_in_the_middle_resets():
    rules = [rule(True, "c", 10, 200), rule(False, "a"), rule(True, "c", 10, 229, "rw")]
    prog = program(rules)
    assert not decide(prog, "c", 10, 200, "r")
    assert decide(prog, "c", 10, 229, "rw")
    assert decide(prog, "c", 10, 229, "m")      # from c *:* m
    check_all(rules, SOME_DEVICES)
    # An allow "a" in the middle makes everything allowed but what follows denies.
    rules = [rule(False, "a"), rule(True, "a"), rule(False, "c", 1, 11)]
    prog = program(rules)
    assert not decide(prog, "c", 1, 11, "r")
    assert not decide(prog, "c", 1, 11, "m")
    assert decide(prog, "c", 1, 12, "rw")
    assert decide(prog, "b", 8, 0, "rwm")
    check_all(rules, SOME_DEVICES)


def test_a_with_numbers_still_resets_as_v1_does():
    rules = [rule(True, "a", 1, 11, "r")]
    assert emulate(rules) == (True, {})
    check_all(rules, SOME_DEVICES)


def test_access_subsets():
    rules = [rule(True, "c", 10, 200, "r")]
    prog = program(rules)
    assert decide(prog, "c", 10, 200, "r")
    assert not decide(prog, "c", 10, 200, "w")
    assert not decide(prog, "c", 10, 200, "rw")  # O_RDWR needs both in one rule
    assert decide(prog, "c", 10, 200, "m")
    check_all(rules, SOME_DEVICES)
    # Same device twice: v1 merges the access of equal rules.
    rules = [rule(True, "c", 10, 200, "r"), rule(True, "c", 10, 200, "w")]
    assert decide(program(rules), "c", 10, 200, "rw")
    check_all(rules, SOME_DEVICES)
    # Different keys do not add up: c 10:* w and c 10:200 r do not give rw.
    rules = [rule(True, "c", 10, None, "w"), rule(True, "c", 10, 200, "r")]
    assert not decide(program(rules), "c", 10, 200, "rw")
    check_all(rules, SOME_DEVICES)


def test_deny_list_denies_any_shared_access():
    rules = [rule(True), rule(False, "c", 10, 200, "w")]
    prog = program(rules)
    assert decide(prog, "c", 10, 200, "r")
    assert not decide(prog, "c", 10, 200, "w")
    assert not decide(prog, "c", 10, 200, "rw")  # v1's partial match: runc's program allows it
    assert decide(prog, "c", 10, 201, "rw")
    check_all(rules, SOME_DEVICES)


def test_deny_removes_an_equal_allow():
    rules = [rule(True, "c", 10, 200, "rwm"), rule(False, "c", 10, 200, "w")]
    prog = program(rules)
    assert decide(prog, "c", 10, 200, "r")
    assert not decide(prog, "c", 10, 200, "w")
    check_all(rules, SOME_DEVICES)


def test_wildcards():
    rules = [rule(True, "c", 10, -1, "r"), rule(True, "b", None, 0, "rw")]
    prog = program(rules)
    assert decide(prog, "c", 10, 1, "r")
    assert not decide(prog, "c", 11, 1, "r")
    assert decide(prog, "b", 8, 0, "rw")
    assert decide(prog, "b", 7, 0, "r")
    assert not decide(prog, "b", 7, 1, "r")
    assert not decide(prog, "c", 8, 0, "r")      # the type still counts
    check_all(rules, SOME_DEVICES + [("c", 10, 1), ("b", 9, 0)])


def test_numbers_above_2_31():
    big, top = 2**31 + 7, 2**32 - 1
    rules = [rule(True, "c", big, top, "r"), rule(True, "b", top, big, "r")]
    prog = program(rules)
    assert decide(prog, "c", big, top, "r")
    assert not decide(prog, "c", big, top - 1, "r")
    assert decide(prog, "b", top, big, "r")
    assert not decide(prog, "b", big, big, "r")
    check_all(rules, [("c", big, top), ("b", top, big), ("c", top, big)])


def test_punching_a_hole_in_a_wildcard_is_refused():
    rules = [rule(True, "c", 10, None, "rwm"), rule(False, "c", 10, 200, "r")]
    with pytest.raises(ConfigError) as e:
        program(rules)
    assert str(e.value) == ("config.json: /linux/resources/devices/1: deny c 10:200 r cannot "
                            "punch a hole in the wildcard rule c 10:* rwm (cgroup v1 would "
                            "ignore it)")
    with pytest.raises(Refused):
        model(rules)
    # No shared access: nothing is ignored, so nothing is refused.
    check_all([rule(True, "c", 10, None, "rw"), rule(False, "c", 10, 200, "m")], SOME_DEVICES)


@pytest.mark.parametrize("bad, pointer", [
    (rule(True, "c", -2, 1), "/linux/resources/devices/0/major"),
    (rule(True, "c", 1, 2**32), "/linux/resources/devices/0/minor"),
    (rule(True, "c", 1, 1, "xa"), "/linux/resources/devices/0/access"),
    (rule(True, "p", 1, 1), "/linux/resources/devices/0/type"),
])
def test_bad_rules_name_the_field(bad, pointer):
    with pytest.raises(ConfigError) as e:
        program([bad])
    assert e.value.pointer == pointer
    assert "\n" not in str(e.value)


def test_other_letters_are_left_out_with_a_warning(capsys):
    """runc ignores letters other than r, w, m (its own tests send "rwa")."""
    assert program([rule(False, "c", 1, 11, "rwa")]) == program([rule(False, "c", 1, 11, "rw")])
    assert "/linux/resources/devices/0/access: 'rwa': only 'rw' taken" in capsys.readouterr().err


def test_empty_access_is_rwm_as_on_v1():
    assert program([rule(True, "c", 10, 200, "")]) == program([rule(True, "c", 10, 200)])
    assert decide(program([rule(True, "c", 10, 200, "")]), "c", 10, 200, "rwm")


# -- the randomized differential test --

def random_rule(rng):
    r = {"allow": rng.random() < 0.5}
    if rng.random() < 0.12:
        if rng.random() < 0.7:
            r["type"] = "a"
        return r
    r["type"] = rng.choice("cb")
    for key, values in (("major", [1, 5, 10, 136, 2**31 + 7]), ("minor", [0, 3, 5, 11, 2**32 - 1])):
        roll = rng.random()
        if roll < 0.3:
            r[key] = -1 if roll < 0.15 else None
        elif roll < 0.4:
            pass  # absent
        else:
            r[key] = rng.choice(values)
    if rng.random() < 0.9:
        letters = [c for c in "rwm" if rng.random() < 0.5] or [rng.choice("rwm")]
        rng.shuffle(letters)
        r["access"] = "".join(letters)
    return {k: v for k, v in r.items() if v is not None}


RANDOM_DEVICES = [(kind, major, minor) for kind in "cb" for major in (1, 5, 10, 136, 2**31 + 7, 7)
                  for minor in (0, 3, 5, 11, 2**32 - 1)]


def test_random_rule_lists_match_the_v1_model():
    rng = random.Random(20240611)
    compared = refused = 0
    for _ in range(300):
        rules = [random_rule(rng) for _ in range(rng.randrange(0, 9))]
        try:
            cg = model(rules)
        except Refused:
            with pytest.raises(ConfigError, match="cannot punch a hole"):
                program(rules)
            refused += 1
            continue
        insns = decode(program(rules))
        for kind, major, minor in RANDOM_DEVICES:
            dev = CHAR if kind == "c" else BLOCK
            for bits in range(8):
                access = "".join(c for c, b in ACCESS_BITS.items() if bits & b)
                want = cg.allows(kind, major, minor, access)
                assert run(insns, bits << 16 | dev, major, minor) == want, \
                    (rules, kind, major, minor, access, want)
        compared += 1
    assert compared > 150 and refused > 10, (compared, refused)  # both paths exercised


# -- the attach API without root --

def test_attach_to_a_missing_dir_is_one_line():
    with pytest.raises(PyruncError) as e:
        attach_program("/nonexistent/ocitest-cgroup", program(None))
    assert str(e.value) == ("device program: cannot open cgroup /nonexistent/ocitest-cgroup: "
                            "no such file or directory")
