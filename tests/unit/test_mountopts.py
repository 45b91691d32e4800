import pytest

from runtime._native import lib
from runtime.mountopts import UnsupportedOption, parse


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


@pytest.mark.parametrize("opt", ["rro", "idmap", "rnosuid"])
def test_unsupported(opt):
    with pytest.raises(UnsupportedOption):
        parse([opt])
