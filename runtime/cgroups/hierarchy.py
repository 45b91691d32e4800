"""The cgroup hierarchies mounted on this host, read from /proc/self/mountinfo."""
import os

from ..procfs import mounts

V1_IGNORED_OPTIONS = {"rw", "ro", "clone_children", "noprefix", "xattr", "nsdelegate",
                      "memory_recursiveprot", "memory_localevents", "favordynmods"}


class Hierarchy:
    """One mounted hierarchy: a v1 controller set (name "cpu", "name=systemd", ...)
    or cgroup v2 (name "unified")."""

    def __init__(self, name: str, mountpoint: str, mount_root: str, own_path: str):
        self.name = name
        self.mountpoint = mountpoint
        self.mount_root = mount_root
        self.own_path = own_path  # the caller's cgroup in this hierarchy

    @property
    def is_v2(self) -> bool:
        return self.name == "unified"

    def container_dir(self, cgroups_path: str) -> str:
        """Absolute paths are from the hierarchy root, relative ones from the
        caller's own cgroup (runc's rule)."""
        if cgroups_path.startswith("/"):
            inner = cgroups_path
        else:
            inner = os.path.join(self.own_path, cgroups_path)
        inner = os.path.normpath("/" + inner)
        if self.mount_root != "/" and inner.startswith(self.mount_root):
            inner = inner[len(self.mount_root):] or "/"
        return os.path.join(self.mountpoint, inner.lstrip("/"))

    def make_dirs(self, path: str, made: list[str]) -> None:
        """mkdir -p, adding what it made to `made` (outermost first; also when
        it fails part way). On v1 cpuset a cgroup with no cpus or mems can
        hold no process: as runc, every level from the mount point down that
        has none (new ones, and existing parents too) gets its parent's."""
        missing = []
        p = path
        while not os.path.isdir(p):
            missing.append(p)
            p = os.path.dirname(p)
        for d in reversed(missing):
            try:
                os.mkdir(d, 0o755)
            except FileExistsError:
                continue
            made.append(d)
        if "cpuset" in self.name.split(","):
            inner = os.path.relpath(path, self.mountpoint).split(os.sep)
            for depth in range(1, len(inner) + 1):
                _inherit_cpuset(os.path.join(self.mountpoint, *inner[:depth]))


def _inherit_cpuset(path: str) -> None:
    parent = os.path.dirname(path)
    for name in ("cpuset.cpus", "cpuset.mems"):
        with open(os.path.join(path, name)) as f:
            if f.read().strip():
                continue
        with open(os.path.join(parent, name)) as f:
            value = f.read().strip()
        with open(os.path.join(path, name), "w") as f:
            f.write(value)


def _own_cgroups() -> dict[str, str]:
    own = {}
    with open("/proc/self/cgroup") as f:
        for line in f:
            _, controllers, path = line.rstrip("\n").split(":", 2)
            own[controllers or "unified"] = path
    return own


def discover(mountinfo: str = "/proc/self/mountinfo") -> list[Hierarchy]:
    own = _own_cgroups()
    found: dict[str, Hierarchy] = {}
    for m in mounts(mountinfo):
        if m.fstype == "cgroup2":
            name = "unified"
        elif m.fstype == "cgroup":
            opts = [o for o in m.superopts.split(",") if o not in V1_IGNORED_OPTIONS
                    and not o.startswith("release_agent=")]
            name = ",".join(opts)
        else:
            continue
        if name in found or name not in own:
            continue
        found[name] = Hierarchy(name, m.point, m.root, own[name])
    return list(found.values())
