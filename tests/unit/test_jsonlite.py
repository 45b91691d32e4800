"""runtime/jsonlite.py reads and writes what json does (it is json's own C
scanner and escaper; the layout is its own, so the layout is what is checked)."""
import json
import math
import random
import subprocess
import sys

import pytest

from runtime import jsonlite

SAMPLES = [
    {}, [], "", 0, -1, 2**70, 1.5, -0.0, 1e300, True, False, None, "é\u2028\x00\"\\/",
    {"a": [], "b": {}, "c": [1, [2, [3, {}]]], "d": {"e": None}},
    {"ociVersion": "1.3.0", "id": "x", "status": "running", "pid": 42, "bundle": "/b",
     "annotations": {"k": "v\n"}},
    [{"id": "a"}, {"id": "b", "n": [1.25, "two", False]}],
    {1: "int key", None: "null key", 2.5: "float key"}, {True: "bool key", False: 0},
]


def _random_value(rng, depth=0):
    kind = rng.randrange(8 if depth < 4 else 6)
    if kind == 0:
        return rng.choice([None, True, False])
    if kind == 1:
        return rng.randint(-2**66, 2**66)
    if kind == 2:
        return rng.choice([0.1, -2.5, 1e-7, 3.0, 123456789.125])
    if kind in (3, 4, 5):
        return "".join(chr(rng.choice([rng.randrange(32, 127), rng.randrange(0, 0x3000)]))
                       for _ in range(rng.randrange(6)))
    if kind == 6:
        return [_random_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    return {f"k{i}\u00e9": _random_value(rng, depth + 1) for i in range(rng.randrange(4))}


def _values():
    rng = random.Random(7)
    return SAMPLES + [_random_value(rng) for _ in range(300)]


@pytest.mark.parametrize("indent", [None, 2, 4])
def test_dumps_is_json_dumps(indent):
    for value in _values():
        assert jsonlite.dumps(value, indent=indent) == json.dumps(value, indent=indent)


def test_compact_is_json_compact():
    for value in _values():
        assert jsonlite.dumps(value, compact=True) == json.dumps(value, separators=(",", ":"))


def test_sort_keys_is_json_sort_keys():
    for value in _values():
        try:
            want = json.dumps(value, separators=(",", ":"), sort_keys=True)
        except TypeError:  # keys of types that do not compare (None and 1)
            with pytest.raises(TypeError):
                jsonlite.dumps(value, compact=True, sort_keys=True)
            continue
        assert jsonlite.dumps(value, compact=True, sort_keys=True) == want


def test_non_finite_numbers_as_json_writes_them():
    for value in (math.inf, -math.inf):
        assert jsonlite.dumps([value]) == json.dumps([value])
    assert jsonlite.dumps(math.nan) == "NaN"


def test_loads_is_json_loads():
    for value in _values():
        text = json.dumps(value, indent=1)
        assert jsonlite.loads(text) == json.loads(text)
        assert jsonlite.loads(text.encode()) == json.loads(text)
    assert jsonlite.loads(" \n[1, 2.5, \"x\"]\t") == [1, 2.5, "x"]


@pytest.mark.parametrize("text", ["", "   ", "{", "[1,]", "{} x", "nul", '{"a" 1}', "\xff"])
def test_loads_refuses_what_json_refuses(text):
    with pytest.raises(ValueError):
        json.loads(text)
    with pytest.raises(ValueError):
        jsonlite.loads(text)


def test_errors_without_json_loaded():
    """The C scanner takes its error type from json.decoder, if loaded: the
    light commands never load it, and a bad file must still be a ValueError
    that says where."""
    probe = ("import sys; from runtime import jsonlite\n"
             "assert 'json.decoder' not in sys.modules\n"
             "for text in ('{', '{\"a\" 1}', '[1,'):\n"
             "    try: jsonlite.loads(text)\n"
             "    except ValueError as e: print(type(e).__name__, e)\n")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         cwd="/", timeout=30)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [
        "JSONDecodeError Expecting property name enclosed in double quotes: line 1 column 2 (char 1)",
        "JSONDecodeError Expecting ':' delimiter: line 1 column 6 (char 5)",
        "JSONError expecting a value at character 3"]


def test_unserializable_is_a_type_error():
    with pytest.raises(TypeError):
        jsonlite.dumps({"a": object()})
    with pytest.raises(TypeError):
        jsonlite.dumps({(1, 2): 1})
