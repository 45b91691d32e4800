"""`update`: new limits for a live container's cgroups: the LinuxResources
from --resources (a file or stdin) and runc's flags (which win; their table,
quickargs.UPDATE_FLAGS, is the parsers' too). Errors point into the resources given
(a file, stdin or the flags), not into config.json.

containerd's UpdateContainerResources sends `update --resources - ID`: that
path reads JSON with jsonlite and never imports json, re or argparse
(~15 ms together); `re` is imported only to read a limit flag's value."""
import sys

from ..errors import ConfigError, PyruncError, strerror
from ..spec import check_schema, parse_json
from ..state import ContainerDir
from ..quickargs import UPDATE_FLAGS, flag_field

_SIZE = r"(-?\d+)\s*([kmgt]?)i?b?"
_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


def run(args) -> int:
    update(args.root, args.container_id, resources_from_args(args), args.resources or "flags")
    return 0


def update(root: str, container_id: str, resources: dict, source: str = "flags") -> None:
    with ContainerDir(root, container_id) as cdir:
        st = cdir.load()
        if not cdir.status(st).can_update:
            raise PyruncError("container not running")
        if st.check_before_update and "memory" in resources:
            resources["memory"].setdefault("checkBeforeUpdate", True)
        try:
            st.require_cgroups("update").apply(resources, creating=False)
        except ConfigError as e:
            pointer = e.pointer.removeprefix("/linux/resources")
            raise ConfigError(pointer or "/", e.problem,
                              file="stdin" if source == "-" else source) from None


def _matches(pattern: str, text: str):
    """re.fullmatch, ignoring case: re (~4 ms to import) for a limit flag's value only."""
    import re
    return re.fullmatch(pattern, text.strip(), re.I)


def parse_size(text: str, flag: str) -> int:
    m = _matches(_SIZE, text)
    if not m or len(m.group(1)) > 20:
        raise PyruncError(f"--{flag.replace('_', '-')} {text!r}: expected bytes, or a number with k, m, g or t")
    return int(m.group(1)) * _UNITS[m.group(2).lower()]


def resources_from_args(args) -> dict:
    resources = _read_resources(args.resources) if args.resources else {}
    for flag, section, key, kind, _help in UPDATE_FLAGS:
        attr = flag_field(flag)
        text = getattr(args, attr)
        if text is None:
            continue
        if kind == "size":
            value = parse_size(text, attr)
        elif kind == "int":
            if not _matches(r"-?\d{1,19}", text):
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
        resources = parse_json(data)
    except OSError as e:
        raise PyruncError(f"--resources {source}: {strerror(e.errno)}") from None
    except (ValueError, UnicodeDecodeError) as e:
        raise PyruncError(f"--resources {name}: invalid JSON ({e})") from None
    if not isinstance(resources, dict):
        raise PyruncError(f"--resources {name}: expected a JSON object")
    return resources


def check_resources(resources: dict, source: str) -> None:
    """The schema's cgroupResources definition, with pointers into the file."""
    check_schema(resources, file="stdin" if source == "-" else source,
                 definition="cgroupResources")
