"""What the config asks of this host that the host cannot give. Each check
reads /proc, /sys or the cgroup trees; none writes anything."""
import os
import stat

from .. import cgroups, procfs
from ..caps import NUMBERS as CAP_NUMBERS, own_set
from ..config import Config
from ..errors import ConfigError, PyruncError
from ..launch import compile_seccomp
from ..plan_process import RLIM_INFINITY, RLIMITS
from .config_checks import add_error
from .findings import Report

# /linux/namespaces types -> /proc/self/ns names (a kernel without the type has no file)
NS_FILES = {"pid": "pid", "network": "net", "mount": "mnt", "ipc": "ipc", "uts": "uts",
            "user": "user", "cgroup": "cgroup", "time": "time"}

# Filesystems that take an id-mapped mount (the kernel's FS_ALLOW_IDMAP), and
# ones known to refuse it.
IDMAP_FILESYSTEMS = {"ext4", "xfs", "btrfs", "tmpfs", "f2fs", "vfat", "overlay", "erofs", "ntfs3"}
NO_IDMAP_FILESYSTEMS = {"nfs", "nfs4", "9p", "proc", "sysfs", "cifs", "smb3", "zfs"}


def check(config: dict, container_id: str, systemd: bool, report: Report) -> None:
    view = Config(config)
    _namespaces(view, report)
    _cgroup_files(view, container_id, report)
    if systemd:
        try:
            cgroups.check_systemd_driver(os.geteuid() != 0)
        except PyruncError as e:
            report.error(None, str(e))
    _rlimits(view.process, report)
    _oom_score_adj(view.process, report)
    _seccomp(view.linux.get("seccomp"), report)
    _idmap_filesystems(view, report)


def _namespaces(view: Config, report: Report) -> None:
    for i, ns in enumerate(view.linux.get("namespaces", [])):
        name = NS_FILES.get(ns.get("type"))
        if name and not ns.get("path") and not os.path.exists(f"/proc/self/ns/{name}"):
            report.error(f"/linux/namespaces/{i}", f"this kernel has no {ns['type']} namespaces",
                         "remove it, or run on a kernel built with them")
    if view.creates("user"):
        limit = _read_int("/proc/sys/user/max_user_namespaces")
        if limit == 0:
            report.error("/linux/namespaces", "user namespaces are disabled on this host "
                         "(user.max_user_namespaces is 0)", "sysctl -w user.max_user_namespaces=N")


def _cgroup_files(view: Config, container_id: str, report: Report) -> None:
    """Each cgroup file the limits would be written to exists on this host."""
    from ..cgroups.preview import planned_writes, unavailable  # only with limits
    if not view.resources:
        return
    manager = cgroups.for_container(view.linux.get("cgroupsPath"), container_id)
    try:
        writes = planned_writes(manager, view.resources)
    except ConfigError as e:
        add_error(report, e)
        return
    for pointer, why in unavailable(writes):
        report.error(pointer, why, "remove the setting")


def _rlimits(process: dict, report: Report) -> None:
    """Raising a hard limit needs CAP_SYS_RESOURCE over the host; NOFILE's
    cannot pass fs.nr_open even then."""
    import resource  # check only
    can_raise = _can_override_limits()
    nr_open = _read_int("/proc/sys/fs/nr_open")
    for i, r in enumerate(process.get("rlimits", [])):
        number = RLIMITS.get(r.get("type"))
        if number is None:
            continue
        hard = r["hard"]
        current = resource.getrlimit(number)[1]
        current = RLIM_INFINITY if current == resource.RLIM_INFINITY else current
        if r["type"] == "RLIMIT_NOFILE" and nr_open and nr_open < hard < RLIM_INFINITY:
            report.error(f"/process/rlimits/{i}/hard", f"{hard} is above this kernel's "
                         f"fs.nr_open ({nr_open})", f"use {nr_open} or less")
        elif hard > current and not can_raise:
            report.error(f"/process/rlimits/{i}/hard", f"{r['type']} {hard} is above the hard "
                         f"limit pyrunc runs with ({current}) and it lacks CAP_SYS_RESOURCE to "
                         "raise it", f"use {current} or less")


def _oom_score_adj(process: dict, report: Report) -> None:
    """Below our own value, the kernel wants CAP_SYS_RESOURCE (Kubernetes
    pod sandboxes ask for -998)."""
    wanted = process.get("oomScoreAdj")
    own = _read_int("/proc/self/oom_score_adj")
    if wanted is None or own is None or wanted >= own or _can_override_limits():
        return
    report.error("/process/oomScoreAdj", f"{wanted} is below pyrunc's own ({own}), which "
                 "needs CAP_SYS_RESOURCE, and this host's bounding set lacks it",
                 f"use {own} or more (containerd's CRI: restrict_oom_score_adj = true)")


def _can_override_limits() -> bool:
    return bool((own_set("CapEff") or 0) >> CAP_NUMBERS["CAP_SYS_RESOURCE"] & 1)


def _seccomp(profile: dict | None, report: Report) -> None:
    """The profile compiled as create compiles it (architectures, actions and
    flags this libseccomp and kernel lack are errors). Syscall names it does
    not know are skipped at create, as runc skips them: a warning, since a
    typo then filters nothing."""
    if not profile:
        return
    try:
        compile_seccomp(profile, None)  # None: no cache written
    except ConfigError as e:
        add_error(report, e)
    from ..seccomp_compile import unknown_syscalls  # libseccomp, only for a profile
    for pointer, name in unknown_syscalls(profile):
        report.warning(pointer, f"unknown syscall {name!r}: this libseccomp does not know it, "
                       "so the rule is left out", "check the spelling")


def _idmap_filesystems(view: Config, report: Report) -> None:
    for i, m in enumerate(view.mounts):
        if not ("uidMappings" in m or {"idmap", "ridmap"} & set(m.get("options", []))):
            continue
        source = m.get("source", "")
        fstype = _fstype_of(source)
        if fstype is None:
            continue  # a missing source is rootfs_checks' finding
        if fstype in NO_IDMAP_FILESYSTEMS:
            report.error(f"/mounts/{i}", f"{source} is on {fstype}, which refuses id-mapped "
                         "mounts", "use a plain bind mount, or a source on ext4, xfs, btrfs "
                         "or tmpfs")
        elif fstype not in IDMAP_FILESYSTEMS:
            report.warning(f"/mounts/{i}", f"{source} is on {fstype}, which may refuse "
                           "id-mapped mounts")


def _fstype_of(path: str) -> str | None:
    """The filesystem type of the mount that holds path (mountinfo)."""
    try:
        real = os.path.realpath(path, strict=True)
    except OSError:
        return None
    best = None
    for m in procfs.mounts():  # the deepest mount point; of equal ones, the last (on top)
        if ((real == m.point or real.startswith(m.point.rstrip("/") + "/"))
                and (best is None or len(m.point) >= len(best.point))):
            best = m
    return best.fstype if best else None


def device_findings(ops: list, report: Report) -> None:
    """In a user namespace, devices are bind mounts of the host's own
    (BIND_DEV): each must exist on the host as a device."""
    for op in ops:
        if op.name != "BIND_DEV":
            continue
        host = op.args[0]
        try:
            mode = os.stat(host).st_mode
        except OSError:
            mode = 0
        if not (stat.S_ISCHR(mode) or stat.S_ISBLK(mode)):
            report.error("/linux/devices", f"{host}: no such device on this host, and a user "
                         "namespace cannot make one (it is bind-mounted from the host)",
                         "remove the device, or run without a user namespace")


def _read_int(path: str) -> int | None:
    try:
        with open(path) as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None
