"""/proc/self/mountinfo as runtime.mountinfo reads it: escapes undone, ids and
filesystem types in place."""
from runtime import mountinfo


def test_unescape():
    assert mountinfo.unescape("/a\\040b\\134c\\011d\\012e") == "/a b\\c\td\ne"
    assert mountinfo.unescape("/caf\u00e9") == "/caf\u00e9"


def test_mounts(tmp_path):
    info = tmp_path / "mountinfo"
    info.write_text("1 0 8:1 / / rw - ext4 /dev/sda1 rw\n"
                    "22 1 0:5 /sub /data\\040dir rw,relatime shared:3 - tmpfs t rw\n"
                    "23 1 0:6 / /caf\u00e9 rw master:1 - proc proc rw\n")
    assert mountinfo.mounts(str(info)) == [
        mountinfo.Mount(1, "/", "/", "ext4"), mountinfo.Mount(22, "/sub", "/data dir", "tmpfs"),
        mountinfo.Mount(23, "/", "/caf\u00e9", "proc")]
