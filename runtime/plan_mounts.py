"""The container's filesystem in plan ops: our copy of the host's mounts made
a slave, the rootfs, config.json's mounts in order (the "cgroup" one from the
container's cgroup Manager), devices, then pivot_root; after it the paths made
read-only, masked or read-only later, sysctls and names."""
import os

from . import _consts as lib
from .config import Config
from .errors import ConfigError
from .mountopts import PROPAGATION_OPTIONS, parse as parse_mount_options
from .plan_ops import Op, PlanContext, clean

# (path, major, minor): created in every container unless the config lists it.
DEFAULT_DEVICES = (
    ("/dev/null", 1, 3), ("/dev/zero", 1, 5), ("/dev/full", 1, 7),
    ("/dev/random", 1, 8), ("/dev/urandom", 1, 9), ("/dev/tty", 5, 0),
)
DEV_SYMLINKS = (
    ("/proc/self/fd", "/dev/fd"), ("/proc/self/fd/0", "/dev/stdin"),
    ("/proc/self/fd/1", "/dev/stdout"), ("/proc/self/fd/2", "/dev/stderr"),
    ("pts/ptmx", "/dev/ptmx"),
)
# proc and sysfs never follow a symlinked destination, even inside the rootfs
# (the runc CVE-2019-16884 class: a rootfs that redirects where /proc lands).
NO_SYMLINK_TYPES = {"proc", "sysfs"}
DEVICE_TYPES = {"c": lib.S_IFCHR, "u": lib.S_IFCHR, "b": lib.S_IFBLK, "p": lib.S_IFIFO}
UNLABELLED_TYPES = ("proc", "sysfs")  # labelled by the kernel, as runc leaves them


def rootfs_ops(config: dict, ctx: PlanContext) -> list[Op]:
    view = Config(config)
    linux = view.linux
    rootfs = rootfs_path(config, ctx.bundle)
    own_mounts = view.has("mount")  # new, or joined by path
    propagation = linux.get("rootfsPropagation", "")
    ops = []
    if own_mounts:
        # First our copy of the host's tree: a slave (private if asked), so
        # that nothing mounted here reaches the host and pivot_root (which
        # refuses a shared parent) works. rootfsPropagation itself is for the
        # container's root mount: set on the new / (_root_propagation_ops).
        before = lib.MS_PRIVATE if propagation in ("private", "rprivate") else lib.MS_SLAVE
        ops.append(Op("MOUNT_PROPAGATE", (before | lib.MS_REC, "/")))
    # Without a mount namespace of its own the container shares ours: no
    # propagation change, no bind of the rootfs onto itself, and chroot (as
    # runc); what it mounts is unmounted at delete (host_mounts).
    ops.append(Op("ROOTFS", (rootfs, 1 if own_mounts else 0)))
    for i, m in enumerate(config.get("mounts", [])):
        ops += _mount_ops(m, f"/mounts/{i}", ctx)
    ops += _device_ops(linux, bind=view.has("user"))
    cwd = config["process"].get("cwd", "/")
    if cwd != "/":
        ops.append(Op("MKDIRS", (0o755, clean(cwd))))
    hooks = config.get("hooks", {})
    if any(hooks.get(k) for k in ("prestart", "createRuntime", "createContainer")):
        ops.append(Op("HOOKS"))  # mounts made, pivot_root not yet: the parent runs them
    if not own_mounts:
        ops.append(Op("PIVOT", (lib.ROOT_CHROOT,)))
        return ops
    if ctx.no_pivot and not view.joins("mount"):
        # The old root stays underneath: no whole proc or sysfs may stay in it
        # (our copy of the host's; a joined namespace's own are left as they are).
        ops += [Op("HIDE_MOUNT", (p,)) for p in reversed(ctx.probe.proc_and_sys_outside(rootfs))]
    ops.append(Op("PIVOT", (lib.ROOT_MOVE if ctx.no_pivot else lib.ROOT_PIVOT,)))
    return ops


def root_propagation_ops(config: dict) -> list[Op]:
    """rootfsPropagation on the container's own / (shared: a new peer group;
    unbindable: no bind of it), last among the mounts: masked and read-only
    paths are binds, which an unbindable tree would refuse."""
    view = Config(config)
    propagation = view.linux.get("rootfsPropagation", "")
    if not propagation or not view.has("mount"):
        return []
    return [Op("MOUNT_PROPAGATE", (_propagation(propagation), "/"))]


def rootfs_path(config: dict, bundle: str) -> str:
    path = config["root"]["path"]
    return os.path.normpath(os.path.join(bundle, path))


def _propagation(name: str) -> int:
    flags = PROPAGATION_OPTIONS[name]
    # Plain "shared"/"slave"/... apply to the whole tree, as runc does.
    return flags | lib.MS_REC


def _mount_ops(m: dict, pointer: str, ctx: PlanContext) -> list[Op]:
    dest = clean(m["destination"])
    mtype = m.get("type", "")
    opts = parse_mount_options(m.get("options", []), mtype)
    source = m.get("source", "")
    if mtype == "cgroup":
        return _cgroup_mount_ops(dest, opts, ctx)
    if opts.is_bind:
        if not source:
            raise ConfigError(f"{pointer}/source", "a bind mount needs a source")
        source = os.path.normpath(os.path.join(ctx.bundle, source))
        if not ctx.probe.exists(source):
            raise ConfigError(f"{pointer}/source", f"{source}: no such file or directory")
        prepare = Op("MKDIRS", (0o755, dest)) if ctx.probe.is_dir(source) else Op("MKFILE", (dest,))
        if pointer in ctx.idmapped:  # the parent made the tree (runtime/idmap.py)
            attach = Op("MOVE_MOUNT", (ctx.idmapped[pointer], opts.remount_flags,
                                       opts.propagation, dest))
        else:
            flags = opts.flags & (lib.MS_BIND | lib.MS_REC)
            attach = Op("MOUNT", (flags, opts.remount_flags, opts.propagation,
                                  source, dest, "", "", 0))
        ops = [prepare, attach]
    else:
        no_symlinks = 1 if mtype in NO_SYMLINK_TYPES else 0
        flags = opts.flags & ~lib.MS_RDONLY if dest in ctx.read_only_later else opts.flags
        ops = [Op("MKDIRS", (0o755, dest)),
               Op("MOUNT", (flags, 0, opts.propagation, source or mtype, dest, mtype,
                            _with_mount_label(opts.data, mtype, ctx), no_symlinks))]
    if opts.attr_set or opts.attr_clr:
        ops.append(Op("MOUNT_SETATTR", (opts.attr_set, opts.attr_clr, dest)))
    return ops


def _with_mount_label(data: str, mtype: str, ctx: PlanContext) -> str:
    if not ctx.mount_label or mtype in UNLABELLED_TYPES:
        return data
    context = f'context="{ctx.mount_label}"'
    return f"{data},{context}" if data else context


def _cgroup_mount_ops(dest: str, opts, ctx: PlanContext) -> list[Op]:
    """A "cgroup" mount shows the container its own cgroups, as its cgroup
    Manager lays them out (ctx.cgroup_mounts: CgroupMounts): one filesystem
    at the destination itself, or a tmpfs with one per hierarchy below it."""
    flags = opts.flags & ~lib.MS_RDONLY
    ro = opts.flags & lib.MS_RDONLY
    ops = [Op("MKDIRS", (0o755, dest))]
    mounts = ctx.cgroup_mounts
    if len(mounts) == 1 and mounts[0].sub is None:
        return ops + [_one_cgroup_mount(dest, mounts[0], flags | ro)]
    ops.append(Op("MOUNT", (flags, 0, 0, "tmpfs", dest, "tmpfs", "mode=755", 0)))
    for m in mounts:
        target = f"{dest}/{m.sub}"
        ops.append(Op("MKDIRS", (0o755, target)))
        ops.append(_one_cgroup_mount(target, m, flags | ro))
    if ro:
        ops.append(Op("MOUNT", (flags | ro | lib.MS_REMOUNT, 0, 0, "tmpfs", dest, "tmpfs",
                                "mode=755", 0)))
    return ops


def _one_cgroup_mount(target: str, m, flags: int) -> Op:
    if m.data is None:  # bind the container's own directory
        remount = lib.MS_BIND | lib.MS_REMOUNT | flags if flags else 0
        return Op("MOUNT", (lib.MS_BIND | lib.MS_REC, remount, 0, m.source, target, "", "", 0))
    return Op("MOUNT", (flags, 0, 0, m.fstype, target, m.fstype, m.data, 0))


def _device_ops(linux: dict, bind: bool = False) -> list[Op]:
    """mknod, or (bind: in a user namespace, where mknod is refused) a bind
    mount of the host's device at the same path, as runc."""
    ops = []
    listed = set()
    for d in linux.get("devices", []):
        path = clean(d["path"])
        listed.add(path)
        if bind:
            ops.append(Op("BIND_DEV", (path, path)))
            continue
        mode = DEVICE_TYPES[d["type"]] | (d.get("fileMode", 0o666) & 0o7777)
        ops.append(Op("MKNOD", (mode, d.get("major", 0), d.get("minor", 0),
                                d.get("uid", 0), d.get("gid", 0), path, 0)))
    for path, major, minor in DEFAULT_DEVICES:
        if path not in listed:
            ops.append(Op("BIND_DEV", (path, path)) if bind else
                       Op("MKNOD", (lib.S_IFCHR | 0o666, major, minor, 0, 0, path, 1)))
    for target, link in DEV_SYMLINKS:
        ops.append(Op("SYMLINK", (target, link)))
    return ops


def read_only_later(config: dict) -> set[str]:
    """Destinations of read-only mounts (not binds) that must take content
    first: later mounts below them, /dev's devices and links, the cwd. They
    are mounted read-write and made read-only after the pivot, as runc does
    with a read-only /dev."""
    mounts = config.get("mounts", [])
    later = [clean(d["path"]) for d in Config(config).linux.get("devices", [])]
    later += [p for p, _major, _minor in DEFAULT_DEVICES] + [link for _t, link in DEV_SYMLINKS]
    later.append(clean(config["process"].get("cwd", "/")))
    out = set()
    for i, m in reversed(list(enumerate(mounts))):
        dest = clean(m["destination"])
        opts = parse_mount_options(m.get("options", []), m.get("type", ""))
        if (opts.flags & lib.MS_RDONLY and not opts.is_bind and m.get("type") != "cgroup"
                and any(p.startswith(dest.rstrip("/") + "/") for p in later)):
            out.add(dest)
        later.append(dest)
    return out


def post_pivot_ops(config: dict, new_ns: int, ctx: PlanContext) -> list[Op]:
    linux = Config(config).linux
    ops = [Op("REMOUNT_RO", (dest,)) for dest in sorted(ctx.read_only_later, reverse=True)]
    for key, value in linux.get("sysctl", {}).items():
        ops.append(Op("WRITE_FILE", ("/proc/sys/" + key.replace(".", "/"), value)))
    if "hostname" in config:
        ops.append(Op("HOSTNAME", (config["hostname"],)))
    if "domainname" in config:
        ops.append(Op("DOMAINNAME", (config["domainname"],)))
    if new_ns & lib.CLONE_NEWNET:
        ops.append(Op("LOOPBACK_UP"))
    ops += [Op("MASK", (p,)) for p in linux.get("maskedPaths", [])]
    ops += [Op("READONLY", (p,)) for p in linux.get("readonlyPaths", [])]
    if config["root"].get("readonly"):
        ops.append(Op("REMOUNT_RO", ("/",)))
    return ops
