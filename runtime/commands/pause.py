"""`pause`: freeze every process of a running (or created) container."""
from ..errors import PyruncError
from ..state import PAUSED, ContainerDir


def run(args) -> int:
    with ContainerDir(args.root, args.container_id) as cdir:
        st = cdir.load()
        status = cdir.status(st)
        if status == PAUSED:
            raise PyruncError("container not running: it is paused already")
        if not status.can_pause:
            raise PyruncError("container not running")
        st.require_cgroups("pause").freezer().freeze()
    return 0
