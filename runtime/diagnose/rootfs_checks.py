"""The rootfs as the container will see it: the program to run (found as the
init finds it: PATH from process.env, relative to cwd), whether this host can
run it (ELF machine), its loader and libraries, the user's entries in
/etc/passwd and /etc/group, cwd, and the sources of bind mounts.

Paths are resolved inside the rootfs (rootfs_files.open_in_root: a symlink
cannot lead out of it). A path under a bind mount of config.json is looked
up in the mount's source; one under any other mount (a tmpfs, proc) is not
known before the container runs and is not checked."""
import fnmatch
import os
import stat

from ..config import Config
from ..errors import ConfigError
from ..mountopts import parse as parse_options
from ..plan_ops import clean
from ..plan_process import path_env
from ..rootfs_files import open_in_root, read_in_root
from . import elf
from .findings import Report

LIBRARY_DIRS = ("/lib", "/usr/lib", "/usr/local/lib")
MULTIARCH = {62: "x86_64-linux-gnu", 3: "i386-linux-gnu", 183: "aarch64-linux-gnu",
             40: "arm-linux-gnueabihf", 243: "riscv64-linux-gnu", 21: "powerpc64le-linux-gnu",
             22: "s390x-linux-gnu"}
NOT_FILES = {"proc", "sysfs", "tmpfs", "devpts", "mqueue", "cgroup", "cgroup2", "none",
             "shm", "devtmpfs", "securityfs", "debugfs", "tracefs", "bpf", "overlay"}


class Unknown(Exception):
    """A path under a mount whose contents are not known before the run."""


class ContainerFiles:
    """Open a container path: in a bind mount's source, or in the rootfs."""

    def __init__(self, config: dict, bundle: str, rootfs: str):
        self.rootfs = rootfs
        self.mounts = []  # (destination, host source or None), in mount order
        for m in Config(config).mounts:
            dest = clean(m["destination"])
            source = os.path.join(bundle, m.get("source", "")) if _is_bind(m) else None
            self.mounts.append((dest, source))

    def open(self, path: str, flags: int = os.O_RDONLY) -> int | None:
        path = clean(path)
        for dest, source in reversed(self.mounts):  # the last mount over path wins
            if path == dest or path.startswith(dest.rstrip("/") + "/"):
                if source is None:
                    raise Unknown(dest)
                try:
                    return os.open(source + path[len(dest.rstrip("/")):], flags | os.O_CLOEXEC)
                except OSError:
                    return None
        return open_in_root(self.rootfs, path, flags)

    def before(self, count: int) -> "ContainerFiles":
        """The container's files as they are when its mount `count` is made."""
        view = object.__new__(ContainerFiles)
        view.rootfs, view.mounts = self.rootfs, self.mounts[:count]
        return view

    def lmode(self, path: str) -> int | None:
        """The mode of path itself (a symlink is not followed)."""
        parent, name = os.path.split(clean(path))
        if not name:
            return stat.S_IFDIR
        fd = self.open(parent, os.O_PATH | os.O_DIRECTORY)
        if fd is None:
            return None
        try:
            return os.stat(name, dir_fd=fd, follow_symlinks=False).st_mode
        except OSError:
            return None
        finally:
            os.close(fd)

    def mode(self, path: str) -> int | None:
        fd = self.open(path, os.O_PATH)
        if fd is None:
            return None
        try:
            return os.fstat(fd).st_mode
        finally:
            os.close(fd)


def check(config: dict, bundle: str, rootfs: str, report: Report) -> None:
    process = config["process"]
    files = ContainerFiles(config, bundle, rootfs)
    _mount_sources(config, bundle, report)
    _mount_destinations(files, config, report)
    for step in (_cwd, _program):
        try:
            step(files, process, report)
        except Unknown:
            pass  # under a tmpfs or the like: known only at run time
    _users(rootfs, process.get("user", {}), report)


# Filesystems the init mounts only on a real directory (RESOLVE_NO_SYMLINKS).
NO_SYMLINK_TYPES = ("proc", "sysfs")


def _mount_destinations(files: ContainerFiles, config: dict, report: Report) -> None:
    """A symlink on the way to a destination is followed inside the rootfs
    (a warning: the mount lands elsewhere than written); proc and sysfs
    refuse one (an error, as create's)."""
    for i, m in enumerate(Config(config).mounts):
        dest = clean(m["destination"])
        try:
            link = _first_symlink(files.before(i), dest)
        except Unknown:
            link = None
        if link is None:
            continue
        if m.get("type") in NO_SYMLINK_TYPES:
            report.error(f"/mounts/{i}/destination", f"{link} is a symlink in the rootfs: "
                         f"{m['type']} must be mounted on a real directory",
                         f"replace {link} by a directory in the image", path=link)
        else:
            report.warning(f"/mounts/{i}/destination", f"{link} is a symlink in the rootfs: "
                           f"the mount is made where it points, inside the rootfs", path=link)


def _first_symlink(files: ContainerFiles, path: str) -> str | None:
    parts = [p for p in path.split("/") if p]
    for n in range(1, len(parts) + 1):
        prefix = "/" + "/".join(parts[:n])
        mode = files.lmode(prefix)
        if mode is None:
            return None  # missing: create makes the rest as directories
        if stat.S_ISLNK(mode):
            return prefix
    return None


def _cwd(files: ContainerFiles, process: dict, report: Report) -> None:
    cwd = process.get("cwd", "/")
    mode = files.mode(cwd)
    if mode is not None and not stat.S_ISDIR(mode):
        report.error("/process/cwd", f"{cwd} is not a directory in the rootfs",
                     "point cwd at a directory (a missing one is created)", path=cwd)


def _program(files: ContainerFiles, process: dict, report: Report) -> None:
    program = _find_program(files, process, report)
    if program:
        _runnable(files, program, report, "/process/args/0")


def _find_program(files: ContainerFiles, process: dict, report: Report) -> str | None:
    """args[0] as the init finds it (csrc/init.c lookup): a name with a slash
    as it is (relative to cwd), else the first executable in PATH."""
    name = process["args"][0]
    cwd = process.get("cwd", "/")
    if "/" in name:
        path = os.path.normpath(os.path.join(cwd, name))
        mode = files.mode(path)
        if mode is None:
            report.error("/process/args/0", f"{name}: no such file in the rootfs",
                         "fix the path, or add the program to the rootfs", path=path)
            return None
        return path if _executable(mode, path, report) else None
    search = path_env(process.get("env", []))
    unknown = None
    for entry in search.split(":"):
        path = os.path.normpath(os.path.join(cwd, entry or ".", name))
        try:
            mode = files.mode(path)
        except Unknown as e:
            unknown = e  # it may be there at run time
            continue
        if mode is not None and stat.S_ISREG(mode) and mode & 0o111:
            return path
    if unknown:
        raise unknown
    report.error("/process/args/0", f"{name}: not found in the container's PATH ({search})",
                 "give the full path, set PATH in /process/env, or add the program to the "
                 "rootfs")
    return None


def _executable(mode: int, path: str, report: Report) -> bool:
    if not stat.S_ISREG(mode):
        report.error("/process/args/0", f"{path} is not a regular file", path=path)
        return False
    if not mode & 0o111:
        report.error("/process/args/0", f"{path} is not executable (mode {mode & 0o7777:o})",
                     f"chmod +x {path} in the rootfs", path=path)
        return False
    return True


def _runnable(files: ContainerFiles, path: str, report: Report, pointer: str,
              depth: int = 0) -> None:
    """ELF: a machine this host runs, its loader and libraries present. A
    script: its interpreter present and runnable."""
    fd = files.open(path)
    if fd is None:
        return
    try:
        head = os.pread(fd, 256, 0)
        binary = elf.read(fd) if head.startswith(b"\x7fELF") else None
    finally:
        os.close(fd)
    if head.startswith(b"#!") and depth < 4:
        words = head[2:].split(b"\n")[0].split()
        if words:
            interp = words[0].decode(errors="replace")
            mode = files.mode(interp)
            if mode is None:
                report.error(pointer, f"{path} is a script for {interp}, which is not in the "
                             "rootfs", f"add {interp} to the rootfs, or fix the #! line",
                             path=interp)
            elif _executable(mode, interp, report):
                _runnable(files, interp, report, pointer, depth + 1)
        return
    if binary is None:
        if not head.startswith(b"#!"):
            report.error(pointer, f"{path} is neither an ELF program nor a #! script",
                         "the kernel cannot execute it (exec format error)", path=path)
        return
    if not elf.runs_here(binary.machine):
        report.error(pointer, f"{path} is a {binary.machine_name()} program; this host runs "
                     f"{os.uname().machine}", "use an image for this host's architecture, or "
                     "register an emulator with binfmt_misc", path=path)
        return
    if binary.interp:
        if files.mode(binary.interp) is None:
            report.error(pointer, f"{path} needs the loader {binary.interp}, which is not in "
                         "the rootfs", "add the image's libc, or use a static program",
                         path=binary.interp)
            return
        _libraries(files, path, binary, report, pointer)


def _libraries(files: ContainerFiles, path: str, binary: elf.Elf, report: Report,
               pointer: str) -> None:
    """Every DT_NEEDED library, transitively, found as the loader searches."""
    dirs = _library_dirs(files, binary)
    seen, todo = set(), [(path, binary)]
    while todo and len(seen) < 200:
        owner, obj = todo.pop()
        here = [d.replace("$ORIGIN", os.path.dirname(owner)) for d in obj.search]
        for name in obj.needed:
            if name in seen:
                continue
            seen.add(name)
            found = _find_library(files, name, here + dirs, obj)
            if found is None:
                report.error(pointer, f"{path} needs {name}"
                             + (f" (through {owner})" if owner != path else "")
                             + ", which is not in the rootfs's library directories",
                             "add the library to the image, or use a static program", path=path)
            elif found[1].needed:
                todo.append(found)


def _find_library(files: ContainerFiles, name: str, dirs: list[str], want: elf.Elf):
    """(path, Elf) of the library, None if missing; a directory under a mount
    known only at run time may hold it: (path, an Elf that needs nothing)."""
    candidates = [name] if "/" in name else [os.path.join(d, name) for d in dirs]
    for candidate in candidates:
        try:
            fd = files.open(candidate)
        except Unknown:
            return candidate, elf.Elf(want.bits, want.machine)
        if fd is None:
            continue
        try:
            obj = elf.read(fd)
        finally:
            os.close(fd)
        if obj and obj.bits == want.bits and obj.machine == want.machine:
            return candidate, obj
    return None


def _library_dirs(files: ContainerFiles, binary: elf.Elf) -> list[str]:
    """ld.so.conf (glibc), the multiarch and lib64 defaults, musl's path file."""
    dirs = list(_ld_so_conf(files, "/etc/ld.so.conf", 0))
    triplet = MULTIARCH.get(binary.machine)
    if triplet:
        dirs += [f"/lib/{triplet}", f"/usr/lib/{triplet}"]
    if binary.bits == 64:
        dirs += ["/lib64", "/usr/lib64"]
    dirs += LIBRARY_DIRS
    if binary.interp and "ld-musl-" in binary.interp:
        name = os.path.basename(binary.interp).rsplit(".so", 1)[0]  # ld-musl-x86_64
        musl = _read(files, f"/etc/{name}.path") or ""
        dirs = musl.replace(":", "\n").split() + dirs
    return dirs


def _ld_so_conf(files: ContainerFiles, path: str, depth: int) -> list[str]:
    text = _read(files, path)
    if text is None or depth > 3:
        return []
    out = []
    for line in text.splitlines():
        line = line.split("#")[0].strip()
        if line.startswith("include "):
            pattern = line.split(None, 1)[1]
            directory, _, glob = pattern.rpartition("/")
            for entry in _list(files, directory or "/etc"):
                if fnmatch.fnmatch(entry, glob):
                    out += _ld_so_conf(files, f"{directory}/{entry}", depth + 1)
        elif line.startswith("/"):
            out.append(line)
    return out


def _read(files: ContainerFiles, path: str) -> str | None:
    try:
        fd = files.open(path)
    except Unknown:
        return None
    if fd is None:
        return None
    try:
        return os.read(fd, 1 << 16).decode(errors="replace")
    finally:
        os.close(fd)


def _list(files: ContainerFiles, path: str) -> list[str]:
    try:
        fd = files.open(path, os.O_RDONLY | os.O_DIRECTORY)
    except Unknown:
        return []
    if fd is None:
        return []
    try:
        return sorted(os.listdir(fd))
    finally:
        os.close(fd)


def _users(rootfs: str, user: dict, report: Report) -> None:
    """A uid or gid missing from the image's files runs anyway (as runc), with
    HOME=/ and no name: worth a warning where the image has the files."""
    passwd = read_in_root(rootfs, "/etc/passwd")
    uid = user.get("uid", 0)
    if passwd is not None and uid != 0 and not _has_id(passwd, 2, uid):
        report.warning("/process/user/uid", f"uid {uid} has no entry in the rootfs's "
                       "/etc/passwd: the process runs with HOME=/ and no user name",
                       "add the user to /etc/passwd, or use a uid it lists", path="/etc/passwd")
    group = read_in_root(rootfs, "/etc/group")
    if group is None:
        return
    gids = [("/process/user/gid", user.get("gid", 0))]
    gids += [(f"/process/user/additionalGids/{i}", g)
             for i, g in enumerate(user.get("additionalGids", []))]
    for pointer, gid in gids:
        if gid != 0 and not _has_id(group, 2, gid):
            report.warning(pointer, f"gid {gid} has no entry in the rootfs's /etc/group",
                           "add the group, or use a gid it lists", path="/etc/group")


def _has_id(data: bytes, field: int, wanted: int) -> bool:
    for line in data.decode(errors="replace").splitlines():
        fields = line.split(":")
        if len(fields) > field and fields[field] == str(wanted):
            return True
    return False


def _mount_sources(config: dict, bundle: str, report: Report) -> None:
    for i, m in enumerate(Config(config).mounts):
        source = m.get("source", "")
        if not _is_bind(m) and (m.get("type") in NOT_FILES or not source.startswith("/")):
            continue  # a filesystem's name, not a path
        host = os.path.join(bundle, source)
        if not os.path.lexists(host):
            report.error(f"/mounts/{i}/source", f"{host}: no such file or directory",
                         "create it, or fix the path (relative paths start at the bundle)")


def _is_bind(mount: dict) -> bool:
    try:
        return parse_options(mount.get("options", []), mount.get("type", "")).is_bind
    except ConfigError:
        return False  # bad options: the plan's finding
