"""Which systemd unit a container gets with --systemd-cgroup, and where its
cgroup is: runc's reading of linux.cgroupsPath as "slice:prefix:name".

    "machine.slice:libpod:abc"  → libpod-abc.scope in machine.slice
    ":cri-containerd:abc"       → cri-containerd-abc.scope in system.slice
    "a-b.slice:x:c.slice"       → the slice c.slice itself, in a.slice/a-b.slice
    "" (no cgroupsPath)         → runc-ID.scope in system.slice (user.slice rootless)

A slice name with dashes names its parents too (systemd.slice(5)):
a-b.slice is a.slice/a-b.slice, and "-.slice" (or "-") is the root slice.
"""
from ..errors import ConfigError

POINTER = "/linux/cgroupsPath"
ROOT_SLICE = "-.slice"
DEFAULT_PREFIX = "runc"  # as runc: tools look for runc-ID.scope


class Unit:
    """slice: the parent slice's name; name: the unit's; cgroup: its cgroup
    path from the cgroup2 root (slice parents expanded)."""
    __slots__ = ("slice", "name", "cgroup")

    def __init__(self, slice_name: str, name: str):
        self.slice, self.name = slice_name, name
        self.cgroup = f"{expand_slice(slice_name)}/{name}".replace("//", "/")

    def __repr__(self) -> str:
        return f"Unit({self.slice!r}, {self.name!r})"


def unit_for(cgroups_path: str | None, container_id: str, rootless: bool) -> Unit:
    if not cgroups_path:
        slice_name, prefix, name = "", DEFAULT_PREFIX, container_id
    else:
        parts = cgroups_path.split(":")
        if len(parts) != 3:
            raise ConfigError(POINTER, f"{cgroups_path!r}: with --systemd-cgroup it must be "
                                       "\"slice:prefix:name\" (e.g. machine.slice:libpod:ID)")
        slice_name, prefix, name = parts
    if not name:
        raise ConfigError(POINTER, f"{cgroups_path!r}: the name (after the second ':') is empty")
    if not slice_name:
        slice_name = "user.slice" if rootless else "system.slice"
    elif slice_name == "-":
        slice_name = ROOT_SLICE
    check_slice(slice_name)
    if name.endswith(".slice"):
        check_slice(name)
        unit = name
    else:
        unit = f"{prefix}-{name}.scope" if prefix else f"{name}.scope"
        _check_unit_chars(unit)
    return Unit(slice_name, unit)


def expand_slice(slice_name: str) -> str:
    """a-b-c.slice → /a.slice/a-b.slice/a-b-c.slice; -.slice → /."""
    check_slice(slice_name)
    if slice_name == ROOT_SLICE:
        return "/"
    stem = slice_name[:-len(".slice")]
    path, prefix = "", ""
    for part in stem.split("-"):
        prefix = f"{prefix}-{part}" if prefix else part
        path += f"/{prefix}.slice"
    return path


def check_slice(slice_name: str) -> None:
    if slice_name == ROOT_SLICE:
        return
    stem = slice_name[:-len(".slice")] if slice_name.endswith(".slice") else None
    if not stem or stem.startswith("-") or stem.endswith("-") or "--" in stem:
        raise ConfigError(POINTER, f"{slice_name!r} is not a valid systemd slice name "
                                   "(NAME.slice, dashes only between parts)")
    _check_unit_chars(slice_name)


def _check_unit_chars(unit: str) -> None:
    """systemd's unit name characters (unit_name_is_valid): letters, digits,
    ":-_.\\"; at most 255 bytes."""
    allowed = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789:-_.\\")
    if len(unit) > 255 or not set(unit) <= allowed:
        raise ConfigError(POINTER, f"{unit!r} is not a valid systemd unit name "
                                   "(letters, digits, ':-_.\\', at most 255 characters)")


def is_unit_name(text) -> bool:
    """A unit name read back from state (cleanup.json): a scope or a slice."""
    if not isinstance(text, str) or not text.endswith((".scope", ".slice")):
        return False
    try:
        _check_unit_chars(text)
    except ConfigError:
        return False
    return True
