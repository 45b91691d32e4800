"""OCI mount options → mount(2) flags, propagation and filesystem data."""
from . import _consts as lib

# option: (flags to clear, flags to set)
FLAG_OPTIONS = {
    "ro": (0, lib.MS_RDONLY), "rw": (lib.MS_RDONLY, 0),
    "nosuid": (0, lib.MS_NOSUID), "suid": (lib.MS_NOSUID, 0),
    "nodev": (0, lib.MS_NODEV), "dev": (lib.MS_NODEV, 0),
    "noexec": (0, lib.MS_NOEXEC), "exec": (lib.MS_NOEXEC, 0),
    "sync": (0, lib.MS_SYNCHRONOUS), "async": (lib.MS_SYNCHRONOUS, 0),
    "dirsync": (0, lib.MS_DIRSYNC),
    "remount": (0, lib.MS_REMOUNT),
    "mand": (0, lib.MS_MANDLOCK), "nomand": (lib.MS_MANDLOCK, 0),
    "noatime": (0, lib.MS_NOATIME), "atime": (lib.MS_NOATIME, 0),
    "nodiratime": (0, lib.MS_NODIRATIME), "diratime": (lib.MS_NODIRATIME, 0),
    "relatime": (0, lib.MS_RELATIME), "norelatime": (lib.MS_RELATIME, 0),
    "strictatime": (0, lib.MS_STRICTATIME), "nostrictatime": (lib.MS_STRICTATIME, 0),
    "lazytime": (0, lib.MS_LAZYTIME), "nolazytime": (lib.MS_LAZYTIME, 0),
    "nosymfollow": (0, lib.MS_NOSYMFOLLOW), "symfollow": (lib.MS_NOSYMFOLLOW, 0),
    "silent": (0, lib.MS_SILENT), "loud": (lib.MS_SILENT, 0),
    "iversion": (0, lib.MS_I_VERSION), "noiversion": (lib.MS_I_VERSION, 0),
    # mount(8): "rw, suid, dev, exec, auto, nouser, and async".
    "defaults": (lib.MS_RDONLY | lib.MS_NOSUID | lib.MS_NODEV | lib.MS_NOEXEC
                 | lib.MS_SYNCHRONOUS, 0),
    "bind": (0, lib.MS_BIND), "rbind": (0, lib.MS_BIND | lib.MS_REC),
}

PROPAGATION_OPTIONS = {
    "private": lib.MS_PRIVATE, "rprivate": lib.MS_PRIVATE | lib.MS_REC,
    "shared": lib.MS_SHARED, "rshared": lib.MS_SHARED | lib.MS_REC,
    "slave": lib.MS_SLAVE, "rslave": lib.MS_SLAVE | lib.MS_REC,
    "unbindable": lib.MS_UNBINDABLE, "runbindable": lib.MS_UNBINDABLE | lib.MS_REC,
}

# Recursive options, applied with mount_setattr(AT_RECURSIVE): (set, clear).
# The atime modes are one field (MOUNT_ATTR__ATIME) that is replaced whole;
# as in mount(8), "atime" and "nostrictatime" mean the kernel default (relatime)
# and "norelatime" means strictatime.
_ATIME = lib.MOUNT_ATTR__ATIME
RECURSIVE_OPTIONS = {
    "rro": (lib.MOUNT_ATTR_RDONLY, 0), "rrw": (0, lib.MOUNT_ATTR_RDONLY),
    "rnosuid": (lib.MOUNT_ATTR_NOSUID, 0), "rsuid": (0, lib.MOUNT_ATTR_NOSUID),
    "rnodev": (lib.MOUNT_ATTR_NODEV, 0), "rdev": (0, lib.MOUNT_ATTR_NODEV),
    "rnoexec": (lib.MOUNT_ATTR_NOEXEC, 0), "rexec": (0, lib.MOUNT_ATTR_NOEXEC),
    "rnodiratime": (lib.MOUNT_ATTR_NODIRATIME, 0), "rdiratime": (0, lib.MOUNT_ATTR_NODIRATIME),
    "rnosymfollow": (lib.MOUNT_ATTR_NOSYMFOLLOW, 0), "rsymfollow": (0, lib.MOUNT_ATTR_NOSYMFOLLOW),
    "rrelatime": (lib.MOUNT_ATTR_RELATIME, _ATIME), "ratime": (lib.MOUNT_ATTR_RELATIME, _ATIME),
    "rnostrictatime": (lib.MOUNT_ATTR_RELATIME, _ATIME),
    "rnoatime": (lib.MOUNT_ATTR_NOATIME, _ATIME),
    "rstrictatime": (lib.MOUNT_ATTR_STRICTATIME, _ATIME),
    "rnorelatime": (lib.MOUNT_ATTR_STRICTATIME, _ATIME),
}

# Id-mapped bind mounts (the tree is made by the parent: idmap.py):
# ridmap maps the submounts of an rbind too.
IDMAP_OPTIONS = {"idmap": 1, "ridmap": 2}

# Flags that a bind mount can only get from a second, remounting mount(2) call.
BIND_KEEP = lib.MS_BIND | lib.MS_REC


class MountOptions(tuple):
    """(flags, propagation, data, is_bind, attr_set, attr_clr, idmap). (No
    namedtuple: importing collections costs create ~1 ms.)"""
    __slots__ = ()

    def __new__(cls, *fields):
        return tuple.__new__(cls, fields)

    flags = property(lambda self: self[0])
    propagation = property(lambda self: self[1])
    data = property(lambda self: self[2])
    is_bind = property(lambda self: self[3])
    attr_set = property(lambda self: self[4])
    attr_clr = property(lambda self: self[5])
    idmap = property(lambda self: self[6])

    @property
    def remount_flags(self) -> int:
        """For bind mounts: MS_BIND|MS_REMOUNT plus the flags, if there are any."""
        extra = self.flags & ~BIND_KEEP
        if not self.is_bind or not extra:
            return 0
        return lib.MS_BIND | lib.MS_REMOUNT | extra


def parse(options: list[str], mount_type: str = "") -> MountOptions:
    flags = 0
    propagation = 0
    attr_set = attr_clr = 0
    idmap = 0
    data = []
    for opt in options:
        if opt in FLAG_OPTIONS:
            clear, set_ = FLAG_OPTIONS[opt]
            flags = (flags & ~clear) | set_
        elif opt in RECURSIVE_OPTIONS:
            set_, clear = RECURSIVE_OPTIONS[opt]
            if clear == _ATIME:  # a new atime mode replaces the old one
                attr_set &= ~_ATIME
            attr_set = (attr_set & ~clear) | set_
            attr_clr = (attr_clr & ~set_) | clear
        elif opt in PROPAGATION_OPTIONS:
            propagation = PROPAGATION_OPTIONS[opt]  # the last one wins
        elif opt in IDMAP_OPTIONS:
            idmap = IDMAP_OPTIONS[opt]
        else:
            data.append(opt)  # filesystem-specific: passed to the kernel as is
    is_bind = bool(flags & lib.MS_BIND) or mount_type == "bind"
    if is_bind:
        flags |= lib.MS_BIND
    return MountOptions(flags, propagation, ",".join(data), is_bind, attr_set, attr_clr, idmap)
