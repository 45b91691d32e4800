"""linux.resources into a cgroup2 directory, and the memory check before an
update. (v1 directories: v1_resources.py; which part of the resources goes
where is the container's Manager's choice.)"""
import os

from ..errors import ConfigError, PyruncError, strerror
from . import v2_resources
from .v2_tree import available, check_type, enable_controllers, hierarchy_root


def apply_v2(directory: str, resources: dict, creating: bool, every_controller: bool) -> None:
    """resources into one cgroup2 directory: the controllers they need enabled
    in every ancestor first (every_controller: all the host has, as a v2 host
    gets them all: stats need them, and systemd and runc do the same), then
    the files written, then the device program attached."""
    if resources or creating:
        needed = v2_resources.controllers(resources)
        wanted = available(hierarchy_root(directory)) if every_controller else set(needed)
        if creating:
            check_type(directory, needed)
        enable_controllers(directory, wanted, needed)
    if resources:
        _write_v2(directory, resources)


def read_control(directory: str, name: str) -> str | None:
    """A cgroup2 control file's text, or None where it cannot be read."""
    try:
        with open(os.path.join(directory, name)) as f:
            return f.read()
    except OSError:
        return None


def _write_v2(directory: str, resources: dict) -> None:
    def read(name):
        return read_control(directory, name)

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
        from .devices_bpf import attach_program, program  # feature import
        attach_program(directory, program(resources["devices"]))


def check_before_update(usage_file: str, resources: dict) -> None:
    """memory.checkBeforeUpdate: refuse a limit below what the container uses
    (v1's kernel refuses it anyway; v2's would OOM-kill instead)."""
    mem = resources.get("memory") or {}
    limit = mem.get("limit") or 0
    if not mem.get("checkBeforeUpdate") or limit <= 0:
        return
    try:
        with open(usage_file) as f:
            usage = int(f.read())
    except (OSError, ValueError) as e:
        raise PyruncError(f"read {usage_file}: {strerror(e) if isinstance(e, OSError) else e}") \
            from None
    if limit < usage:
        raise PyruncError(f"rejecting memory limit {limit} below the current usage {usage} "
                          f"(memory.checkBeforeUpdate)")
