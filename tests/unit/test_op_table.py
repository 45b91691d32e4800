"""The one op table (csrc/plan.h PLAN_OPS, generated into runtime/_consts.py):
every op encodes and decodes back to its arguments by its signature, every
op has a case in the C init, and no case there is missing from the table."""
import pathlib
import re
import struct

import pytest

from runtime import _consts, plan
from runtime.plan import Op

INIT_C = pathlib.Path(__file__).resolve().parents[2] / "csrc" / "init.c"
SAMPLE = {"I": 4000000007, "Q": 2**40 + 3, "s": "/a path/ü", "b": b"\x00\x01\xff",
          "L": (1, 2, 4000000000)}


def decode(data: bytes) -> list[Op]:
    """The init's reading of a plan (csrc/init.c get_u32/get_u64/get_str/get_bytes)."""
    (magic,) = struct.unpack_from("<I", data)
    assert magic == _consts.PLAN_MAGIC
    names = {number: name for name, (number, _sig) in _consts.OPS.items()}
    ops, at = [], 4
    while at < len(data):
        number, length = struct.unpack_from("<II", data, at)
        at += 8
        payload, at = data[at:at + length], at + length
        name = names[number]
        args, p = [], 0
        for kind in _consts.OPS[name][1]:
            if kind == "I":
                args.append(struct.unpack_from("<I", payload, p)[0])
                p += 4
            elif kind == "Q":
                args.append(struct.unpack_from("<Q", payload, p)[0])
                p += 8
            elif kind in "sb":
                (n,) = struct.unpack_from("<I", payload, p)
                raw = payload[p + 4:p + 4 + n]
                assert payload[p + 4 + n] == 0  # the NUL the init relies on
                args.append(raw.decode() if kind == "s" else raw)
                p += 4 + n + 1
            elif kind == "L":
                (n,) = struct.unpack_from("<I", payload, p)
                args.append(struct.unpack_from(f"<{n}I", payload, p + 4))
                p += 4 + 4 * n
        assert p == length, name  # nothing left over
        ops.append(Op(name, tuple(args)))
    return ops


@pytest.mark.parametrize("name", sorted(_consts.OPS))
def test_every_op_round_trips(name):
    args = tuple(SAMPLE[kind] for kind in _consts.OPS[name][1])
    ops = [Op(name, args), Op("EXEC")]
    assert decode(plan.encode(ops)) == ops


def test_the_trace_op_goes_first():
    assert decode(plan.encode([Op("EXEC")], trace=True)) == [Op("TRACE"), Op("EXEC")]


def test_numbers_are_unique_and_match_the_constants():
    numbers = [number for number, _sig in _consts.OPS.values()]
    assert len(numbers) == len(set(numbers))
    for name, (number, _sig) in _consts.OPS.items():
        assert getattr(_consts, f"OP_{name}") == number


def test_the_init_has_a_case_for_every_op_and_no_other():
    cases = set(re.findall(r"\bcase OP_(\w+):", INIT_C.read_text()))
    assert cases == set(_consts.OPS)
