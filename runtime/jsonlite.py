"""JSON for the light commands (state, start, kill, delete, pause, resume, ps,
list), from CPython's C accelerator `_json` alone.

`import json` costs ~8 ms here (it imports re, and re imports enum and
functools): more than such a command's whole budget above the interpreter's
start. Parsing, escaping and the flat layout are the C functions json itself
uses, so the text read and written is json's; only the indented layout
(`state`'s output) is done here, as json does it in Python too.
tests/unit/test_jsonlite.py holds it to json's output and verdicts.
"""
import _json

_escape = _json.encode_basestring_ascii


class _Context:
    """What _json.make_scanner reads off a JSONDecoder: json.loads' defaults."""
    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    memo = None

    @staticmethod
    def parse_constant(name):
        return {"-Infinity": float("-inf"), "Infinity": float("inf"), "NaN": float("nan")}[name]


_scan = _json.make_scanner(_Context())
_SPACE = " \t\n\r"


class JSONError(ValueError):
    """Not JSON (json.JSONDecodeError is a ValueError too)."""


def loads(text: "str | bytes"):
    if isinstance(text, (bytes, bytearray)):
        text = text.decode()
    start = len(text) - len(text.lstrip(_SPACE))
    try:
        value, end = _scan(text, start)
    except StopIteration as e:
        raise JSONError(f"expecting a value at character {e.value}") from None
    except SystemError:
        # The scanner words its errors with json.decoder.JSONDecodeError, which
        # it looks up in sys.modules only: load it (error path) and scan again.
        import json.decoder  # noqa: F401
        value, end = _scan(text, start)
    if text[end:].strip(_SPACE):
        raise JSONError(f"extra data at character {end}")
    return value


def dumps(value, indent: int | None = None, compact: bool = False,
          sort_keys: bool = False) -> str:
    """json.dumps(value) (ensure_ascii); compact: separators=(",", ":");
    sort_keys as json's. Without indent it is json's own C encoder; with
    indent, json.dumps(value, indent=indent) laid out here (json does that
    part in Python too), without sort_keys."""
    if indent is None:
        encode = _json.make_encoder({}, _unserializable, _escape, None,
                                    ":" if compact else ": ", "," if compact else ", ",
                                    sort_keys, False, True)
        return "".join(encode(value, 0))
    if sort_keys:
        raise ValueError("jsonlite: sort_keys needs the compact or flat layout")
    out: list[str] = []
    _indented(value, out, " " * indent, "\n")
    return "".join(out)


def _unserializable(value):
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _scalar(value) -> str | None:
    if isinstance(value, str):
        return _escape(value)
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return int.__repr__(value)
    if isinstance(value, float):
        if value != value:
            return "NaN"
        if value in (float("inf"), float("-inf")):
            return "Infinity" if value > 0 else "-Infinity"
        return float.__repr__(value)
    if isinstance(value, (dict, list, tuple)):
        return None
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _key(key) -> str:
    if isinstance(key, str):
        return _escape(key)
    text = _scalar(key)
    if text is None:
        raise TypeError(f"keys must be str, int, float, bool or None, not {type(key).__name__}")
    return text if text.startswith('"') else _escape(text)


def _indented(value, out: list, step: str, newline: str) -> None:
    text = _scalar(value)
    if text is not None:
        out.append(text)
        return
    items = value.items() if isinstance(value, dict) else value
    if not items:
        out.append("{}" if isinstance(value, dict) else "[]")
        return
    inner = newline + step
    out.append("{" if isinstance(value, dict) else "[")
    for i, item in enumerate(items):
        out.append(inner if not i else "," + inner)
        if isinstance(value, dict):
            out.append(_key(item[0]) + ": ")
            item = item[1]
        _indented(item, out, step, inner)
    out.append(newline + ("}" if isinstance(value, dict) else "]"))
