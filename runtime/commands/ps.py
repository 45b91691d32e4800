"""`ps`: the container's processes. --format json: the array of host pids
(containerd parses it); table: ps(1)'s output cut to the container's
processes, as runc does."""
from .. import jsonlite
from ..errors import PyruncError
from ..processes import container_pids
from ..state import STOPPED, ContainerDir


def run(args) -> int:
    pids = container_pids_of(args.root, args.container_id)
    if args.format == "json":
        print(jsonlite.dumps(pids))
    else:
        _table(args.ps_args or ["-ef"], pids)
    return 0


def container_pids_of(root: str, container_id: str) -> list[int]:
    """Host pids of every process in the container: none once stopped."""
    cdir = ContainerDir(root, container_id)
    st = cdir.load()
    if cdir.status(st) == STOPPED:
        return []
    if not st.cgroup:  # rootless, without cgroups
        return container_pids(st.init_pid)
    return sorted(st.cgroups().pids())


def _table(ps_args: list[str], pids: list[int]) -> None:
    import subprocess  # deferred: ~10 ms, for the table only
    try:
        out = subprocess.run(["ps", *ps_args], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        raise PyruncError(f"ps {' '.join(ps_args)}: {getattr(e, 'stderr', '') or e}".strip()) \
            from None
    lines = out.splitlines()
    if not lines:
        return
    header = lines[0].split()
    if "PID" not in header:
        raise PyruncError(f"ps {' '.join(ps_args)}: its output has no PID column")
    column = header.index("PID")
    wanted = set(map(str, pids))
    print(lines[0])
    for line in lines[1:]:
        fields = line.split()
        if len(fields) > column and fields[column] in wanted:
            print(line)
