"""`state`: the OCI state of a container as JSON (runtime.md "State")."""
from ..jsonlite import dumps
from ..state import ContainerDir


def run(args) -> int:
    print(dumps(state(args.root, args.container_id), indent=2))
    return 0


def state(root: str, container_id: str) -> dict:
    cdir = ContainerDir(root, container_id)
    st = cdir.load()
    return st.oci(cdir.status(st))
