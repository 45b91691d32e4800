"""`update`: the LinuxResources a live container should get, from --resources
(a file or stdin) and runc's flags (which win)."""
import json
import re
import sys

from .errors import PyruncError, strerror

_SIZE = re.compile(r"(-?\d+)\s*([kmgt]?)i?b?", re.I)
_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}

# runc update's flags: (flag, LinuxResources section and key, how its value
# reads, help). Sizes take k/m/g/t suffixes (powers of 1024).
FLAGS = (
    ("--memory", "memory", "limit", "size", "memory limit (bytes, or 64m, 1g; -1: none)"),
    ("--memory-swap", "memory", "swap", "size", "memory+swap limit"),
    ("--memory-reservation", "memory", "reservation", "size", "memory soft limit"),
    ("--kernel-memory", "memory", "kernel", "size", "kernel memory limit"),
    ("--kernel-memory-tcp", "memory", "kernelTCP", "size", "kernel TCP buffer limit"),
    ("--cpu-shares", "cpu", "shares", "int", "CPU shares (relative weight)"),
    ("--cpu-period", "cpu", "period", "int", "CPU CFS period (us)"),
    ("--cpu-quota", "cpu", "quota", "int", "CPU CFS quota (us; -1: none)"),
    ("--cpu-rt-period", "cpu", "realtimePeriod", "int", "CPU realtime period (us)"),
    ("--cpu-rt-runtime", "cpu", "realtimeRuntime", "int", "CPU realtime runtime (us)"),
    ("--cpuset-cpus", "cpu", "cpus", "str", "CPUs to use (0-3,5)"),
    ("--cpuset-mems", "cpu", "mems", "str", "memory nodes to use"),
    ("--pids-limit", "pids", "limit", "int", "maximum number of processes (-1: none)"),
    ("--blkio-weight", "blockIO", "weight", "int", "block IO weight (10-1000)"),
)


def parse_size(text: str, flag: str) -> int:
    m = _SIZE.fullmatch(text.strip())
    if not m or len(m.group(1)) > 20:
        raise PyruncError(f"--{flag.replace('_', '-')} {text!r}: expected bytes, or a number with k, m, g or t")
    return int(m.group(1)) * _UNITS[m.group(2).lower()]


def resources_from_args(args) -> dict:
    resources = _read_resources(args.resources) if args.resources else {}
    for flag, section, key, kind, _help in FLAGS:
        attr = flag[2:].replace("-", "_")
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
        raise PyruncError(f"--resources {source}: {strerror(e.errno)}") from None
    except (ValueError, UnicodeDecodeError) as e:
        raise PyruncError(f"--resources {name}: invalid JSON ({e})") from None
    if not isinstance(resources, dict):
        raise PyruncError(f"--resources {name}: expected a JSON object")
    return resources


def check_resources(resources: dict, source: str) -> None:
    """The schema's cgroupResources definition, with pointers into the file."""
    from .spec import check_schema
    check_schema(resources, file="stdin" if source == "-" else source,
                 definition="cgroupResources")
