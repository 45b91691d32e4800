"""`resume`: thaw a paused container."""
from ..errors import PyruncError
from ..state import ContainerDir


def run(args) -> int:
    with ContainerDir(args.root, args.container_id) as cdir:
        st = cdir.load()
        if not cdir.status(st).can_resume:
            raise PyruncError("container not paused")
        st.require_cgroups("resume").freezer().thaw()
    return 0
