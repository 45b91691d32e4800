"""linux.resources onto a container's cgroups, at create and by `update`.

On a cgroup v2 host everything goes to the unified directory. On a hybrid host
the v1 controllers take what they have, and the unified hierarchy takes the
rest it can (hugetlb on this project's CI host) and `unified` key/values.
"""
import os

from ..errors import ConfigError, PyruncError, strerror
from . import v1_resources, v2_resources
from .unset import drop_unset
from .v2_tree import available, check_type, enable_controllers, hierarchy_root

# Sections the unified hierarchy takes on a hybrid host when v1 lacks them.
V2_FALLBACK = {"hugepageLimits": "hugetlb", "rdma": "rdma"}


def apply(dirs: dict, resources: dict | None, creating: bool, devices: bool = True) -> None:
    """devices=False: no default device rules at create (rootless)."""
    resources = drop_unset(resources)  # Go clients' zero values, as runc reads them
    unified = dirs.get("unified")
    if creating and devices and "devices" not in resources and _has_devices_control(dirs):
        # As runc: no rules still means deny all but the always-allowed devices.
        resources = {**resources, "devices": []}
    v2_only = unified is not None and len(dirs) == 1
    v1_part, v2_part = _split(dirs, resources, v2_only)
    if unified is not None and (v2_part or creating):
        needed = v2_resources.controllers(v2_part)
        # A v2 host gets every controller (stats need them; systemd and runc do
        # the same); a hybrid host only what this container asks of cgroup2.
        wanted = available(hierarchy_root(unified)) if v2_only else set(needed)
        if creating:
            check_type(unified, needed)
        enable_controllers(unified, wanted, needed)
    if not creating:
        check_before_update(dirs, resources)
    if v1_part:
        v1_resources.apply(dirs, v1_part)
    if v2_part:
        _apply_v2(unified, v2_part)


def _has_devices_control(dirs: dict) -> bool:
    return v1_resources.dir_for(dirs, "devices") is not None or list(dirs) == ["unified"]


def _split(dirs: dict, resources: dict, v2_only: bool) -> tuple[dict, dict]:
    if v2_only:
        return {}, dict(resources)
    v1_part, v2_part = dict(resources), {}
    if "unified" in dirs:
        for section, controller in V2_FALLBACK.items():
            if section in v1_part and v1_resources.dir_for(dirs, controller) is None:
                v2_part[section] = v1_part.pop(section)
        if "unified" in v1_part:
            v2_part["unified"] = v1_part.pop("unified")
    return v1_part, v2_part


def _apply_v2(directory: str, resources: dict) -> None:
    def read(name):
        try:
            with open(os.path.join(directory, name)) as f:
                return f.read()
        except OSError:
            return None

    for name, value, pointer in v2_resources.writes(resources, read):
        path = os.path.join(directory, name)
        if not os.path.exists(path):
            raise ConfigError(pointer, f"{name} does not exist in {directory} (the kernel "
                                       f"does not offer it)")
        # One write per line: multi-line values (io.max, rdma.max) are parsed
        # a line at a time by the kernel.
        for line in [part for part in value.split("\n") if part] or [value]:
            try:
                with open(path, "w") as f:
                    f.write(line)
            except OSError as e:
                raise ConfigError(pointer, f"write {line!r} to {path}: "
                                           f"{strerror(e.errno)}") from None
    if resources.get("devices") is not None:
        from .devices_bpf import attach_program, program
        attach_program(directory, program(resources["devices"]))


def check_before_update(dirs: dict, resources: dict) -> None:
    """memory.checkBeforeUpdate: refuse a limit below what the container uses
    (v1's kernel refuses it anyway; v2's would OOM-kill instead)."""
    mem = resources.get("memory") or {}
    limit = mem.get("limit") or 0
    if not mem.get("checkBeforeUpdate") or limit <= 0:
        return
    memory_v1 = v1_resources.dir_for(dirs, "memory")
    path = (os.path.join(memory_v1, "memory.usage_in_bytes") if memory_v1
            else os.path.join(dirs.get("unified", ""), "memory.current"))
    try:
        with open(path) as f:
            usage = int(f.read())
    except (OSError, ValueError) as e:
        raise PyruncError(f"read {path}: {strerror(e) if isinstance(e, OSError) else e}") from None
    if limit < usage:
        raise PyruncError(f"rejecting memory limit {limit} below the current usage {usage} "
                          f"(memory.checkBeforeUpdate)")
