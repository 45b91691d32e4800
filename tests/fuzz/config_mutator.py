"""Mutated config.json files for the `pyrunc create` fuzz test, and the fence
that keeps every one of them inside throw-away places.

Two halves:

* `Mutator` is seeded and deterministic: case N of seed S is always built from
  `random.Random(f"{S}:{N}")` and nothing else, so one case can be replayed on
  its own (PYRUNC_FUZZ_SEED=S PYRUNC_FUZZ_CASE=N). It makes wrong types at random
  JSON pointers, deleted keys, odd numbers and strings, unknown enum values,
  duplicated namespaces, bogus mounts, devices, sysctls, rlimits, capabilities,
  hooks, deep nesting, and raw bytes (non-UTF-8, truncated JSON, other encodings).

* `make_safe` is the fence. It never trusts pyrunc's own validation: whatever a
  mutation did, a config that reaches pyrunc can only name host paths inside the
  case's bundle directory, can only join namespaces of a throw-away process,
  always gets a new (or throw-away) mount namespace, only sets sysctls under
  net., kernel.shm*, kernel.msg* and fs.mqueue. in namespaces of its own, never
  mounts a filesystem that could share a superblock with the host's (no
  `remount`, no block-device or other kernel-global filesystem types), never
  makes a device node of a real host device other than the harmless character
  devices, and keeps linux.cgroupsPath exactly one level below the test's
  cgroup parent. `violations()` is the same check without changing anything:
  the test refuses to run a case that still has one.
"""
import copy
import json
import os
import random
import stat

# -- the fence ----------------------------------------------------------------

# Filesystem types that always get a superblock of their own (or, for sysfs and
# mqueue, the one of a namespace) and have no kernel-global mount options.
SAFE_FS_TYPES = {"proc", "tmpfs", "sysfs", "devpts", "mqueue", "ramfs"}
# "cgroup" is allowed only spelled exactly so: pyrunc handles it itself (it
# passes no options to the kernel); "cgroup\0x" would reach the kernel as a
# real cgroup v1 mount with options of the config's choosing.
SYSCTL_PREFIXES = ("net.", "kernel.shm", "kernel.msg", "fs.mqueue.")
SAFE_CHAR_DEVICES = {(1, 3), (1, 5), (1, 7), (1, 8), (1, 9), (5, 0)}
NS_TYPES = ("pid", "network", "mount", "ipc", "uts", "cgroup", "time", "user")
# Host directories whose entries come and go: a path there that does not exist
# now may exist a moment later.
VOLATILE = ("/proc", "/sys", "/dev", "/run")


def _registered_filesystems() -> set[str]:
    try:
        with open("/proc/filesystems") as f:
            return {line.split()[-1] for line in f if line.strip()}
    except OSError:
        return set()


REGISTERED_FS = _registered_filesystems() | {"cgroup", "cgroup2", "ext4", "xfs", "btrfs",
                                             "overlay", "devtmpfs", "debugfs", "tracefs",
                                             "securityfs", "bpf", "binfmt_misc", "configfs",
                                             "fuse", "hugetlbfs", "pstore", "efivarfs",
                                             "cpuset", "nfs", "nfs4", "9p", "virtiofs"}


def _harmless_executables() -> set[str]:
    out = set()
    for p in ("/bin/true", "/bin/false", "/usr/bin/true", "/usr/bin/false"):
        if os.path.exists(p):
            out.add(os.path.realpath(p))
    return out


HARMLESS_EXECUTABLES = _harmless_executables()


class Fence:
    """Everything a fuzz case may touch on the host."""

    def __init__(self, case_dir: str, cgroup_parent: str, ns_paths: dict[str, str], cid: str):
        self.case_dir = os.path.realpath(case_dir)
        self.cgroup_parent = cgroup_parent.rstrip("/")
        # type -> /proc/PID/ns/X of a throw-away process, for types whose
        # namespace differs from the test's own (checked by the caller)
        self.ns_paths = dict(ns_paths)
        self.cid = cid

    @property
    def default_cgroups_path(self) -> str:
        return f"{self.cgroup_parent}/{self.cid}"

    def gone(self, what: str) -> str:
        """A path in the case dir that does not exist."""
        return os.path.join(self.case_dir, f"no-such-{what}")

    def inside(self, path: str) -> bool:
        try:
            real = os.path.realpath(path)
        except (OSError, ValueError):
            return False  # cannot tell: treat it as outside
        return real == self.case_dir or real.startswith(self.case_dir + "/")


def _c(s: str) -> str:
    """What C sees of a Python string: everything before the first NUL."""
    return s.split("\0", 1)[0]


def _host_candidates(raw: str, base: str) -> set[str]:
    """Every host path `raw` might come to mean, whether Python or C reads it,
    normalized or not. Relative paths are relative to the bundle, which is also
    the cwd of pyrunc and of the init until pivot_root (the test runs it there)."""
    out = set()
    for s in (raw, _c(raw)):
        joined = os.path.join(base, s)
        for p in (joined, os.path.normpath(joined)):
            out.add(_c(p))
    out.discard("")
    return out


def _volatile(p: str) -> bool:
    return any(p == v or p.startswith(v + "/") for v in VOLATILE)


def _path_ok(raw, fence: Fence, allow=frozenset()) -> bool:
    """A host path a config names is fine if everything it could mean either
    lies inside the case dir or does not exist (and cannot appear during the
    case: nothing creates host paths outside the case dir, except under /proc,
    /sys, /dev and /run). allow: exact extra paths (throw-away namespaces)."""
    if not isinstance(raw, str):
        return True  # wrong types never reach a syscall: schema and code reject them
    if raw in allow:
        return True
    for p in _host_candidates(raw, fence.case_dir):
        if p in allow:
            continue
        if os.path.lexists(p):
            if not fence.inside(p):
                return False
        elif _volatile(p) and not fence.inside(_existing_ancestor(p)):
            return False
    return True


def _existing_ancestor(p: str) -> str:
    while not os.path.lexists(p):
        p = os.path.dirname(p)
    return p


def _hook_path_ok(raw, fence: Fence) -> bool:
    """If hooks ever run, the only programs they may name are true and false."""
    if not isinstance(raw, str):
        return True
    for p in _host_candidates(raw, fence.case_dir):
        if os.path.lexists(p):
            try:
                real = os.path.realpath(p)
            except (OSError, ValueError):
                return False
            if real not in HARMLESS_EXECUTABLES:
                return False
        elif _volatile(p) and not fence.inside(_existing_ancestor(p)):
            return False
    return True


def _kernel_dev(major: int, minor: int) -> tuple[int, int]:
    """The device the kernel gets from makedev(major, minor) cut to 32 bits
    (glibc refuses what does not fit; other libcs truncate)."""
    dev = (((major & 0xFFFFF000) << 32) | ((major & 0xFFF) << 8)
           | ((minor & 0xFFFFFF00) << 12) | (minor & 0xFF)) & 0xFFFFFFFF
    return (dev >> 8) & 0xFFF, (dev & 0xFF) | ((dev >> 12) & 0xFFF00)


def _real_device(kind: str, major: int, minor: int) -> bool:
    return os.path.exists(f"/sys/dev/{kind}/{major}:{minor}")


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _good_ns(entries: list, ns_type: str, fence: Fence) -> bool:
    """Is there an entry giving the container a namespace of this type that is
    not the host's: new (no path) or a throw-away process's."""
    for e in entries:
        if not isinstance(e, dict) or e.get("type") != ns_type:
            continue
        path = e.get("path")
        if not path or path == fence.ns_paths.get(ns_type):
            return True
    return False


def make_safe(config, fence: Fence) -> list[str]:
    """Change `config` in place so that it stays inside the fence; returns what
    was changed (empty: it already was)."""
    fixes: list[str] = []
    if not isinstance(config, dict):
        return fixes  # pyrunc stops at "expected a JSON object"

    # root: the rootfs is a directory inside the case dir (or nothing at all)
    root = config.get("root")
    if isinstance(root, dict) and not _path_ok(root.get("path"), fence):
        fixes.append(f"/root/path {root['path']!r} -> 'rootfs'")
        root["path"] = "rootfs"

    # linux: always present with a mount namespace and a cgroup under the parent
    if "linux" not in config:
        config["linux"] = {}
        fixes.append("/linux added")
    linux = config["linux"]
    if isinstance(linux, dict):
        if "namespaces" not in linux:
            linux["namespaces"] = []
            fixes.append("/linux/namespaces added")
        nss = linux["namespaces"]
        if isinstance(nss, list):
            allow = frozenset(fence.ns_paths.values())
            for i, e in enumerate(nss):
                if isinstance(e, dict) and "path" in e and not _path_ok(e["path"], fence, allow):
                    fixes.append(f"/linux/namespaces/{i}/path {e['path']!r} replaced")
                    e["path"] = fence.gone("ns")
            needs = {"mount"}
            if "hostname" in config or "domainname" in config:
                needs.add("uts")
            sysctl = linux.get("sysctl")
            if isinstance(sysctl, dict):
                for key in list(sysctl):
                    if not isinstance(key, str) or not _c(key).startswith(SYSCTL_PREFIXES):
                        fixes.append(f"/linux/sysctl/{key!r} removed")
                        del sysctl[key]
                    elif _c(key).startswith("net."):
                        needs.add("network")
                    else:
                        needs.add("ipc")
            for t in sorted(needs):
                if not _good_ns(nss, t, fence):
                    nss.append({"type": t})
                    fixes.append(f"/linux/namespaces: {t} added")
        cg = linux.get("cgroupsPath")
        if isinstance(cg, str) or not cg:
            if not _cgroups_path_ok(cg, fence):
                fixes.append(f"/linux/cgroupsPath {cg!r} -> default")
                linux["cgroupsPath"] = fence.default_cgroups_path
        devices = linux.get("devices")
        if isinstance(devices, list):
            for i, d in enumerate(devices):
                if isinstance(d, dict) and not _device_ok(d):
                    fixes.append(f"/linux/devices/{i} {d.get('major')}:{d.get('minor')} -> 1:3")
                    d["major"], d["minor"] = 1, 3
        net = linux.get("netDevices")
        if isinstance(net, dict):
            for name in list(net):
                if isinstance(name, str) and _c(name) and "/" not in _c(name) \
                        and os.path.lexists(f"/sys/class/net/{_c(name)}"):
                    fixes.append(f"/linux/netDevices/{name} removed (a host interface)")
                    del net[name]
        resources = linux.get("resources")
        if isinstance(resources, dict) and isinstance(resources.get("unified"), dict):
            for key in list(resources["unified"]):
                if isinstance(key, str) and ("/" in key or key.startswith(".")):
                    fixes.append(f"/linux/resources/unified/{key!r} removed")
                    del resources["unified"][key]
        seccomp = linux.get("seccomp")
        if isinstance(seccomp, dict) and not _path_ok(seccomp.get("listenerPath"), fence):
            fixes.append("/linux/seccomp/listenerPath replaced")
            seccomp["listenerPath"] = fence.gone("listener")

    # mounts
    mounts = config.get("mounts")
    if isinstance(mounts, list):
        for i, m in enumerate(mounts):
            if not isinstance(m, dict):
                continue
            t = m.get("type")
            if isinstance(t, str) and t != "cgroup" and _c(t) not in SAFE_FS_TYPES \
                    and _c(t) in REGISTERED_FS:
                fixes.append(f"/mounts/{i}/type {t!r} -> 'nosuchfs'")
                m["type"] = "nosuchfs"
            opts = m.get("options")
            if isinstance(opts, list) and "remount" in opts:
                fixes.append(f"/mounts/{i}/options: remount removed")
                m["options"] = [o for o in opts if o != "remount"]
            if not _path_ok(m.get("source"), fence):
                fixes.append(f"/mounts/{i}/source {m['source']!r} replaced")
                m["source"] = fence.gone("source")

    # hooks: if a hook ever runs, it is /bin/true or /bin/false
    hooks = config.get("hooks")
    if isinstance(hooks, dict):
        for name, entries in hooks.items():
            if not isinstance(entries, list):
                continue
            for j, h in enumerate(entries):
                if isinstance(h, dict) and not _hook_path_ok(h.get("path"), fence):
                    fixes.append(f"/hooks/{name}/{j}/path {h['path']!r} replaced")
                    h["path"] = fence.gone("hook")
    return fixes


def _cgroups_path_ok(cg, fence: Fence) -> bool:
    """A string one level below the parent, by every reading of it; anything
    falsy would make pyrunc fall back to the caller's own cgroup."""
    if not isinstance(cg, str) or not cg:
        return False
    for s in (cg, _c(cg)):
        if not s.startswith("/"):
            return False
        # as runtime/cgroups/hierarchy.py reads it: normalized, leading "/"s stripped
        norm = "/" + os.path.normpath("/" + s).lstrip("/")
        if os.path.dirname(norm) != fence.cgroup_parent or norm == fence.cgroup_parent:
            return False
    return True


def _device_ok(d: dict) -> bool:
    t, major, minor = d.get("type"), d.get("major"), d.get("minor")
    if not (_is_int(major) and _is_int(minor)):
        return True  # pyrunc cannot pack it: no mknod happens
    if not (0 <= major < 2**32 and 0 <= minor < 2**32):
        return True
    km = _kernel_dev(major, minor)
    if t == "b":
        return not _real_device("block", *km) and not _real_device("block", major, minor)
    if km in SAFE_CHAR_DEVICES and (major, minor) == km:
        return True
    # c, u, p and anything else: refuse real character and block devices
    return not any(_real_device(k, *dev) for k in ("char", "block") for dev in (km, (major, minor)))


def violations(config, fence: Fence) -> list[str]:
    """What make_safe would still change: must be empty before a case runs."""
    return make_safe(copy.deepcopy(config), fence)


# -- raw JSON literals --------------------------------------------------------

class Raw:
    """A JSON value written as literal text (deep nesting, a 5000-digit number,
    NaN): `stand_in` is what the fence checks in its place."""

    def __init__(self, text: str, stand_in, label: str):
        self.text = text
        self.stand_in = stand_in
        self.label = label

    def __repr__(self):
        return f"Raw({self.label})"

    def __deepcopy__(self, memo):
        return self


def stand_ins(value):
    """The config with every Raw replaced by its stand-in (for the fence)."""
    if isinstance(value, Raw):
        return copy.deepcopy(value.stand_in)
    if isinstance(value, dict):
        return {k: stand_ins(v) for k, v in value.items()}
    if isinstance(value, list):
        return [stand_ins(v) for v in value]
    return value


def has_raw(value) -> bool:
    if isinstance(value, Raw):
        return True
    if isinstance(value, dict):
        return any(has_raw(v) for v in value.values())
    if isinstance(value, list):
        return any(has_raw(v) for v in value)
    return False


def dumps(config, ensure_ascii: bool = True, indent=None) -> bytes:
    """Serialize, writing Raw values as their literal text. Lone surrogates
    become \\ud800 escapes (ensure_ascii) or CESU-8 bytes (not UTF-8)."""
    raws: dict[str, Raw] = {}

    def swap(v):
        if isinstance(v, Raw):
            key = f"\x01RAW{len(raws)}\x01"
            raws[key] = v
            return key
        if isinstance(v, dict):
            return {k: swap(x) for k, x in v.items()}
        if isinstance(v, list):
            return [swap(x) for x in v]
        return v

    text = json.dumps(swap(config), ensure_ascii=ensure_ascii, indent=indent)
    for key, raw in raws.items():
        text = text.replace(json.dumps(key, ensure_ascii=ensure_ascii), raw.text, 1)
    return text.encode("utf-8", "surrogatepass")


# -- vocabularies ---------------------------------------------------------------

ODD_STRINGS = [
    "", " ", "\0", "a\0b", "\n", "a\nb", "\r\n", "\t", "é", "日本語", "😀", "\u202e",
    "\ufeff", "\ud800", "\udcff", "a\ud800b", "%s%s%n%x", "{}", "[]", "..", "../..", "/..",
    "/../../..", ".", "//", "/./", "~", "$HOME", "a=b", "=", "\\", '"', "\x7f", "\x1b[31m",
    "null", "0", "-1", "true", "A" * 255, "A" * 256, "A" * 4096, "A" * 70000, "/a" * 2100,
    "é" * 3000, "\0" * 8, " leading", "trailing ", "x,y", "x=y,z", "\u0000\u0001\u001f",
]
ODD_NUMBERS = [
    0, -1, 1, 2, -0.0, 0.5, 1.0, 3.0, 1024.0, -1.5, 2**31 - 1, 2**31, 2**32 - 1, 2**32,
    2**53 + 1, 2**63 - 1, 2**63, 2**64 - 1, 2**64, -(2**63), -(2**63) - 1, 10**30,
    -(10**30), 1e308, -1e308, 1e-308, 4096, 65536, 1e19, 1.8446744073709552e19,
]
WRONG_TYPES = [None, True, False, 0, -1, 1.5, "", "x", [], [1], ["x"], {}, {"a": 1}, [[]],
               "0", "true", "null", [None], {"": ""}]
FS_TYPES = ["proc", "tmpfs", "sysfs", "devpts", "mqueue", "cgroup", "bind", "none", "",
            "ramfs", "nosuchfs", "PROC", "tmpfs ", "proc\0", "x" * 300, "rbind", "\ud800"]
MOUNT_OPTIONS = [
    "ro", "rw", "nosuid", "suid", "nodev", "dev", "noexec", "exec", "sync", "async",
    "dirsync", "mand", "nomand", "noatime", "atime", "nodiratime", "diratime", "relatime",
    "norelatime", "strictatime", "nostrictatime", "lazytime", "nolazytime", "nosymfollow",
    "symfollow", "silent", "loud", "bind", "rbind", "private", "rprivate", "shared",
    "rshared", "slave", "rslave", "unbindable", "runbindable", "rro", "rrw", "rnosuid",
    "rsuid", "rnodev", "rdev", "rnoexec", "rexec", "rnodiratime", "rdiratime",
    "rnosymfollow", "rsymfollow", "rrelatime", "ratime", "rnostrictatime", "rnoatime",
    "rstrictatime", "rnorelatime", "idmap", "ridmap", "", "mode=755", "mode=99999",
    "mode=-1", "size=-1", "size=1k", "size=0", "size=99999999999999999999", "nr_inodes=0",
    "uid=4294967295", "gid=abc", "newinstance", "ptmxmode=0666", "hidepid=2",
    "subset=pid", "ro,rw", "rw,", ",", "=", "x=" + "a" * 5000, "nosuid\0", "bind\0", "RO",
    "rbind ", "tmpcopyup", "huge=always", "mpol=bind:99", "\n", "é", "\ud800",
]
DESTINATIONS = [
    "/x", "/tmp/x", "/", "", "relative", "/proc", "/proc/self", "/proc/sys/kernel/x",
    "/sys", "/sys/fs/cgroup", "/sys/fs/cgroup/sub", "/dev", "/dev/null", "/dev/pts",
    "/dev/shm/x", "/etc/passwd", "/bin/sh", "/ocitest", "/a/b/c/d/e", "/..", "/../../etc",
    "/x/../..", "//x", "/x/", "/x/.", "/bin", "/bin/busybox/x", "/" + "a" * 300,
    "/a" * 2100, "/é", "/a\nb", "/a\0b", "/dev/fd/0", "/proc/self/fd/1", "/tmp/\ud800",
    "/proc/sysrq-trigger", "/sys/kernel", "/dev/mqueue",
]
SOURCES = ["proc", "tmpfs", "none", "", "srcdir", "srcfile", "srclink", "srcfifo", "rootfs",
           "rootfs/bin", "rootfs/etc/passwd", "no-such", "./srcdir", "srcdir/f", "srcdir/d",
           "srcdir/../srcfile", "srcdir\0", "srcdir/" + "a" * 300, "\ud800", "sysfs"]
DEVICE_TYPES = ["c", "b", "u", "p", "x", "", "C", "cc", "\0", "c\0"]
DEVICE_PATHS = ["/dev/fuzz", "/dev/null", "/dev/zero", "/dev/pts/ptmx", "/dev/../dev/x", "/",
                "", "relative", "/dev/" + "a" * 300, "/dev/a\nb", "/etc/passwd",
                "/bin/busybox", "/proc/x", "/sys/x", "/dev/fd/0", "/dev/x/y/z", "/dev/\ud800",
                "/tmp", "/dev/pts", "/dev/shm/x"]
SYSCTL_KEYS = [
    "net.ipv4.ip_forward", "net.ipv4.conf.all.forwarding", "net.ipv4.ping_group_range",
    "net.core.somaxconn", "net.ipv6.conf.all.disable_ipv6", "net.ipv4.ip_unprivileged_port_start",
    "net.nosuch", "net.", "net..", "net.ipv4/conf/all/forwarding", "net.ipv4.tcp_syncookies",
    "kernel.shmmax", "kernel.shmall", "kernel.shm_rmid_forced", "kernel.shmmni",
    "kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.shmnosuch", "kernel.msg",
    "fs.mqueue.queues_max", "fs.mqueue.msg_max", "fs.mqueue.nosuch", "fs.mqueue.",
    "net.ipv4.ip_forward\0x", "net.\ud800", "net." + "a" * 300, "net.ipv4.conf.lo.forwarding",
]
SYSCTL_VALUES = ["1", "0", "", "-1", "abc", "1\n", "1 2", "0\0 1", "9" * 100, "x" * 5000,
                 "é", "\ud800", "0 2147483647", "18446744073709551615"]
RLIMIT_TYPES = [
    "RLIMIT_CPU", "RLIMIT_FSIZE", "RLIMIT_DATA", "RLIMIT_STACK", "RLIMIT_CORE", "RLIMIT_RSS",
    "RLIMIT_NPROC", "RLIMIT_NOFILE", "RLIMIT_MEMLOCK", "RLIMIT_AS", "RLIMIT_LOCKS",
    "RLIMIT_SIGPENDING", "RLIMIT_MSGQUEUE", "RLIMIT_NICE", "RLIMIT_RTPRIO", "RLIMIT_RTTIME",
    "RLIMIT_FOO", "rlimit_nofile", "RLIMIT_", "NOFILE", "", "RLIMIT_NOFILE ", "RLIMIT_NOFILE\0",
]
CAPS = [
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_KILL", "CAP_SETUID", "CAP_SETPCAP", "CAP_NET_ADMIN",
    "CAP_SYS_ADMIN", "CAP_SYS_MODULE", "CAP_MKNOD", "CAP_AUDIT_WRITE", "CAP_PERFMON",
    "CAP_BPF", "CAP_CHECKPOINT_RESTORE", "CAP_FOO", "cap_chown", "CHOWN", "", "CAP_SYS_ADMIN ",
    "CAP_", "CAP_LAST_CAP", "CAP_CHOWN\0", "CAP_41", "\ud800",
]
CAP_SETS = ["bounding", "effective", "permitted", "inheritable", "ambient", "Bounding", "other"]
VERSIONS = ["1.0.0", "1.0.2", "1.1.0", "1.2.0", "1.3.0", "1.3.99", "1.4.0", "0.9.0", "2.0.0",
            "1.0", "1", "", "1.0.0-rc1", "1.0.0+build.5", "01.0.0", "1.0.0\n", "v1.0.0",
            "1.0.0-", "1.2.3.4", "9" * 30 + ".0.0", "1." + "9" * 30 + ".0",
            "1." + "9" * 5000 + ".0", "1.0." + "9" * 5000, "1.0.0-" + "a" * 5000, "\ud800"]
HOSTNAMES = ["", "h", "a" * 64, "a" * 65, "a" * 100000, "h\0x", "h\nx", "é" * 40, "\ud800",
             "-", ".", "a.b.c", "host name"]
PROPAGATIONS = ["shared", "slave", "private", "unbindable", "rshared", "rslave", "rprivate",
                "runbindable", "", "bogus", "SHARED", "rshared\0"]
PATH_LISTS = ["/proc/kcore", "/", "/proc", "/etc/passwd", "relative", "", "/nonexistent",
              "/dev/null", "/a\0b", "/" + "a" * 5000, "/proc/self/fd/0", "/sys", "/dev",
              "/ocitest", "/bin", "/tmp", "/\ud800", "/proc/sys", "/sys/fs/cgroup"]
CWDS = ["/", "relative", "", "/nonexistent", "/ocitest", "/proc", "/a" * 2100, "/..",
        "/../../..", "/\ud800", "/é", "/tmp/x/y", "/dev/null", "/etc/passwd/x", "/proc/self/cwd",
        "/sys/fs/cgroup", "//", "/tmp/" + "a" * 300]
ARGS = [[], [""], ["/ocitest", "\0"], ["/ocitest\0x"], ["a" * 100000], ["\ud800"],
        ["/bin/sh"], ["sh"], ["nosuch"], ["/"], ["/proc/self/exe"], ["/ocitest"] + ["x"] * 5000,
        ["./ocitest"], ["ocitest"], ["/bin"], ["é"], ["/dev/null"], ["/bin/sh", "\n"]]
ENVS = [[], ["PATH="], ["=x"], ["A"], ["PATH=/nonexistent"], ["A=\0"], ["\ud800=1"],
        ["HOME=" + "x" * 5000], ["A=1"] * 5000, ["PATH=" + ":" * 1000], ["PATH=relative"],
        ["HOME="], ["LISTEN_FDS=3"], [""]]


class Case:
    """One fuzz case: the config (None for raw-only cases), the bytes written
    as config.json, and what was done to get there."""

    def __init__(self, n: int, config, data: bytes, ops: list[str], raw: bool):
        self.n = n
        self.config = config
        self.data = data
        self.ops = ops
        self.raw = raw  # data is not dumps(config)

    def describe(self) -> str:
        return "; ".join(self.ops) or "(no mutation)"


def pointers(value, prefix=()):
    """Every (path) in a JSON tree, the root included."""
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out += pointers(v, prefix + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += pointers(v, prefix + (i,))
    return out


def pointer_text(path) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in path) or "(root)"


def get_at(tree, path):
    for p in path:
        tree = tree[p]
    return tree


def set_at(tree, path, value):
    if not path:
        return value
    get_at(tree, path[:-1])[path[-1]] = value
    return tree


def delete_at(tree, path):
    parent = get_at(tree, path[:-1])
    del parent[path[-1]]


def short(value, limit=80) -> str:
    if isinstance(value, Raw):
        return repr(value)
    try:
        text = json.dumps(value, ensure_ascii=True)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class Mutator:
    """Deterministic mutations of one base config."""

    def __init__(self, seed: str, base_config: dict):
        self.seed = str(seed)
        self.base_config = copy.deepcopy(base_config)

    # the base of a case: the fixture's config in this case's bundle
    def base(self, fence: Fence) -> dict:
        config = copy.deepcopy(self.base_config)
        config["root"]["path"] = "rootfs"
        config["linux"]["cgroupsPath"] = fence.default_cgroups_path
        return config

    def case(self, n: int, fence: Fence) -> Case:
        rng = random.Random(f"{self.seed}:{n}")
        config = self.base(fence)
        ops: list[str] = []
        roll = rng.random()
        if roll < 0.04:
            return self._finish(n, rng, config, ["(valid base)"], fence)
        if roll < 0.10:
            return self._raw_only(n, rng, config, fence)
        count = 1
        while count < 6 and rng.random() < 0.45:
            count += 1
        for _ in range(count):
            op = rng.choices(self.OPERATORS, weights=[w for _, w in self.OPERATORS])[0][0]
            try:
                desc = op(self, rng, config, fence)
            except (KeyError, IndexError, TypeError, AttributeError):
                desc = None  # the tree no longer has the shape this operator wants
            if desc:
                ops.append(desc)
            if not isinstance(config, dict):
                break
        return self._finish(n, rng, config, ops, fence)

    def _finish(self, n, rng, config, ops, fence) -> Case:
        fixes = make_safe(config, fence) if isinstance(config, dict) else []
        if isinstance(config, dict) and has_raw(config):
            # the fence also checks the stand-ins of raw literals
            probe = stand_ins(config)
            extra = make_safe(probe, fence)
            if extra:  # a raw literal where a checked path would be: drop it
                config = probe
                fixes += make_safe(config, fence)
        if fixes:
            ops.append("fence: " + ", ".join(fixes))
        data = dumps(config, ensure_ascii=rng.random() < 0.7,
                     indent=rng.choice([None, None, 1, 2]))
        raw = False
        if not has_raw(config) and rng.random() < 0.08:
            data, desc = self._mangle_bytes(rng, data)
            ops.append(desc)
            raw = True
            if not self._raw_safe(data, fence):
                data = data[: max(1, len(data) // 2)]  # truncated: cannot parse
                ops.append("unsafe after mangling: truncated instead")
        return Case(n, config, data, ops, raw)

    # -- raw bytes --

    def _raw_only(self, n, rng, config, fence) -> Case:
        make_safe(config, fence)
        text = dumps(config)
        choices = [
            ("empty file", b""),
            ("whitespace", b" \n\t "),
            ("null", b"null"),
            ("array", b"[]"),
            ("string", b'"config"'),
            ("number", b"1"),
            ("5000-digit number", b"1" * 5000),
            ("open brace", b"{"),
            ("empty object", b"{}"),
            ("NaN", b"NaN"),
            ("deep array", b"[" * 100000 + b"]" * 100000),
            ("deep object", b'{"a":' * 50000 + b"1" + b"}" * 50000),
            ("UTF-16 BOM only", b"\xff\xfe"),
            ("NUL bytes", b"\0" * 64),
            ("truncated", text[: rng.randrange(1, len(text))]),
            ("binary", bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200)))),
        ]
        label, data = rng.choice(choices)
        if not self._raw_safe(data, fence):
            label, data = "open brace", b"{"
        return Case(n, None, data, [f"raw: {label}"], True)

    def _mangle_bytes(self, rng, data: bytes) -> tuple[bytes, str]:
        kind = rng.choice(["truncate", "invalid-utf8", "bom", "utf16", "utf32", "control",
                           "dupkey", "trailing", "nan"])
        if kind == "truncate":
            cut = rng.randrange(1, len(data))
            return data[:cut], f"raw: truncated at byte {cut} of {len(data)}"
        if kind == "invalid-utf8":
            bad = rng.choice([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xc0\xaf", b"\xf8\x88\x80\x80\x80",
                              b"\x80", b"\xe2\x82"])
            # inside a string value if possible
            quotes = [i for i, b in enumerate(data) if b == 0x22]
            pos = rng.choice(quotes) + 1 if quotes else rng.randrange(len(data))
            return data[:pos] + bad + data[pos:], f"raw: {bad!r} inserted at byte {pos}"
        if kind == "bom":
            return b"\xef\xbb\xbf" + data, "raw: UTF-8 BOM"
        if kind == "utf16":
            enc = rng.choice(["utf-16", "utf-16-le", "utf-16-be"])
            return data.decode("utf-8", "surrogatepass").encode(enc, "surrogatepass"), f"raw: {enc}"
        if kind == "utf32":
            enc = rng.choice(["utf-32", "utf-32-le", "utf-32-be"])
            return data.decode("utf-8", "surrogatepass").encode(enc, "surrogatepass"), f"raw: {enc}"
        if kind == "control":
            quotes = [i for i, b in enumerate(data) if b == 0x22]
            pos = rng.choice(quotes) + 1 if quotes else 1
            ch = bytes([rng.choice([0, 1, 9, 10, 13, 27, 31])])
            return data[:pos] + ch + data[pos:], f"raw: control byte {ch!r} in a string"
        if kind == "dupkey":
            end = data.rstrip().rfind(b"}")
            dup = rng.choice([b', "ociVersion": "1.0.0"', b', "process": null', b', "root": {"path": "rootfs"}',
                              b', "ociVersion": 7', b', "linux": "x"', b', "mounts": {}'])
            return data[:end] + dup + data[end:], f"raw: duplicate key {dup.decode()!r} at the end"
        if kind == "trailing":
            junk = rng.choice([b"x", b"}", b"\0", b"{}", b" \n", b",", b"\xff"])
            return data + junk, f"raw: trailing {junk!r}"
        # NaN / Infinity in place of a number
        digits = [i for i in range(1, len(data)) if data[i:i + 1].isdigit() and not data[i - 1:i].isdigit()
                  and data[i - 1:i] in (b" ", b":", b"[", b",")]
        if not digits:
            return data + b" ", "raw: (no number to replace)"
        pos = rng.choice(digits)
        end = pos
        while end < len(data) and data[end:end + 1].isdigit():
            end += 1
        lit = rng.choice([b"NaN", b"Infinity", b"-Infinity", b"1e999", b"-0", b"0.0", b"1E2", b"1" * 5000])
        return data[:pos] + lit + data[end:], f"raw: number at byte {pos} -> {lit[:20]!r}"

    @staticmethod
    def _raw_safe(data: bytes, fence: Fence) -> bool:
        """Parse exactly as pyrunc does; what parses must be inside the fence."""
        try:
            parsed = json.loads(data)
        except RecursionError:
            # only the raw-only deep literals get here: nested arrays/objects
            # of numbers, no string a syscall could use
            return True
        except (ValueError, UnicodeDecodeError):
            return True
        return not violations(parsed, fence)

    # -- generic operators --

    def op_wrong_type(self, rng, config, fence):
        path = rng.choice(pointers(config)[1:])
        value = copy.deepcopy(rng.choice(WRONG_TYPES))
        set_at(config, path, value)
        return f"wrong type {pointer_text(path)} = {short(value)}"

    def op_delete(self, rng, config, fence):
        path = rng.choice(pointers(config)[1:])
        delete_at(config, path)
        return f"delete {pointer_text(path)}"

    def op_number(self, rng, config, fence):
        paths = [p for p in pointers(config)[1:] if _is_int(get_at(config, p))
                 or isinstance(get_at(config, p), float)]
        path = rng.choice(paths) if paths and rng.random() < 0.8 else rng.choice(pointers(config)[1:])
        value = self._odd_number(rng)
        set_at(config, path, value)
        return f"number {pointer_text(path)} = {short(value)}"

    def _odd_number(self, rng):
        r = rng.random()
        if r < 0.08:
            return Raw("1" + "0" * 5000, 10**30, "5001-digit integer")
        if r < 0.14:
            return Raw(rng.choice(["NaN", "Infinity", "-Infinity", "1e999", "-1e999"]), 1.5, "NaN/Infinity")
        return rng.choice(ODD_NUMBERS)

    def op_string(self, rng, config, fence):
        paths = [p for p in pointers(config)[1:] if isinstance(get_at(config, p), str)]
        path = rng.choice(paths)
        old = get_at(config, path)
        how = rng.random()
        odd = rng.choice(ODD_STRINGS)
        if how < 0.4:
            value = odd
        elif how < 0.7:
            value = old + odd
        elif how < 0.85:
            value = odd + old
        else:
            cut = rng.randrange(len(old) + 1)
            value = old[:cut] + odd + old[cut:]
        set_at(config, path, value)
        return f"string {pointer_text(path)} = {short(value)}"

    def op_key(self, rng, config, fence):
        """An odd or unknown key in a random object."""
        paths = [p for p in pointers(config) if isinstance(get_at(config, p), dict)]
        path = rng.choice(paths)
        key = rng.choice(ODD_STRINGS[:40] + ["x-unknown", "Linux", "PROCESS", "ociversion"])
        value = copy.deepcopy(rng.choice(WRONG_TYPES))
        get_at(config, path)[key] = value
        return f"key {pointer_text(path + (key,))} = {short(value)}"

    def op_splice(self, rng, config, fence):
        ptrs = pointers(config)[1:]
        src, dst = rng.choice(ptrs), rng.choice(ptrs)
        value = copy.deepcopy(get_at(config, src))
        set_at(config, dst, value)
        return f"splice {pointer_text(src)} -> {pointer_text(dst)}"

    def op_dup_item(self, rng, config, fence):
        paths = [p for p in pointers(config) if isinstance(get_at(config, p), list) and get_at(config, p)]
        path = rng.choice(paths)
        items = get_at(config, path)
        i = rng.randrange(len(items))
        times = rng.choice([1, 1, 2, 100])
        for _ in range(times):
            items.insert(i, copy.deepcopy(items[i]))
        return f"duplicate {pointer_text(path + (i,))} x{times}"

    def op_deep(self, rng, config, fence):
        path = rng.choice(pointers(config)[1:])
        depth = rng.choice([50, 500, 900, 990, 1000, 3000, 100000])
        kind = rng.choice(["list", "dict"])
        if kind == "list":
            raw = Raw("[" * depth + "]" * depth, [[]], f"{depth} nested arrays")
        else:
            raw = Raw('{"a":' * depth + "0" + "}" * depth, {"a": {"a": 0}}, f"{depth} nested objects")
        set_at(config, path, raw)
        return f"deep {pointer_text(path)} = {raw!r}"

    # -- structured operators --

    def op_namespaces(self, rng, config, fence):
        nss = config["linux"]["namespaces"]
        what = rng.choice(["dup", "unknown", "join", "remove", "badpath", "shuffle", "add"])
        if what == "dup":
            e = copy.deepcopy(rng.choice(nss))
            nss.insert(rng.randrange(len(nss) + 1), e)
            return f"namespaces: duplicate {short(e)}"
        if what == "unknown":
            t = rng.choice(["net", "mnt", "PID", "", "foo", "user", "time", "cgroup ", "\0", 5])
            nss.append({"type": t})
            return f"namespaces: add type {short(t)}"
        if what == "join":
            t = rng.choice(list(fence.ns_paths) or ["uts"])
            as_type = t if rng.random() < 0.7 else rng.choice(NS_TYPES)
            path = fence.ns_paths.get(t, fence.gone("ns"))
            for e in nss:
                if isinstance(e, dict) and e.get("type") == as_type:
                    e["path"] = path
                    break
            else:
                nss.append({"type": as_type, "path": path})
            return f"namespaces: {as_type} joins the throw-away {t} namespace"
        if what == "remove":
            i = rng.randrange(len(nss))
            e = nss.pop(i)
            return f"namespaces: remove {short(e)}"
        if what == "badpath":
            i = rng.randrange(len(nss))
            path = rng.choice([fence.gone("ns"), os.path.join(fence.case_dir, "srcfile"),
                               fence.case_dir, "", "relative", "/", os.path.join(fence.case_dir, "srcfifo"),
                               fence.gone("ns") + "\0x", "\ud800", os.path.join(fence.case_dir, "srcdir") + "/"])
            nss[i]["path"] = path
            return f"namespaces/{i}: path {short(path)}"
        if what == "shuffle":
            rng.shuffle(nss)
            return "namespaces: shuffled"
        t = rng.choice(NS_TYPES)
        nss.append({"type": t})
        return f"namespaces: add {t}"

    def _random_mount(self, rng, fence) -> dict:
        m = {}
        if rng.random() < 0.95:
            m["destination"] = rng.choice(DESTINATIONS)
        if rng.random() < 0.9:
            m["type"] = rng.choice(FS_TYPES)
        if rng.random() < 0.8:
            src = rng.choice(SOURCES)
            if rng.random() < 0.3 and src and not src.startswith(("proc", "tmpfs", "none", "sysfs")):
                src = os.path.join(fence.case_dir, src)
            m["source"] = src
        if rng.random() < 0.8:
            m["options"] = [rng.choice(MOUNT_OPTIONS) for _ in range(rng.choice([0, 1, 1, 2, 3, 5]))]
        if rng.random() < 0.05:
            m["uidMappings"] = [{"containerID": 0, "hostID": 0, "size": 1}]
            m["gidMappings"] = [{"containerID": 0, "hostID": 0, "size": 1}]
        return m

    def op_mounts(self, rng, config, fence):
        mounts = config.setdefault("mounts", [])
        what = rng.choice(["add", "add", "add", "remove", "type", "options", "source", "dest",
                           "reorder", "many"])
        if what == "add" or not mounts:
            m = self._random_mount(rng, fence)
            mounts.insert(rng.randrange(len(mounts) + 1), m)
            return f"mounts: add {short(m, 200)}"
        i = rng.randrange(len(mounts))
        m = mounts[i]
        if what == "remove":
            mounts.pop(i)
            return f"mounts: remove {i} ({short(m.get('destination'))})"
        if what == "type":
            m["type"] = rng.choice(FS_TYPES)
            return f"mounts/{i}/type = {short(m['type'])}"
        if what == "options":
            opts = m.setdefault("options", [])
            opt = rng.choice(MOUNT_OPTIONS)
            opts.insert(rng.randrange(len(opts) + 1), opt)
            return f"mounts/{i}/options += {short(opt)}"
        if what == "source":
            m["source"] = rng.choice(SOURCES)
            return f"mounts/{i}/source = {short(m['source'])}"
        if what == "dest":
            m["destination"] = rng.choice(DESTINATIONS)
            return f"mounts/{i}/destination = {short(m['destination'])}"
        if what == "reorder":
            rng.shuffle(mounts)
            return "mounts: shuffled"
        n = rng.choice([50, 200])
        for k in range(n):
            mounts.append({"destination": f"/tmp/m{k}", "type": "tmpfs", "source": "tmpfs",
                           "options": ["size=4k"]})
        return f"mounts: {n} tmpfs mounts"

    def op_devices(self, rng, config, fence):
        devices = config["linux"].setdefault("devices", [])
        d = {"path": rng.choice(DEVICE_PATHS), "type": rng.choice(DEVICE_TYPES)}
        if rng.random() < 0.5:
            d["major"], d["minor"] = rng.choice(sorted(SAFE_CHAR_DEVICES))
        else:
            for k in ("major", "minor"):
                if rng.random() < 0.9:
                    d[k] = rng.choice([1, 3, 5, 0, -1, 2**32, 2**40, 1.0, 4096 + 1, 2**20 + 3,
                                       2**31, 2**63 - 1, "1", None, 4095, 2**20 - 1])
        for k, choices in (("fileMode", [0o666, 0o7777, 0o17777, -1, 2**32 - 1, 438.0, "0666", 0]),
                           ("uid", [0, 65534, 2**32 - 1, -1, 1.0, 2**32]),
                           ("gid", [0, 5, 2**32 - 1, -1, 2.0, 2**32])):
            if rng.random() < 0.3:
                d[k] = rng.choice(choices)
        devices.append(d)
        return f"devices: add {short(d, 200)}"

    def op_sysctl(self, rng, config, fence):
        sysctl = config["linux"].setdefault("sysctl", {})
        key, value = rng.choice(SYSCTL_KEYS), rng.choice(SYSCTL_VALUES)
        sysctl[key] = value
        return f"sysctl {short(key)} = {short(value)}"

    def op_rlimits(self, rng, config, fence):
        rl = config["process"].setdefault("rlimits", [])
        what = rng.random()
        if what < 0.3 and rl:
            r = copy.deepcopy(rng.choice(rl))
            rl.append(r)
            return f"rlimits: duplicate {short(r)}"
        r = {"type": rng.choice(RLIMIT_TYPES)}
        for k in ("soft", "hard"):
            if rng.random() < 0.95:
                r[k] = rng.choice([0, 1, 1024, -1, 2**64 - 1, 2**64, 2**63, 1024.0, 0.5, 10**30,
                                   "1024", None, 2**32, 4096])
        rl.append(r)
        return f"rlimits: add {short(r)}"

    def op_caps(self, rng, config, fence):
        caps = config["process"].setdefault("capabilities", {})
        s = rng.choice(CAP_SETS)
        names = caps.setdefault(s, [])
        if not isinstance(names, list):
            return None
        what = rng.random()
        if what < 0.1:
            caps[s] = list(CAPS[:13]) * 3
            return f"capabilities/{s}: many, duplicated"
        name = rng.choice(CAPS + [5, None])
        names.append(name)
        return f"capabilities/{s} += {short(name)}"

    def op_hooks(self, rng, config, fence):
        names = ["prestart", "createRuntime", "createContainer", "startContainer", "poststart",
                 "poststop", "bogusHook", ""]
        hooks = config.setdefault("hooks", {})
        name = rng.choice(names)
        shape = rng.random()
        if shape < 0.15:
            hooks[name] = rng.choice(["x", 5, None, {}, {"path": "/bin/true"}])
        else:
            entry = {}
            if rng.random() < 0.9:
                entry["path"] = rng.choice(["/bin/true", "/bin/false", "relative", "", fence.gone("hook"),
                                            "/no/such/hook", "/bin/true\0x", 5, None])
            if rng.random() < 0.5:
                entry["args"] = rng.choice([[], ["true"], ["true", "\0"], "x", [1], ["a" * 10000]])
            if rng.random() < 0.3:
                entry["env"] = rng.choice([[], ["A=1"], ["="], "x"])
            if rng.random() < 0.3:
                entry["timeout"] = rng.choice([0, -1, 1, 2**31, 1.5, "5"])
            if not isinstance(hooks.get(name), list):
                hooks[name] = []
            hooks[name].append(entry)
        return f"hooks/{name}: {short(hooks[name], 150)}"

    def op_process(self, rng, config, fence):
        p = config["process"]
        field = rng.choice(["args", "env", "cwd", "terminal", "user", "user", "oom", "nnp",
                            "console", "misc", "commandLine"])
        if field == "args":
            p["args"] = copy.deepcopy(rng.choice(ARGS))
            return f"process/args = {short(p['args'])}"
        if field == "env":
            p["env"] = copy.deepcopy(rng.choice(ENVS))
            return f"process/env = {short(p['env'])}"
        if field == "cwd":
            p["cwd"] = rng.choice(CWDS)
            return f"process/cwd = {short(p['cwd'])}"
        if field == "terminal":
            p["terminal"] = rng.choice([True, False, "yes", 1, None])
            return f"process/terminal = {short(p['terminal'])}"
        if field == "user":
            user = p.setdefault("user", {})
            k = rng.choice(["uid", "gid", "umask", "additionalGids", "username"])
            if k == "additionalGids":
                v = rng.choice([[], [0], [2**32 - 1], [-1], [1.0], list(range(70000)), [5] * 100, "0"])
            elif k == "username":
                v = rng.choice(["root", "", "nobody", "\0"])
            else:
                v = rng.choice([0, 65534, 2**32 - 1, 2**32, -1, 1.0, 0o777, 18.0, "0", None, 2**63])
            user[k] = v
            return f"process/user/{k} = {short(v)}"
        if field == "oom":
            p["oomScoreAdj"] = rng.choice([-1000, 1000, 1001, -1001, 0.0, 5.5, 0, "0", 2**63])
            return f"process/oomScoreAdj = {short(p['oomScoreAdj'])}"
        if field == "nnp":
            p["noNewPrivileges"] = rng.choice(["true", 1, None, False, True])
            return f"process/noNewPrivileges = {short(p['noNewPrivileges'])}"
        if field == "console":
            p["consoleSize"] = rng.choice([{"height": 0, "width": 0}, {"height": -1}, {"width": 2**32}, "x"])
            return f"process/consoleSize = {short(p['consoleSize'])}"
        if field == "commandLine":
            p["commandLine"] = rng.choice(["x", "", "\0"])
            return f"process/commandLine = {short(p['commandLine'])}"
        k, v = rng.choice([
            ("apparmorProfile", "unconfined"), ("apparmorProfile", "\0"), ("selinuxLabel", "x"),
            ("scheduler", {"policy": "SCHED_FIFO", "priority": 99}), ("scheduler", {"policy": "SCHED_NOPE"}),
            ("scheduler", {"policy": "SCHED_DEADLINE", "runtime": 2**64}),
            ("ioPriority", {"class": "IOPRIO_CLASS_RT", "priority": 8}),
            ("ioPriority", {"class": "IOPRIO_CLASS_IDLE", "priority": 0}),
            ("execCPUAffinity", {"initial": "0-999", "final": "x"}),
            ("execCPUAffinity", {"initial": "0"}),
        ])
        p[k] = copy.deepcopy(v)
        return f"process/{k} = {short(v)}"

    def op_root(self, rng, config, fence):
        root = config["root"]
        if rng.random() < 0.75:
            root["path"] = rng.choice(["rootfs", "rootfs/", "./rootfs", os.path.join(fence.case_dir, "rootfs"),
                                       "srcdir", "srcfile", "no-such", "", ".", "rootfs/bin/sh",
                                       "rootfs/..", "rootfs\0x", "rootfs/" + "a" * 300, "srclink",
                                       "rootfs/bin", "srcfifo", "\ud800", "rootfs/" + "x/" * 2100])
            return f"root/path = {short(root['path'])}"
        root["readonly"] = rng.choice([True, False, "true", 1, None])
        return f"root/readonly = {short(root['readonly'])}"

    def op_version(self, rng, config, fence):
        config["ociVersion"] = rng.choice(VERSIONS)
        return f"ociVersion = {short(config['ociVersion'])}"

    def op_hostname(self, rng, config, fence):
        k = rng.choice(["hostname", "domainname"])
        config[k] = rng.choice(HOSTNAMES)
        return f"{k} = {short(config[k])}"

    def op_cgroups_path(self, rng, config, fence):
        cid = fence.cid
        leaf = rng.choice([cid, cid + "é", cid + "\n", cid + "\0x", cid + " ", "a" * 255, "a" * 256,
                           cid + "/", cid + "/.", "x/../" + cid, "cgroup.procs", "tasks",
                           "cpu.shares", ".", "..", "", cid + "\ud800", cid + ":x:y", "-" + cid,
                           cid + "\t", cid + "/sub", "notify_on_release", cid + "\\"])
        path = rng.choice([f"{fence.cgroup_parent}/{leaf}", f"{fence.cgroup_parent}//{leaf}",
                           f"/{fence.cgroup_parent}/{leaf}"])
        config["linux"]["cgroupsPath"] = path
        return f"linux/cgroupsPath = {short(path)}"

    def op_linux_misc(self, rng, config, fence):
        linux = config["linux"]
        k, v = rng.choice([
            ("rootfsPropagation", None), ("maskedPaths", None), ("readonlyPaths", None),
            ("resources", {"memory": {"limit": -2}}), ("resources", {"cpu": {"shares": 1.5}}),
            ("resources", {"pids": {"limit": "x"}}), ("resources", {"devices": [{"allow": "yes"}]}),
            ("resources", {"unified": {"memory.max": "1"}}),
            ("resources", {"hugepageLimits": [{"pageSize": "3MB", "limit": 1}]}),
            ("resources", {"blockIO": {"weight": 70000}}),
            ("seccomp", {"defaultAction": "SCMP_ACT_ALLOW"}),
            ("seccomp", {"defaultAction": "SCMP_ACT_BOGUS"}),
            ("seccomp", {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": [], "action": "SCMP_ACT_ERRNO"}]}),
            ("seccomp", {"defaultAction": "SCMP_ACT_KILL", "architectures": ["SCMP_ARCH_NOPE"]}),
            ("personality", {"domain": "LINUX32"}), ("personality", {"domain": "WIN"}),
            ("timeOffsets", {"monotonic": {"secs": 2**63, "nanosecs": 1}}),
            ("timeOffsets", {"boottime": {"secs": -5}}),
            ("netDevices", {"fuzz0": {"name": "eth9"}}), ("netDevices", {"": {}}),
            ("intelRdt", {"closID": "x", "memBwSchema": "MB:0=1\n"}),
            ("uidMappings", [{"containerID": 0, "hostID": 0, "size": 1}]),
            ("mountLabel", "system_u:object_r:x"), ("memoryPolicy", {"mode": "MPOL_BIND", "nodes": "99"}),
        ])
        if k == "rootfsPropagation":
            v = rng.choice(PROPAGATIONS)
        elif k in ("maskedPaths", "readonlyPaths"):
            lst = linux.setdefault(k, [])
            if not isinstance(lst, list):
                return None
            p = rng.choice(PATH_LISTS)
            lst.append(p)
            return f"linux/{k} += {short(p)}"
        linux[k] = copy.deepcopy(v)
        return f"linux/{k} = {short(v)}"

    def op_annotations(self, rng, config, fence):
        ann = config.setdefault("annotations", {})
        k = rng.choice(["a", "", "k" * 5000, "\0", "\ud800", "org.opencontainers.x", "é"])
        v = rng.choice(["b", "", "v" * 100000, "\0", 5, None, ["x"], "\ud800"])
        ann[k] = v
        return f"annotations/{short(k)} = {short(v)}"

    def op_platform(self, rng, config, fence):
        k = rng.choice(["windows", "solaris", "vm", "zos", "freebsd"])
        config[k] = rng.choice([{}, {"layerFolders": []}, "x", None])
        drop = None
        if k == "windows" and rng.random() < 0.7:
            drop = rng.choice([("root",), ("process", "args"), ("process", "user", "uid"),
                               ("process", "cwd"), ("process",), ("process", "user")])
            try:
                delete_at(config, drop)
            except (KeyError, TypeError):
                drop = None
        return f"{k} = {short(config[k])}" + (f", delete {pointer_text(drop)}" if drop else "")

    def op_valid(self, rng, config, fence):
        """Changes a config may validly make: exercise the success path."""
        what = rng.choice(["tmpfs", "bind", "device", "sysctl", "rlimit", "mask", "prop"])
        if what == "tmpfs":
            config["mounts"].append({"destination": rng.choice(["/tmp", "/tmp/a/b", "/run"]),
                                     "type": "tmpfs", "source": "tmpfs",
                                     "options": rng.sample(["nosuid", "nodev", "noexec", "ro", "size=64k",
                                                            "mode=1777", "rro", "rnosuid"], 2)})
        elif what == "bind":
            src = rng.choice(["srcdir", "srcfile", os.path.join(fence.case_dir, "srcdir"), "srclink", "srcfifo"])
            config["mounts"].append({"destination": rng.choice(["/mnt", "/tmp/b", "/etc/b"]),
                                     "source": src, "options": rng.choice([["bind"], ["rbind", "ro"],
                                                                           ["bind", "nosuid", "rro"],
                                                                           ["rbind", "private"]])})
        elif what == "device":
            config["linux"].setdefault("devices", []).append(
                {"path": "/dev/fuzz", "type": "c", "major": 1, "minor": rng.choice([3, 5, 7]),
                 "fileMode": 0o600, "uid": 0, "gid": 0})
        elif what == "sysctl":
            config["linux"].setdefault("sysctl", {})[rng.choice(
                ["net.ipv4.ip_forward", "kernel.shmmax", "fs.mqueue.queues_max"])] = "1"
        elif what == "rlimit":
            config["process"]["rlimits"].append({"type": "RLIMIT_CORE", "soft": 0, "hard": 0})
        elif what == "mask":
            config["linux"]["maskedPaths"].append("/etc/passwd")
        else:
            config["linux"]["rootfsPropagation"] = rng.choice(PROPAGATIONS[:8])
        return f"valid: {what}"

    OPERATORS = [
        (op_wrong_type, 10), (op_delete, 8), (op_number, 6), (op_string, 8), (op_key, 3),
        (op_splice, 3), (op_dup_item, 3), (op_deep, 2), (op_namespaces, 6), (op_mounts, 10),
        (op_devices, 5), (op_sysctl, 4), (op_rlimits, 4), (op_caps, 4), (op_hooks, 2),
        (op_process, 7), (op_root, 3), (op_version, 2), (op_hostname, 2),
        (op_cgroups_path, 3), (op_linux_misc, 5), (op_annotations, 2), (op_platform, 2),
        (op_valid, 6),
    ]


# -- pointer diffs, for shrinking a failing config ---------------------------------
#
# A change is (kind, path, payload): ("set", path, value), ("del", path, None),
# and for lists whose length changed, element edits against the base list:
# ("ins", path, (before_base_index, order, value)) and ("rm", path, base_index).
# Any subset of the changes of one diff applies cleanly to the base.

def _same(a, b) -> bool:
    if type(a) is not type(b) or isinstance(a, Raw) or isinstance(b, Raw):
        return a is b
    if isinstance(a, (dict, list)):
        return a == b
    return json.dumps(a) == json.dumps(b)  # -0.0 is not 0.0, NaN is NaN


def _key(v) -> str:
    try:
        return dumps(v).decode("utf-8", "surrogatepass")
    except (TypeError, ValueError):
        return repr(v)


def diff(base, new, path=()):
    """The changes that turn `base` into `new`."""
    if isinstance(base, dict) and isinstance(new, dict):
        out = [("del", path + (k,), None) for k in base if k not in new]
        for k, v in new.items():
            out += [("set", path + (k,), v)] if k not in base else diff(base[k], v, path + (k,))
        return out
    if isinstance(base, list) and isinstance(new, list):
        if len(base) == len(new):
            out = []
            for i, (a, b) in enumerate(zip(base, new)):
                out += diff(a, b, path + (i,))
            return out
        if len(base) * len(new) <= 4_000_000:
            import difflib
            sm = difflib.SequenceMatcher(None, [_key(v) for v in base], [_key(v) for v in new],
                                         autojunk=False)
            out = []
            for tag, i1, i2, j1, j2 in sm.get_opcodes():
                if tag == "equal":
                    continue
                out += [("rm", path, i) for i in range(i1, i2)]
                out += [("ins", path, (i2, j, new[j])) for j in range(j1, j2)]
            return out
    if _same(base, new):
        return []
    return [("set", path, new)]


def apply(base, changes):
    config = copy.deepcopy(base)
    edits: dict[tuple, list] = {}
    for kind, path, payload in changes:
        if kind in ("ins", "rm"):
            edits.setdefault(path, []).append((kind, payload))
            continue
        if not path:
            config = copy.deepcopy(payload) if kind == "set" else None
            continue
        try:
            parent = get_at(config, path[:-1])
            if kind == "del":
                del parent[path[-1]]
            else:
                parent[path[-1]] = copy.deepcopy(payload)
        except (KeyError, IndexError, TypeError):
            pass
    for path, items in edits.items():
        try:
            old = get_at(config, path)
        except (KeyError, IndexError, TypeError):
            continue
        if not isinstance(old, list):
            continue
        removed = {p for k, p in items if k == "rm"}
        inserts = sorted((p for k, p in items if k == "ins"), key=lambda p: (p[0], p[1]))
        rebuilt = []
        for i in range(len(old) + 1):
            rebuilt += [copy.deepcopy(v) for before, _, v in inserts if before == i]
            if i < len(old) and i not in removed:
                rebuilt.append(old[i])
        old[:] = rebuilt
    return config


def describe_changes(changes) -> list[str]:
    out = []
    for kind, path, payload in changes:
        if kind == "del":
            out.append(f"delete {pointer_text(path)}")
        elif kind == "set":
            out.append(f"set {pointer_text(path)} = {short(payload, 300)}")
        elif kind == "rm":
            out.append(f"remove {pointer_text(path + (payload,))}")
        else:
            out.append(f"insert into {pointer_text(path)} (before base item {payload[0]}): "
                       f"{short(payload[2], 300)}")
    return out


def prepare_case_dir(case_dir: str, rootfs: str, link: bool = False) -> None:
    """The bundle of one case: a private copy of the rootfs and a few things a
    config may bind or point at, all inside case_dir. link: hard-link the
    regular files instead of copying them (rootfs must then be the test's own
    pristine copy, which the test checks after every case)."""
    import shutil

    os.makedirs(case_dir, exist_ok=True)
    shutil.copytree(rootfs, os.path.join(case_dir, "rootfs"), symlinks=True,
                    copy_function=os.link if link else shutil.copy2)
    os.chmod(os.path.join(case_dir, "rootfs"), 0o755)
    os.makedirs(os.path.join(case_dir, "srcdir", "d"), exist_ok=True)
    with open(os.path.join(case_dir, "srcdir", "f"), "w") as f:
        f.write("f\n")
    with open(os.path.join(case_dir, "srcfile"), "w") as f:
        f.write("src\n")
    os.symlink("srcdir", os.path.join(case_dir, "srclink"))
    os.mkfifo(os.path.join(case_dir, "srcfifo"))
    assert stat.S_ISFIFO(os.lstat(os.path.join(case_dir, "srcfifo")).st_mode)
