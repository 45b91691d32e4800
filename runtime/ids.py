"""Container id rules: safe as a directory name and a cgroup name."""
from .errors import PyruncError

# Without re: importing it costs a light command ~6 ms.
_ID_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_+.-")


def check_id(container_id: str) -> str:
    if not container_id:
        raise PyruncError("invalid container id: the id must not be empty")
    if len(container_id) > 1024:
        raise PyruncError(f"invalid container id: longer than 1024 characters ({len(container_id)})")
    if container_id in (".", "..") or not _ID_CHARS.issuperset(container_id):
        raise PyruncError(
            f"invalid container id {container_id!r}: use only letters, digits and _+.- "
            "(and not . or ..)"
        )
    return container_id
