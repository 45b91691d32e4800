"""Build an OCI bundle whose rootfs is Debian's busybox-static.

    make_bundle.py BUNDLE_DIR [-- ARGS...]

Writes BUNDLE_DIR/rootfs (busybox, its applets as symlinks, /etc/passwd and
/etc/group) and BUNDLE_DIR/config.json (pyrunc's default config, no terminal,
running ARGS, default `sh`). The tests import build_rootfs() from here.
"""
import json
import os
import shutil
import subprocess
import sys

BUSYBOX = "/bin/busybox"
PASSWD = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
GROUP = "root:x:0:\ntty:x:5:\nnogroup:x:65534:\n"
MOUNT_POINTS = ("proc", "sys", "dev", "tmp", "root", "etc", "bin")


def build_rootfs(rootfs: str) -> str:
    """Create (or refresh) a busybox rootfs at `rootfs`."""
    if not os.path.exists(BUSYBOX):
        raise RuntimeError(f"{BUSYBOX} is missing: apt-get install busybox-static")
    for d in MOUNT_POINTS:
        os.makedirs(os.path.join(rootfs, d), exist_ok=True)
    shutil.copy2(BUSYBOX, os.path.join(rootfs, "bin", "busybox"))
    applets = subprocess.run([BUSYBOX, "--list"], capture_output=True, text=True,
                             check=True).stdout.split()
    for applet in applets:
        link = os.path.join(rootfs, "bin", applet)
        if applet != "busybox" and not os.path.lexists(link):
            os.symlink("busybox", link)
    with open(os.path.join(rootfs, "etc", "passwd"), "w") as f:
        f.write(PASSWD)
    with open(os.path.join(rootfs, "etc", "group"), "w") as f:
        f.write(GROUP)
    return rootfs


def main(argv: list[str]) -> int:
    from runtime.defaults import default_config

    if not argv or argv[0].startswith("-"):
        print(__doc__, file=sys.stderr)
        return 1
    bundle = os.path.abspath(argv[0])
    args = argv[argv.index("--") + 1:] if "--" in argv else ["sh"]
    build_rootfs(os.path.join(bundle, "rootfs"))
    config = default_config()
    config["process"]["terminal"] = False
    config["process"]["args"] = args
    # Absolute, so the cgroup is not made under the caller's own cgroup (on the
    # CI host that is the machine init's memory cgroup); delete removes it.
    config["linux"]["cgroupsPath"] = "/pyrunc-demo"
    with open(os.path.join(bundle, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
