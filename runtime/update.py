"""`update`: the LinuxResources a live container should get, from --resources
(a file or stdin) and runc's flags (which win)."""
import json
import os
import re
import sys

from .errors import ConfigError, PyruncError

_SIZE = re.compile(r"(-?\d+)\s*([kmgt]?)i?b?", re.I)
_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}

# flag attribute → (section, key, parse)
FLAG_FIELDS = {
    "memory": ("memory", "limit", "size"), "memory_swap": ("memory", "swap", "size"),
    "memory_reservation": ("memory", "reservation", "size"),
    "kernel_memory": ("memory", "kernel", "size"), "kernel_memory_tcp": ("memory", "kernelTCP", "size"),
    "cpu_shares": ("cpu", "shares", "int"), "cpu_period": ("cpu", "period", "int"),
    "cpu_quota": ("cpu", "quota", "int"), "cpu_rt_period": ("cpu", "realtimePeriod", "int"),
    "cpu_rt_runtime": ("cpu", "realtimeRuntime", "int"), "cpuset_cpus": ("cpu", "cpus", "str"),
    "cpuset_mems": ("cpu", "mems", "str"), "pids_limit": ("pids", "limit", "int"),
    "blkio_weight": ("blockIO", "weight", "int"),
}


def parse_size(text: str, flag: str) -> int:
    m = _SIZE.fullmatch(text.strip())
    if not m or len(m.group(1)) > 20:
        raise PyruncError(f"--{flag.replace('_', '-')} {text!r}: expected bytes, or a number with k, m, g or t")
    return int(m.group(1)) * _UNITS[m.group(2).lower()]


def resources_from_args(args) -> dict:
    resources = _read_resources(args.resources) if args.resources else {}
    for attr, (section, key, kind) in FLAG_FIELDS.items():
        text = getattr(args, attr)
        if text is None:
            continue
        if kind == "size":
            value = parse_size(text, attr)
        elif kind == "int":
            if not re.fullmatch(r"-?\d{1,19}", text.strip()):
                raise PyruncError(f"--{attr.replace('_', '-')} {text!r}: expected an integer")
            value = int(text)
        else:
            value = text
        resources.setdefault(section, {})[key] = value
    if not resources:
        raise PyruncError("update: nothing to change: give --resources FILE or a limit flag")
    check_resources(resources, args.resources or "flags")
    return resources


def _read_resources(source: str) -> dict:
    name = "stdin" if source == "-" else source
    try:
        data = sys.stdin.buffer.read() if source == "-" else open(source, "rb").read()
        resources = json.loads(data)
    except OSError as e:
        raise PyruncError(f"--resources {source}: {os.strerror(e.errno).lower()}") from None
    except (ValueError, UnicodeDecodeError) as e:
        raise PyruncError(f"--resources {name}: invalid JSON ({e})") from None
    if not isinstance(resources, dict):
        raise PyruncError(f"--resources {name}: expected a JSON object")
    return resources


def check_resources(resources: dict, source: str) -> None:
    """The schema's cgroupResources definition, with pointers into the file."""
    import jsonschema

    from .spec import SCHEMA_DIR, _describe, _pointer, validator_class

    with open(os.path.join(SCHEMA_DIR, "config-schema.json")) as f:
        schema = json.load(f)
    sub = {"$ref": "#/$defs/cgroupResources", "$defs": schema["$defs"]}
    error = jsonschema.exceptions.best_match(validator_class()(sub).iter_errors(resources))
    if error is not None:
        raise ConfigError(_pointer(error.absolute_path), _describe(error),
                          file="stdin" if source == "-" else source)
