#!/usr/bin/env python3
"""The cgroup-v2 lane: run the tests marked `cgroup_v2` on a pure cgroup-v2 kernel.

    /opt/pyrunc/venv/bin/python3 tests/vm/run_v2_lane.py [OPTIONS] [-- PYTEST ARGS]

The CI host is hybrid (cgroup v1 controllers, cgroup2 with hugetlb only), and
its /dev/kvm cannot run a guest. So this boots Debian's own kernel
(linux-image-amd64) under QEMU with software emulation (TCG), with
`cgroup_no_v1=all`, from a small busybox initramfs built here
(tests/vm/init.sh is its /init). The guest mounts the host's / read-only over
virtio-9p with a tmpfs overlay on top (it can write anywhere, the host never
changes), switch_roots into it, mounts cgroup2 on /sys/fs/cgroup and runs one
pytest from this tree, as root, with the installed /opt/pyrunc/venv, then
`conformance/run --cgroup v2-only` (pyrunc's conformance checks that read
cgroup files or need pure cgroup v2; --no-conformance leaves it out). One boot.

Without PYTEST ARGS it runs `pytest -p no:cacheprovider -q -m cgroup_v2 tests`.

With --systemd the guest boots systemd (the host's /lib/systemd/systemd) as
PID 1 on pure cgroup v2, with a minimal target of its own (dbus and one
service that runs the commands, then powers off), and runs the tests marked
`systemd` (`-q -m systemd tests`); conformance/run only with --conformance.

It installs what it needs (qemu-system-x86, linux-image-amd64, busybox-static)
with apt-get when missing, and caches the extracted vmlinux and the initramfs
in /var/cache/pyrunc-vm/.

Exit status: pytest's, except that "no tests collected" (5) becomes 1; else
1 when conformance/run failed (any non-zero status); 77 when QEMU or the
kernel cannot be installed (the lane is SKIPPED, loudly); 124 when the
overall timeout expired; 70 when the lane itself broke (no boot, no result,
a guest without the expected cgroup-v2 controllers; with --systemd, systemd
not running or its D-Bus API not working).
"""
from __future__ import annotations

import argparse
import bz2
import hashlib
import lzma
import os
import pathlib
import re
import select
import shlex
import shutil
import signal
import stat
import struct
import subprocess
import sys
import tempfile
import time
import zlib

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parents[1]
INIT_SH = HERE / "init.sh"
CACHE = pathlib.Path("/var/cache/pyrunc-vm")
VENV = pathlib.Path("/opt/pyrunc/venv")
BUSYBOX = pathlib.Path("/bin/busybox")
QEMU = "qemu-system-x86_64"
PACKAGES = ("qemu-system-x86", "linux-image-amd64", "busybox-static")
SYSTEMD_PACKAGES = ("systemd", "dbus")  # --systemd: the guest's PID 1 and system bus, from the host's /
# What the guest needs before it can switch_root; modules.dep adds the rest
# (9pnet, netfs, fscache, virtio, virtio_ring, virtio_pci_*_dev).
MODULES = ("virtio_pci", "9pnet_virtio", "9p", "overlay")
EXPECTED_CONTROLLERS = ("cpuset", "cpu", "io", "memory", "hugetlb", "pids", "rdma", "misc")
DEFAULT_PYTEST_ARGS = ["-q", "-m", "cgroup_v2", "tests"]
SYSTEMD_PYTEST_ARGS = ["-q", "-m", "systemd", "tests"]
SYSTEMD = pathlib.Path("/lib/systemd/systemd")
# systemd mode: the target the guest boots (`systemd.unit=`) and its service.
LANE_TARGET = "pyrunc-lane.target"
LANE_SERVICE = "pyrunc-lane.service"
# Nothing pulls these in (every unit of the lane has DefaultDependencies=no),
# but should anything try, they stay off: they are slow under TCG or need what
# the guest does not have.
SYSTEMD_MASKED = ("getty.target", "getty@.service", "serial-getty@.service", "console-getty.service",
                  "systemd-udev-settle.service", "systemd-udev-trigger.service",
                  "systemd-journal-flush.service", "systemd-networkd-wait-online.service",
                  "networking.service")
# Where systemd looks for generators (all masked: they only cost process starts).
GENERATOR_DIRS = {
    "system-generators": ("/usr/local/lib/systemd/system-generators", "/usr/lib/systemd/system-generators",
                          "/lib/systemd/system-generators"),
    "system-environment-generators": ("/usr/local/lib/systemd/system-environment-generators",
                                      "/usr/lib/systemd/system-environment-generators",
                                      "/lib/systemd/system-environment-generators"),
}
CONFORMANCE_ARGS = ["conformance/run", "--cgroup", "v2-only"]
MSIZE = 512000

EXIT_SKIP = 77
EXIT_TIMEOUT = 124
EXIT_BROKEN = 70

MARK_EXIT = re.compile(r"PYRUNC-V2-LANE-EXIT=(\d+)")
MARK_CONTROLLERS = re.compile(r"PYRUNC-V2-LANE-CONTROLLERS=(.*)")
MARK_PIVOT = re.compile(r"PYRUNC-V2-LANE-PIVOT_ROOT=(\w+)")
MARK_SYSTEMD = re.compile(r"PYRUNC-V2-LANE-SYSTEMD=(\S+)")
MARK_DBUS = re.compile(r"PYRUNC-V2-LANE-DBUS=(\w+)")
MARK_ERROR = re.compile(r"PYRUNC-V2-LANE-ERROR: (.*)")
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
# pytest's last line: "3 passed, 120 deselected in 12.34s", with or without
# the ===== frame; "no tests ran in 1.02s".
SUMMARY = re.compile(r"^=*\s*((?:\d+ \w+(?:, )?)+ in [\d.]+s(?: \([^)]*\))?|no tests ran in [\d.]+s)\s*=*$")
# conformance/run's last line.
CONFORMANCE_SUMMARY = re.compile(r"^conformance: (\d+ passed, \d+ failed)$")


class Skip(Exception):
    """QEMU or the kernel cannot be installed: the lane cannot run here."""


class Broken(Exception):
    """The lane itself failed (not the tests)."""


def log(msg: str) -> None:
    print(f"v2-lane: {msg}", flush=True)


# -- packages --

def installed(pkg: str) -> bool:
    r = subprocess.run(["dpkg-query", "-W", "-f=${Status}", pkg], capture_output=True, text=True)
    return r.returncode == 0 and "install ok installed" in r.stdout


def ensure_packages(packages: tuple[str, ...] = PACKAGES) -> None:
    if not shutil.which("dpkg-query") or not shutil.which("apt-get"):
        raise Skip("not a Debian host: no dpkg-query/apt-get to install qemu-system-x86 and linux-image-amd64")
    missing = [p for p in packages if not installed(p)]
    if not missing:
        return
    if os.geteuid() != 0:
        raise Skip(f"{' '.join(missing)} missing and not root: cannot install them")
    log(f"installing {' '.join(missing)} (apt-get)")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")

    def apt(*args: str) -> str | None:
        """None on success, else why (apt's last error line)."""
        cmd = ["apt-get", *args]
        r = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if r.returncode == 0:
            return None
        lines = r.stdout.splitlines()
        print("\n".join(lines[-15:]), flush=True)
        errors = [line for line in lines if line.startswith(("E:", "Err:"))]
        return f"`{' '.join(cmd)}` failed with status {r.returncode}" + (f" ({errors[-1]})" if errors else "")

    # A failed update (offline mirror) is not the end: the lists may do.
    update_failed = apt("update", "-q")
    install_failed = apt("install", "-y", "-q", "--no-install-recommends", *missing)
    if install_failed:
        raise Skip(install_failed + (f"; before it {update_failed}" if update_failed else ""))
    still = [p for p in missing if not installed(p)]
    if still:
        raise Skip(f"apt-get did not install {' '.join(still)}")


def kernel_release() -> str:
    """The release (6.1.0-NN-amd64) linux-image-amd64 points at."""
    r = subprocess.run(["dpkg-query", "-W", "-f=${Depends}", "linux-image-amd64"],
                       capture_output=True, text=True)
    m = re.search(r"linux-image-(\d[^\s,()|]*)", r.stdout)
    if not m:
        raise Broken(f"cannot tell which kernel linux-image-amd64 depends on: {r.stdout!r}")
    release = m.group(1)
    for path in (f"/boot/vmlinuz-{release}", f"/lib/modules/{release}/modules.dep"):
        if not os.path.exists(path):
            raise Broken(f"{path} is missing although linux-image-amd64 is installed")
    return release


# -- vmlinux: the uncompressed kernel, booted through its PVH entry --

def _external(tool: str, *args: str):
    def run(data: bytes) -> bytes:
        if not shutil.which(tool):
            raise RuntimeError(f"{tool} not installed")
        return subprocess.run([tool, *args], input=data, capture_output=True).stdout
    return run


# The compressors a bzImage payload may use, by magic (as scripts/extract-vmlinux).
DECOMPRESSORS = (
    (b"\xfd7zXZ\x00", lambda d: lzma.LZMADecompressor(lzma.FORMAT_XZ).decompress(d)),
    (b"\x1f\x8b\x08", lambda d: zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(d)),
    (b"\x28\xb5\x2f\xfd", _external("zstd", "-dcq")),
    (b"BZh", lambda d: bz2.BZ2Decompressor().decompress(d)),
    (b"\x5d\x00\x00", lambda d: lzma.LZMADecompressor(lzma.FORMAT_ALONE).decompress(d)),
    (b"\x02\x21\x4c\x18", _external("lz4", "-dcq")),
    (b"\x89LZO", _external("lzop", "-dcq")),
)


def extract_vmlinux(image: bytes) -> bytes:
    """The ELF vmlinux inside a bzImage (the job of the kernel's extract-vmlinux)."""
    if image[:4] == b"\x7fELF":
        return image
    starts = []
    # Boot protocol >= 2.08 says where the payload is.
    if image[0x202:0x206] == b"HdrS" and struct.unpack_from("<H", image, 0x206)[0] >= 0x208:
        setup_sects = image[0x1F1] or 4
        offset, _length = struct.unpack_from("<II", image, 0x248)
        starts.append((setup_sects + 1) * 512 + offset)
    # Otherwise: wherever a known magic occurs.
    for magic, _ in DECOMPRESSORS:
        pos = image.find(magic)
        while pos != -1:
            starts.append(pos)
            pos = image.find(magic, pos + 1)
    for start in starts:
        for magic, decompress in DECOMPRESSORS:
            if not image.startswith(magic, start):
                continue
            try:
                out = decompress(image[start:])
            except Exception:  # noqa: BLE001 - a false magic: try the next one
                continue
            if out[:4] == b"\x7fELF":
                return out
    raise Broken("no ELF kernel found inside the bzImage")


def has_pvh_note(elf: bytes) -> bool:
    """QEMU boots an ELF vmlinux only through XEN_ELFNOTE_PHYS32_ENTRY (18)."""
    if elf[4] != 2:  # ELFCLASS64
        return False
    phoff, = struct.unpack_from("<Q", elf, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", elf, 0x36)
    for i in range(phnum):
        p_type, _flags, p_offset, _va, _pa, p_filesz = struct.unpack_from("<IIQQQQ", elf, phoff + i * phentsize)
        if p_type != 4:  # PT_NOTE
            continue
        pos, end = p_offset, p_offset + p_filesz
        while pos + 12 <= end:
            namesz, descsz, ntype = struct.unpack_from("<III", elf, pos)
            name = elf[pos + 12:pos + 12 + namesz].rstrip(b"\0")
            if name == b"Xen" and ntype == 18:
                return True
            pos += 12 + (namesz + 3) // 4 * 4 + (descsz + 3) // 4 * 4
    return False


def atomic_write(path: pathlib.Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def prune(prefix: str, keep: pathlib.Path) -> None:
    for old in CACHE.glob(prefix + "*"):
        if old != keep:
            old.unlink(missing_ok=True)


def cached_vmlinux(release: str) -> pathlib.Path:
    image = pathlib.Path(f"/boot/vmlinuz-{release}").read_bytes()
    path = CACHE / f"vmlinux-{release}-{hashlib.sha256(image).hexdigest()[:16]}"
    if not path.exists():
        log(f"extracting vmlinux from /boot/vmlinuz-{release}")
        elf = extract_vmlinux(image)
        if not has_pvh_note(elf):
            raise Broken(f"vmlinux {release} has no PVH entry note (CONFIG_PVH): QEMU cannot boot it")
        atomic_write(path, elf)
        prune(f"vmlinux-{release}-", path)
    return path


# -- initramfs: busybox, the modules, /init --

def module_order(release: str) -> list[str]:
    """Module files (relative to /lib/modules/RELEASE) in load order, dependencies first."""
    base = pathlib.Path("/lib/modules") / release

    def name(path: str) -> str:
        return re.sub(r"\.ko(\.\w+)?$", "", os.path.basename(path)).replace("-", "_")

    deps: dict[str, list[str]] = {}
    files: dict[str, str] = {}
    for line in (base / "modules.dep").read_text().splitlines():
        mod, _, rest = line.partition(":")
        files[name(mod)] = mod
        deps[name(mod)] = [name(d) for d in rest.split()]
    builtin = set()
    if (base / "modules.builtin").exists():
        builtin = {name(line) for line in (base / "modules.builtin").read_text().split()}
    order: list[str] = []

    def visit(mod: str) -> None:
        if mod in builtin or files.get(mod) in order:
            return
        if mod not in files:
            raise Broken(f"kernel {release} has no module {mod} (neither built in nor in modules.dep)")
        for dep in reversed(deps[mod]):
            visit(dep)
        order.append(files[mod])

    for mod in MODULES:
        visit(mod)
    return order


def read_module(path: pathlib.Path) -> bytes:
    data = path.read_bytes()
    if path.suffix == ".xz":
        return lzma.decompress(data)
    if path.suffix == ".gz":
        return zlib.decompress(data, 16 + zlib.MAX_WBITS)
    if path.suffix == ".zst":
        return _external("zstd", "-dcq")(data)
    return data


class Cpio:
    """A cpio archive in the "newc" format the kernel unpacks into its rootfs."""

    def __init__(self):
        self.parts: list[bytes] = []
        self.ino = 1

    def add(self, name: str, mode: int, data: bytes = b"", rdev: tuple[int, int] = (0, 0)) -> None:
        encoded = name.encode() + b"\0"
        fields = (self.ino, mode, 0, 0, 2 if stat.S_ISDIR(mode) else 1, 0, len(data),
                  0, 0, rdev[0], rdev[1], len(encoded), 0)
        self.ino += 1
        header = b"070701" + b"".join(b"%08X" % f for f in fields)
        self.parts.append(header + encoded + b"\0" * (-(len(header) + len(encoded)) % 4))
        self.parts.append(data + b"\0" * (-len(data) % 4))

    def dir(self, name: str) -> None:
        self.add(name, stat.S_IFDIR | 0o755)

    def file(self, name: str, data: bytes, perm: int = 0o644) -> None:
        self.add(name, stat.S_IFREG | perm, data)

    def symlink(self, name: str, target: str) -> None:
        self.add(name, stat.S_IFLNK | 0o777, target.encode())

    def chardev(self, name: str, perm: int, major: int, minor: int) -> None:
        self.add(name, stat.S_IFCHR | perm, rdev=(major, minor))

    def bytes(self) -> bytes:
        self.add("TRAILER!!!", 0)
        data = b"".join(self.parts)
        return data + b"\0" * (-len(data) % 512)


def is_static(elf: bytes) -> bool:
    phoff, = struct.unpack_from("<Q", elf, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", elf, 0x36)
    return all(struct.unpack_from("<I", elf, phoff + i * phentsize)[0] != 3  # PT_INTERP
               for i in range(phnum))


def cached_initramfs(release: str) -> pathlib.Path:
    busybox = BUSYBOX.read_bytes()
    if busybox[:4] != b"\x7fELF" or not is_static(busybox):
        raise Broken(f"{BUSYBOX} is not a static busybox (package busybox-static)")
    applets = subprocess.run([str(BUSYBOX), "--list"], capture_output=True, text=True,
                             check=True).stdout.split()
    modules = module_order(release)
    archive = Cpio()
    for d in ("bin", "dev", "proc", "sys", "mnt", "newroot", "lib", "lib/modules"):
        archive.dir(d)
    archive.chardev("dev/console", 0o600, 5, 1)
    archive.chardev("dev/null", 0o666, 1, 3)
    archive.file("bin/busybox", busybox, 0o755)
    for applet in applets:
        if applet != "busybox":
            archive.symlink(f"bin/{applet}", "busybox")
    archive.file("init", INIT_SH.read_bytes(), 0o755)
    names = []
    for rel in modules:
        plain = re.sub(r"\.ko\.\w+$", ".ko", rel)
        parts = pathlib.PurePosixPath(plain).parts
        for i in range(1, len(parts)):
            archive.dir("lib/modules/" + "/".join(parts[:i]))  # repeats are harmless
        archive.file(f"lib/modules/{plain}", read_module(pathlib.Path("/lib/modules", release, rel)))
        names.append(plain)
    archive.file("lane-modules", ("\n".join(names) + "\n").encode())
    data = archive.bytes()
    path = CACHE / f"initramfs-{hashlib.sha256(data).hexdigest()[:16]}.cpio"
    if not path.exists():
        log(f"initramfs {path} ({len(data) // 1024} KiB, modules: {' '.join(pathlib.Path(n).stem for n in names)})")
        atomic_write(path, data)
        prune("initramfs-", path)
    return path


# -- the run --

def qemu_arg_path(path: str) -> str:
    return path.replace(",", ",,")


def runtime_under_test() -> str:
    return os.environ.get("PYRUNC_TEST_RUNTIME", "/usr/local/bin/pyrunc")


def write_lane_dir(lane: pathlib.Path, pytest_args: list[str], conformance: bool,
                   rw_dirs: list[str]) -> None:
    """run.sh (the commands) and mounts (tag, path: extra read-write shares)."""
    env = {k: v for k, v in os.environ.items() if k.startswith("PYRUNC_") and not k.startswith("PYRUNC_V2_LANE")}
    env.update({
        "PYRUNC_TEST_RUNTIME": runtime_under_test(),
        "PYRUNC_V2_LANE": "1",
        "HOME": "/root",
        "LANG": "C.UTF-8",
        "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "PY_COLORS": os.environ.get("PY_COLORS", "0"),
        "COLUMNS": "100",
    })
    clean_env = [str(BUSYBOX), "env", "-i", *(f"{k}={v}" for k, v in sorted(env.items()))]
    pytest = clean_env + [str(VENV / "bin" / "pytest"), *pytest_args]
    check = clean_env + ["/usr/bin/python3", *CONFORMANCE_ARGS, "--runtime", runtime_under_test()]
    # `sh run.sh SECONDS`: each command gets what is left of SECONDS, then
    # SIGINT (it still prints its summary) and SIGKILL 20 s later. busybox
    # timeout execs the command in its own pid, so the SIGINT reaches it.
    bb = str(BUSYBOX)
    lines = ["# written by tests/vm/run_v2_lane.py; run by tests/vm/init.sh in the guest",
             f"cd {shlex.quote(str(REPO))} || exit 3",
             f"end=$(( $({bb} date +%s) + $1 ))",
             "within() {",
             f"    left=$(( end - $({bb} date +%s) )); [ \"$left\" -gt 0 ] || left=1",
             f"    {bb} timeout -s INT -k 20 \"$left\" \"$@\"",
             "}",
             "within " + " ".join(shlex.quote(a) for a in pytest),
             "rc=$?"]
    if conformance:
        # Its status goes to conformance.rc; run.sh's own is pytest's.
        lines += ["within " + " ".join(shlex.quote(a) for a in check),
                  f"echo $? > {shlex.quote(str(lane / 'conformance.rc'))}"]
    lines.append("exit $rc")
    (lane / "run.sh").write_text("\n".join(lines) + "\n")
    (lane / "mounts").write_text("".join(f"rw{i} {d}\n" for i, d in enumerate(rw_dirs)))


def write_systemd_units(lane: pathlib.Path, guest_timeout: int, debug: bool) -> None:
    """lane/etc/systemd: what stage 1 copies over the guest's /etc in systemd mode.

    pyrunc-lane.target (the `systemd.unit=` of the boot) wants dbus and
    pyrunc-lane.service, nothing else: with DefaultDependencies=no on all of
    them (dbus's units get it from a drop-in) no sysinit.target, basic.target,
    udev, journald or getty is pulled in. systemd mounts proc, sys, /dev/shm,
    /dev/pts and cgroup2 itself; stage 1 mounted /run, /tmp and the shares.
    The service runs init.sh's `service` (checks, run.sh, power-off) with its
    output on the console.
    """
    etc = lane / "etc" / "systemd"
    system = etc / "system"
    system.mkdir(parents=True)
    env = {"pyrunc_lane": str(lane), "pyrunc_lane_init": str(INIT_SH), "pyrunc_lane_repo": str(REPO),
           "pyrunc_lane_timeout": str(guest_timeout), "pyrunc_lane_msize": str(MSIZE)}
    if debug:
        env["pyrunc_lane_debug"] = "1"
    (system / LANE_TARGET).write_text(f"""\
# written by tests/vm/run_v2_lane.py --systemd: the guest boots this (systemd.unit=)
[Unit]
Description=pyrunc cgroup-v2 lane (systemd mode)
DefaultDependencies=no
Wants=dbus.socket dbus.service dev-mqueue.mount {LANE_SERVICE}
AllowIsolate=yes
""")
    (system / LANE_SERVICE).write_text(f"""\
# written by tests/vm/run_v2_lane.py --systemd
[Unit]
Description=pyrunc cgroup-v2 lane: run.sh (pytest), then power off
DefaultDependencies=no
Wants=dbus.socket dbus.service
After=dbus.socket dbus.service dev-mqueue.mount
# init.sh powers off itself; these are the safety net.
SuccessAction=poweroff-immediate
FailureAction=poweroff-immediate

[Service]
Type=exec
Environment={' '.join(f'{k}={v}' for k, v in env.items())}
ExecStart={BUSYBOX} sh {INIT_SH} service
StandardInput=null
StandardOutput=tty
StandardError=inherit
TTYPath=/dev/console
TimeoutStartSec=infinity
""")
    # No journald: the services' output goes to the kernel's log (the
    # default, the journal, would fall back to /dev/null with a warning).
    (etc / "system.conf.d").mkdir()
    (etc / "system.conf.d" / "pyrunc-lane.conf").write_text(
        "# written by tests/vm/run_v2_lane.py --systemd\n"
        "[Manager]\nDefaultStandardOutput=kmsg\nDefaultStandardError=inherit\n")
    for unit in ("dbus.socket", "dbus.service"):
        (system / f"{unit}.d").mkdir()
        (system / f"{unit}.d" / "pyrunc-lane.conf").write_text(
            "# written by tests/vm/run_v2_lane.py --systemd: no sysinit.target, basic.target\n"
            "[Unit]\nDefaultDependencies=no\n")
    for unit in SYSTEMD_MASKED:
        (system / unit).symlink_to("/dev/null")
    for kind, dirs in GENERATOR_DIRS.items():
        names = sorted({name for d in dirs if os.path.isdir(d) for name in os.listdir(d)})
        if names:
            (etc / kind).mkdir()
        for name in names:
            (etc / kind / name).symlink_to("/dev/null")


def qemu_command(vmlinux, initramfs, lane: pathlib.Path, rw_dirs: list[str], guest_timeout: int,
                 args) -> list[str]:
    cmdline = [
        "console=ttyS0", "panic=-1", "mitigations=off",
        "8250.nr_uarts=1", "random.trust_cpu=on",
        f"pyrunc_lane={lane}", f"pyrunc_lane_init={INIT_SH}", f"pyrunc_lane_repo={REPO}",
        f"pyrunc_lane_timeout={guest_timeout}", f"pyrunc_lane_msize={MSIZE}",
    ]
    cmdline += ["pyrunc_lane_debug=1"] if args.debug else ["quiet"]
    # --hybrid: systemd mounts the v1 controllers and cgroup2 at .../unified;
    # --legacy: the v1 controllers and name=systemd, no cgroup2 at all.
    v1 = args.hybrid or args.legacy
    cmdline += [] if v1 else ["cgroup_no_v1=all"]
    if args.systemd:
        # (Dotted parameters do not reach init's environment; systemd reads
        # them from /proc/cmdline.)
        cmdline += ["pyrunc_lane_systemd=1", f"systemd.unit={LANE_TARGET}",
                    f"systemd.unified_cgroup_hierarchy={0 if v1 else 1}",
                    f"systemd.legacy_systemd_cgroup_controller={1 if args.legacy else 0}",
                    "systemd.hostname=pyrunc-v2-lane",
                    "systemd.show_status=" + ("1" if args.debug else "error"),
                    "systemd.log_color=0"]
    shares = [("hostroot", "/", True), ("lane", str(lane), False)]
    shares += [(f"rw{i}", d, False) for i, d in enumerate(rw_dirs)]
    cmd = [
        QEMU, "-name", "pyrunc-v2-lane",
        "-M", "pc", "-accel", "tcg", "-cpu", "max", "-smp", str(args.smp), "-m", str(args.memory),
        "-nodefaults", "-no-user-config", "-display", "none", "-monitor", "none",
        "-serial", "stdio", "-no-reboot",
        "-kernel", str(vmlinux), "-initrd", str(initramfs), "-append", " ".join(cmdline),
    ]
    for tag, path, readonly in shares:
        cmd += ["-fsdev", f"local,id={tag},path={qemu_arg_path(path)},security_model=passthrough,"
                          f"multidevs=remap{',readonly=on' if readonly else ''}",
                "-device", f"virtio-9p-pci,fsdev={tag},mount_tag={tag}"]
    return cmd


def _die_with_parent() -> None:
    """In QEMU's child before exec: SIGKILL it if this runner dies."""
    import ctypes
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def stop(proc: subprocess.Popen) -> None:
    """End the QEMU we started (only it, by its pid)."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def boot(cmd: list[str], deadline: float, boot_deadline: float,
         console_log) -> tuple[str, str | None, float | None]:
    """Run QEMU and stream its console. Returns (console text, None or what
    timed out, when the guest began the run: PYRUNC-V2-LANE-BEGIN)."""
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True,
                            preexec_fn=_die_with_parent)
    chunks = []
    timed_out = None
    booted = False
    exit_seen_at = None
    begin_at = None
    tail = ""
    try:
        fd = proc.stdout.fileno()
        while True:
            now = time.monotonic()
            if exit_seen_at is not None:
                limit, what = min(deadline, exit_seen_at + 30), None  # power-off
            elif not booted:
                limit, what = min(deadline, boot_deadline), "boot"
            else:
                limit, what = deadline, "run"
            if now >= limit:
                timed_out = what
                break
            ready, _, _ = select.select([fd], [], [], limit - now)
            if not ready:
                continue
            data = os.read(fd, 65536)
            if not data:
                break
            chunks.append(data)
            sys.stdout.buffer.write(data)
            sys.stdout.buffer.flush()
            if console_log:
                console_log.write(data)
            tail = (tail + data.decode(errors="replace"))[-300:]
            if begin_at is None and "PYRUNC-V2-LANE-BEGIN" in tail:
                begin_at = time.monotonic()
            booted = booted or begin_at is not None or "PYRUNC-V2-LANE-ERROR" in tail
            if exit_seen_at is None and MARK_EXIT.search(tail):
                exit_seen_at = time.monotonic()  # the guest powers off now
    finally:
        stop(proc)
    return b"".join(chunks).decode(errors="replace"), timed_out, begin_at


def read_status(path: pathlib.Path) -> int | None:
    """An exit status the guest wrote into the run's directory."""
    value = path.read_text().strip() if path.exists() else ""
    return int(value) if value.isdigit() else None


def parse_console(text: str) -> dict:
    lines = [ANSI.sub("", line).rstrip("\r") for line in text.split("\n")]
    found = {"exit": None, "controllers": None, "pivot_root": None, "errors": [], "summary": None,
             "conformance": None, "systemd": None, "dbus": None}
    in_run = False
    for line in lines:
        if "PYRUNC-V2-LANE-BEGIN" in line:
            in_run = True
        elif "PYRUNC-V2-LANE-END" in line:
            in_run = False
        elif m := MARK_EXIT.search(line):
            found["exit"] = int(m.group(1))
        elif m := MARK_CONTROLLERS.search(line):
            found["controllers"] = m.group(1).strip()
        elif m := MARK_PIVOT.search(line):
            found["pivot_root"] = m.group(1)
        elif m := MARK_SYSTEMD.search(line):
            found["systemd"] = m.group(1)
        elif m := MARK_DBUS.search(line):
            found["dbus"] = m.group(1)
        elif m := MARK_ERROR.search(line):
            found["errors"].append(m.group(1))
        elif in_run and (m := SUMMARY.match(line.strip())):
            found["summary"] = m.group(1)
        elif in_run and (m := CONFORMANCE_SUMMARY.match(line.strip())):
            found["conformance"] = m.group(1)
    return found


def run_lane(args, pytest_args: list[str]) -> int:
    started = time.monotonic()
    deadline = started + args.timeout
    if os.geteuid() != 0:
        raise Broken("run as root: the guest shares the host's / with QEMU's passthrough 9p, "
                     "and the tests create containers")
    ensure_packages(PACKAGES + SYSTEMD_PACKAGES if args.systemd else PACKAGES)
    if not shutil.which(QEMU):
        raise Skip(f"{QEMU} is not on PATH although qemu-system-x86 is installed")
    for need in (VENV / "bin" / "pytest", pathlib.Path(runtime_under_test())):
        if not need.exists():
            raise Broken(f"{need} is missing: run scripts/setup.sh first")
    if args.systemd:
        for need in (SYSTEMD, pathlib.Path("/usr/bin/dbus-daemon"), pathlib.Path("/usr/bin/busctl")):
            if not need.exists():
                raise Broken(f"{need} is missing although systemd and dbus are installed")
    rw_dirs = [os.path.realpath(d) for d in args.rw]
    for d in rw_dirs:
        if not os.path.isdir(d):
            raise Broken(f"--rw {d}: not a directory")
    for path in (str(REPO), str(INIT_SH), *rw_dirs):
        if any(c.isspace() for c in path):
            raise Broken(f"{path!r} has white space: it cannot be passed to the guest")
    release = kernel_release()
    CACHE.mkdir(parents=True, exist_ok=True)
    vmlinux = cached_vmlinux(release)
    initramfs = cached_initramfs(release)
    # What is left for the guest, less the boot and pytest's own summary after SIGINT.
    guest_timeout = max(30, int(deadline - time.monotonic()) - 60)
    lane = pathlib.Path(tempfile.mkdtemp(prefix="pyrunc-v2-lane-"))
    console_log = open(args.console_log, "wb") if args.console_log else None
    boot_start = time.monotonic()
    try:
        write_lane_dir(lane, pytest_args, args.conformance, rw_dirs)
        if args.systemd:
            write_systemd_units(lane, guest_timeout, args.debug)
        cmd = qemu_command(vmlinux, initramfs, lane, rw_dirs, guest_timeout, args)
        log(f"kernel {release}, TCG, {args.smp} vCPUs, {args.memory} MiB"
            f"{', systemd as PID 1' if args.systemd else ''}"
            f"{' (hybrid cgroups)' if args.hybrid else ''}"
            f"{' (legacy cgroups: v1 only)' if args.legacy else ''}; "
            f"pytest {' '.join(pytest_args)}"
            f"{', then ' + ' '.join(CONFORMANCE_ARGS) if args.conformance else ''}"
            f" (in-guest limit {guest_timeout} s)")
        text, timed_out, begin_at = boot(cmd, deadline, boot_start + args.boot_timeout, console_log)
        rc_file, conformance_rc = read_status(lane / "rc"), read_status(lane / "conformance.rc")
    finally:
        if console_log:
            console_log.close()
        shutil.rmtree(lane, ignore_errors=True)
    found = parse_console(text)
    if found["exit"] is None:
        found["exit"] = rc_file
    print(flush=True)
    log(f"wall time {time.monotonic() - started:.1f} s (QEMU {time.monotonic() - boot_start:.1f} s"
        + (f", boot to pytest {begin_at - boot_start:.1f} s)" if begin_at else ")"))
    log(f"guest cgroup.controllers: {found['controllers']}; pivot_root: {found['pivot_root']}")
    if args.systemd:
        log(f"guest systemd: {found['systemd']}; StartTransientUnit over D-Bus: {found['dbus']}")
    for err in found["errors"]:
        log(f"guest error: {err}")
    if timed_out == "boot":
        log(f"FAILED: the guest did not come up within {args.boot_timeout} s (QEMU stopped)")
        return EXIT_BROKEN
    if timed_out:
        log(f"FAILED: the lane did not finish within {args.timeout} s (QEMU stopped)")
        if found["summary"]:
            log(f"pytest summary: {found['summary']}")
        if found["conformance"]:
            log(f"conformance summary: {found['conformance']}")
        return EXIT_TIMEOUT
    if found["controllers"] is not None and not (args.hybrid or args.legacy):
        missing = [c for c in EXPECTED_CONTROLLERS if c not in found["controllers"].split()]
        if missing:
            log(f"FAILED: the guest is not the cgroup-v2 host it should be: no {' '.join(missing)} "
                f"in cgroup.controllers")
            return EXIT_BROKEN
    if found["pivot_root"] not in (None, "ok"):
        log("FAILED: pivot_root(2) does not work in the guest: containers cannot get their root")
        return EXIT_BROKEN
    if args.systemd and found["exit"] is not None:
        # (When the guest broke earlier, the checks below say nothing new.)
        if found["systemd"] not in ("running", "degraded"):
            log(f"FAILED: systemd in the guest is {found['systemd'] or 'not reporting'}, "
                f"not running (or degraded)")
            return EXIT_BROKEN
        if found["dbus"] != "ok":
            log("FAILED: StartTransientUnit over the guest's system bus (dbus-daemon) did not work")
            return EXIT_BROKEN
    if found["exit"] is None:
        log("FAILED: the guest never reported pytest's exit status (see the console above)")
        return EXIT_BROKEN
    rc = found["exit"]
    log(f"pytest summary: {found['summary'] or '(no summary line found)'}")
    log(f"pytest exit status: {rc}")
    if args.conformance:
        log(f"conformance summary: {found['conformance'] or '(no summary line found)'}")
        log(f"conformance exit status: {conformance_rc}")
    if rc == 5:
        log("FAILED: pytest collected no tests: that is a failure")
        return 1
    if rc != 0:
        return rc
    if args.conformance and conformance_rc != 0:
        log(f"FAILED: {' '.join(CONFORMANCE_ARGS)} "
            + ("failed" if conformance_rc is not None else "never reported its exit status"))
        return 1
    return 0


def main(argv: list[str]) -> int:
    if "--" in argv:
        i = argv.index("--")
        own, pytest_args = argv[:i], argv[i + 1:]
    else:
        own, pytest_args = argv, []
    parser = argparse.ArgumentParser(
        prog="run_v2_lane.py", description=__doc__.split("\n\n")[0],
        epilog="Everything after -- goes to pytest (default: -q -m cgroup_v2 tests; with --systemd "
               "-q -m systemd tests), run from "
               f"{REPO} in the guest. Exit status: pytest's (5 becomes 1), else 1 if "
               f"conformance/run failed; {EXIT_SKIP} skipped "
               f"(QEMU or the kernel cannot be installed); {EXIT_TIMEOUT} timeout; "
               f"{EXIT_BROKEN} the lane itself failed.")
    parser.add_argument("--timeout", type=int, default=int(os.environ.get("PYRUNC_V2_LANE_TIMEOUT", 900)),
                        help="overall limit in seconds, installation and boot included "
                             "(default 900, or $PYRUNC_V2_LANE_TIMEOUT)")
    parser.add_argument("--boot-timeout", type=int, default=180,
                        help="limit for the guest to reach the pytest run (default 180)")
    parser.add_argument("--memory", type=int, default=3072, help="guest memory in MiB (default 3072)")
    parser.add_argument("--smp", type=int, default=min(2, os.cpu_count() or 1), help="guest vCPUs (default 2)")
    parser.add_argument("--rw", action="append", default=[], metavar="DIR",
                        help="share host DIR read-write at the same path (e.g. for --junitxml); "
                             "everything else the guest writes stays in its tmpfs overlay")
    parser.add_argument("--console-log", metavar="FILE", help="also write the guest console to FILE")
    parser.add_argument("--debug", action="store_true", help="kernel messages and `set -x` in the guest init (with --systemd also "
                             "systemd's status lines)")
    parser.add_argument("--systemd", action="store_true",
                        help="boot the guest with systemd as PID 1 (and dbus) and run the tests marked "
                             "systemd (default pytest args: -q -m systemd tests); no conformance/run "
                             "unless --conformance")
    parser.add_argument("--hybrid", action="store_true",
                        help="with --systemd: systemd's hybrid cgroup mode (v1 controllers, "
                             "cgroup2 at /sys/fs/cgroup/unified) instead of pure cgroup v2")
    parser.add_argument("--legacy", action="store_true",
                        help="with --systemd: systemd's legacy cgroup mode (v1 only: its "
                             "controllers and name=systemd, no cgroup2)")
    parser.add_argument("--no-conformance", dest="conformance", action="store_false", default=None,
                        help=f"run pytest only, not {' '.join(CONFORMANCE_ARGS)} after it "
                             "(the default with --systemd)")
    parser.add_argument("--conformance", dest="conformance", action="store_true",
                        help=f"run {' '.join(CONFORMANCE_ARGS)} after pytest (the default without --systemd)")
    args = parser.parse_args(own)
    if (args.hybrid or args.legacy) and not args.systemd:
        parser.error("--hybrid and --legacy are modes of --systemd")
    if args.hybrid and args.legacy:
        parser.error("--hybrid or --legacy, not both")
    if args.conformance is None:
        args.conformance = not args.systemd
    pytest_args = pytest_args or list(SYSTEMD_PYTEST_ARGS if args.systemd else DEFAULT_PYTEST_ARGS)
    if not any(a in ("no:cacheprovider", "-pno:cacheprovider") for a in pytest_args):
        pytest_args = ["-p", "no:cacheprovider", *pytest_args]

    def on_term(signum, _frame):
        raise SystemExit(128 + signum)
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGHUP, on_term)
    try:
        return run_lane(args, pytest_args)
    except Skip as why:
        bang = "!" * 78
        print(f"\n{bang}\n!!! cgroup-v2 lane SKIPPED: {why} !!!\n{bang}\n", flush=True)
        return EXIT_SKIP
    except Broken as why:
        log(f"FAILED: {why}")
        return EXIT_BROKEN
    except KeyboardInterrupt:
        log("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
