"""Bind mounts the parent prepares as detached trees, which the init attaches
(OP_MOVE_MOUNT):

- id-mapped ones (config.md "Mounts": idmap, ridmap, uidMappings,
  gidMappings): mount_setattr(MOUNT_ATTR_IDMAP) wants CAP_SYS_ADMIN over the
  source's filesystem, which the container's init (maybe in a user
  namespace) lacks, so the parent makes each tree (open_tree +
  mount_setattr), as runc 1.2 does. The mapping is a user namespace: a child
  waits in a new one while we write its maps;
- with a new user namespace, every other bind mount too: its root may not
  reach the source (a directory only the host's root may enter), so the
  parent, still the host's root, clones it (as runc 1.1 passes open fds).
"""
import os

from ._consts import MS_REC
from .errors import ConfigError, PyruncError, strerror
from .mountopts import parse
from .userns import new_user_namespace


class Wanted:
    def __init__(self, pointer, source, whole_tree, map_submounts, uid_maps, gid_maps):
        self.pointer = pointer
        self.source = source
        self.whole_tree = whole_tree
        self.map_submounts = map_submounts
        self.maps = (uid_maps, gid_maps)


def wanted(config: dict, bundle: str) -> list[Wanted]:
    """The id-mapped mounts of a config, checked."""
    out = []
    for i, m in enumerate(config.get("mounts", [])):
        pointer = f"/mounts/{i}"
        opts = parse(m.get("options", []), m.get("type", ""))
        given = [k for k in ("uidMappings", "gidMappings") if k in m]
        if not opts.idmap and not given:
            if opts.is_bind and _cloned_for_userns(config):
                source = os.path.normpath(os.path.join(bundle, m.get("source", "")))
                out.append(Wanted(pointer, source, bool(opts.flags & MS_REC), False, None, None))
            continue
        if not opts.is_bind:
            raise ConfigError(f"{pointer}/options", "id-mapped mounts must be bind mounts")
        if given:  # both: the schema requires them together
            uid_maps, gid_maps = m["uidMappings"], m["gidMappings"]
        elif new_user_namespace(config):  # the spec's MAY: the container's own
            uid_maps, gid_maps = config["linux"]["uidMappings"], config["linux"]["gidMappings"]
        else:
            raise ConfigError(f"{pointer}/options", "idmap needs uidMappings and gidMappings "
                                                    "on the mount, or a new user namespace")
        source = os.path.normpath(os.path.join(bundle, m.get("source", "")))
        out.append(Wanted(pointer, source, bool(opts.flags & MS_REC), opts.idmap == 2,
                          uid_maps, gid_maps))
    return out


def _cloned_for_userns(config: dict) -> bool:
    """A new user namespace, and a caller that may clone mounts (root)."""
    return new_user_namespace(config) and os.geteuid() == 0


def make_trees(mounts: list[Wanted]) -> dict[str, int]:
    """pointer -> fd of the detached id-mapped tree (the caller closes them)."""
    trees, namespaces = {}, {}
    try:
        for w in mounts:
            if w.maps == (None, None):
                trees[w.pointer] = _tree(w, -1)
                continue
            key = repr(w.maps)
            if key not in namespaces:
                namespaces[key] = _user_namespace(w)
            trees[w.pointer] = _tree(w, namespaces[key])
    except BaseException:
        for fd in trees.values():
            os.close(fd)
        raise
    finally:
        for fd in namespaces.values():
            os.close(fd)
    return trees


def _user_namespace(w: Wanted) -> int:
    """An fd of a user namespace with w's maps."""
    from ._native import ffi, lib  # deferred: cffi, only for id-mapped mounts
    release = ffi.new("int *")
    pid = lib.pyrunc_userns_holder(release)
    if pid < 0:
        raise PyruncError(f"config.json: {w.pointer}: make a user namespace for the id "
                          f"mapping: {strerror(-pid)}")
    try:
        for key, name, maps in (("gidMappings", "gid_map", w.maps[1]),
                                ("uidMappings", "uid_map", w.maps[0])):
            text = "".join(f"{m['containerID']} {m['hostID']} {m['size']}\n" for m in maps)
            try:
                with open(f"/proc/{pid}/{name}", "w") as f:
                    f.write(text)
            except OSError as e:
                raise PyruncError(f"config.json: {w.pointer}/{key}: "
                                  f"{strerror(e.errno)}") from None
        return os.open(f"/proc/{pid}/ns/user", os.O_RDONLY | os.O_CLOEXEC)
    finally:
        os.close(release[0])
        os.waitpid(pid, 0)


def _tree(w: Wanted, userns_fd: int) -> int:
    from ._native import lib  # deferred: cffi, only for id-mapped mounts
    fd = lib.pyrunc_idmapped_tree(w.source.encode(), int(w.whole_tree), int(w.map_submounts),
                                  userns_fd)
    if fd < 0:
        what = "id-map" if userns_fd >= 0 else "clone"
        raise PyruncError(f"config.json: {w.pointer}: {what} {w.source}: "
                          f"{strerror(-fd)}")
    return fd
