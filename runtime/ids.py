"""Container id rules: safe as a directory name and a cgroup name."""
import re

from .errors import PyruncError

_ID = re.compile(r"[A-Za-z0-9_+.-]{1,1024}")


def check_id(container_id: str) -> str:
    if not container_id:
        raise PyruncError("invalid container id: the id must not be empty")
    if len(container_id) > 1024:
        raise PyruncError(f"invalid container id: longer than 1024 characters ({len(container_id)})")
    if container_id in (".", "..") or not _ID.fullmatch(container_id):
        raise PyruncError(
            f"invalid container id {container_id!r}: use only letters, digits and _+.- "
            "(and not . or ..)"
        )
    return container_id
