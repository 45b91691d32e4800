"""Cgroup ownership for a container that may manage its own subtree
(config-linux.md "Cgroup ownership"): only on pure cgroup v2 (v1 delegation is
not safe), with a new cgroup namespace, and where /sys/fs/cgroup is mounted
read-write; the cgroup directory and the delegatable files in it go to the
host uid of process.user.uid."""
import os

from ..config import Config

DELEGATE = "/sys/kernel/cgroup/delegate"


def delegate(directory: str, config: dict) -> None:
    """directory: the container's cgroup on a pure v2 host (V2Manager)."""
    if not _wanted(config):
        return
    uid = host_uid(config)
    if not uid:
        return  # root owns it already, or the uid has no host id
    os.chown(directory, uid, -1)
    for name in _delegatable():
        try:
            os.chown(os.path.join(directory, name), uid, -1)
        except FileNotFoundError:  # the spec: not every listed file exists everywhere
            pass


def _wanted(config: dict) -> bool:
    view = Config(config)
    rw_cgroupfs = any(m.get("source") == "cgroup" and m.get("destination") == "/sys/fs/cgroup"
                      and "ro" not in m.get("options", []) for m in view.mounts)
    return view.creates("cgroup") and rw_cgroupfs


def host_uid(config: dict) -> int | None:
    """process.user.uid as the host sees it (through uidMappings, if any);
    None if the maps leave it out."""
    uid = config["process"].get("user", {}).get("uid", 0)
    maps = Config(config).linux.get("uidMappings")
    if not maps:
        return uid
    for m in maps:
        if m["containerID"] <= uid < m["containerID"] + m["size"]:
            return m["hostID"] + uid - m["containerID"]
    return None


def _delegatable() -> list[str]:
    try:
        with open(DELEGATE) as f:
            return [line.strip() for line in f if line.strip()]
    except OSError:
        return ["cgroup.procs", "cgroup.threads", "cgroup.subtree_control"]  # cgroups(7)
