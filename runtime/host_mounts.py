"""A container without a mount namespace of its own mounts in ours, under its
rootfs (as runc does). Those mounts are ours to undo: create records which
mounts were there before, and delete (or create's undo) unmounts every newer
one under the rootfs, last mounted first."""
from . import procfs
from .errors import PyruncError, strerror


def under(rootfs: str) -> list[int]:
    """The ids of the mounts at or below rootfs now."""
    return [m.id for m in procfs.mounts() if _below(m.point, rootfs)]


def unmount_new(rootfs: str, before: list[int]) -> None:
    """Detach the mounts below rootfs that are not in `before`."""
    from ._consts import MNT_DETACH  # deferred with cffi: only when there is something to undo
    from ._native import ffi, lib
    old = set(before)
    for m in reversed(procfs.mounts()):
        if m.id in old or not _below(m.point, rootfs):
            continue
        if lib.umount2(m.point.encode(), MNT_DETACH) < 0:
            raise PyruncError(f"unmount {m.point}: {strerror(ffi.errno)}")


def _below(point: str, rootfs: str) -> bool:
    return point == rootfs or point.startswith(rootfs.rstrip("/") + "/")
