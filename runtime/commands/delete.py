"""`delete`: remove a stopped container and everything it holds (with
--force, whatever its status, killing it first; a container that does not
exist is then no error)."""
from ..errors import ContainerNotExist
from ..state import ContainerDir
from ..teardown import destroy


def run(args) -> int:
    delete(args.root, args.container_id, args.force)
    return 0


def delete(root: str, container_id: str, force: bool = False) -> None:
    cdir = ContainerDir(root, container_id)
    if not cdir.exists():
        if force:
            return
        raise ContainerNotExist(container_id)
    try:
        cdir.lock()
    except ContainerNotExist:
        if force:
            return
        raise
    try:
        destroy(cdir, force)
    finally:
        cdir.unlock()
