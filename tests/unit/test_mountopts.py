from runtime import _consts as lib
from runtime.mountopts import parse


def test_flags_and_data():
    o = parse(["nosuid", "noexec", "nodev", "mode=755", "size=65536k", "ro"])
    assert o.flags == lib.MS_NOSUID | lib.MS_NOEXEC | lib.MS_NODEV | lib.MS_RDONLY
    assert o.data == "mode=755,size=65536k"
    assert not o.is_bind and o.remount_flags == 0


def test_later_option_wins():
    assert parse(["ro", "rw"]).flags == 0
    assert parse(["noatime", "atime"]).flags == 0


def test_bind_and_remount():
    o = parse(["rbind", "ro", "nosuid"])
    assert o.is_bind and o.flags & lib.MS_REC
    # A remount is never recursive (that needs mount_setattr): no MS_REC.
    assert o.remount_flags == lib.MS_BIND | lib.MS_REMOUNT | lib.MS_RDONLY | lib.MS_NOSUID
    assert parse(["bind"]).remount_flags == 0
    assert parse([], mount_type="bind").is_bind


def test_propagation():
    assert parse(["rprivate"]).propagation == lib.MS_PRIVATE | lib.MS_REC
    assert parse(["shared", "slave"]).propagation == lib.MS_SLAVE


def test_recursive_attributes():
    o = parse(["rbind", "rro", "rnosuid", "rnoexec", "rnoexec", "rexec"])
    assert o.attr_set == lib.MOUNT_ATTR_RDONLY | lib.MOUNT_ATTR_NOSUID
    assert o.attr_clr == lib.MOUNT_ATTR_NOEXEC
    o = parse(["rnoatime"])
    assert (o.attr_set, o.attr_clr) == (lib.MOUNT_ATTR_NOATIME, lib.MOUNT_ATTR__ATIME)
    # The atime mode is one field: the last option sets it whole.
    o = parse(["rnoatime", "rstrictatime"])
    assert (o.attr_set, o.attr_clr) == (lib.MOUNT_ATTR_STRICTATIME, lib.MOUNT_ATTR__ATIME)
    o = parse(["rstrictatime", "ratime"])
    assert (o.attr_set, o.attr_clr) == (lib.MOUNT_ATTR_RELATIME, lib.MOUNT_ATTR__ATIME)
    assert parse(["ro"]).attr_set == 0


def test_idmap_options():
    assert (parse(["rbind", "idmap"]).idmap, parse(["rbind", "ridmap"]).idmap) == (1, 2)
    assert parse(["rbind"]).idmap == 0 and parse(["idmap"]).data == ""
