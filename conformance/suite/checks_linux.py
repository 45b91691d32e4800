"""config-linux.md: default filesystems, namespaces, user namespace mappings,
time offsets, devices, default devices, network devices, memory policy,
IntelRdt (as far as a host without resctrl shows), sysctl, rootfs
propagation, masked and readonly paths, mount label, personality.
Cgroups are in checks_cgroups, seccomp in checks_security.

Not observable, so not checked: "The same type, major and minor SHOULD NOT
be used for multiple devices" (advice to config authors); "Containers MAY
NOT access any device node ..." (MAY); "The runtime MUST NOT actively manage
the interface's lifecycle and configuration within the container's network
namespace" (an absence of activity over time); the IntelRdt rules that need
a resctrl filesystem when the host has none.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time

from .core import Fail, HostSkip, check, expect
from .env import PROBE, Probe
from .host import mountinfo, read

CFG = "config-linux.md"


def run_probe(env, b, *cmds):
    return env.probe(b, *cmds)


# -------------------------------------------------------- default filesystems

@check("linux.default-filesystems", CFG, "Default Filesystems",
       "The following filesystems SHOULD be made available in each container's filesystem:")
def _(env):
    from .checks_runtime import basic_probe
    info = basic_probe(env).json(5)
    have = {(m["mount_point"], m["fs_type"]) for m in info["mounts"]}
    for mp, fs in (("/proc", "proc"), ("/sys", "sysfs"), ("/dev/pts", "devpts"),
                   ("/dev/shm", "tmpfs")):
        expect((mp, fs) in have, f"no {fs} at {mp}")


# ---------------------------------------------------------------- namespaces

def new_namespaces(env):
    def go():
        b = env.bundle("ns-new").ns("pid", "network", "ipc", "uts", "mount", "cgroup")
        return env.probe(b, ["info"], ["netif"], ["ls", "/proc"])
    return env.once("ns-new", go)


NS_TYPES = {  # spec type -> (/proc ns name, description quote)
    "pid": ("pid", "pid processes inside the container will only be able to see other processes "
                   "inside the same container or inside the same pid namespace."),
    "network": ("net", "network the container will have its own network stack."),
    "mount": ("mnt", "mount the container will have an isolated mount table."),
    "ipc": ("ipc", "ipc processes inside the container will only be able to communicate to other "
                   "processes inside the same container via system level IPC."),
    "uts": ("uts", "uts the container will be able to have its own hostname and domain name."),
    "user": ("user", "user the container will be able to remap user and group IDs from the host to "
                     "local users and groups within the container."),
    "cgroup": ("cgroup", "cgroup the container will have an isolated view of the cgroup "
                         "hierarchy."),
    "time": ("time", "time the container will be able to have its own clocks."),
}


def own_ns(info, name):
    got = info["namespaces"].get(name)
    mine = os.readlink(f"/proc/self/ns/{name}")
    expect(got and got != mine, f"the container's {name} namespace is the runtime's ({mine})")


def ns_type_check(t):
    name, quote = NS_TYPES[t]

    def f(env):
        if t == "user":
            p, _ = userns(env)
            info = p.json(0)
            own_ns(info, name)
            expect(p.text(1).split()[:3] == ["0", "100000", "65536"], f"uid_map {p.text(1)!r}")
            return
        if t == "time":
            p, _ = timens(env)
            own_ns(p.json(0), name)
            return
        p = new_namespaces(env)
        info = p.json(0)
        own_ns(info, name)
        if t == "pid":
            expect(p.pid == 1, f"the container process is pid {p.pid} in its namespace, not 1")
            procs = [x for x in p.text(2).split() if x.isdigit()]
            expect(len(procs) <= 3, f"the container sees processes {procs[:10]}...")
        elif t == "network":
            names = {e["name"] for e in p.json(1)}
            expect(names == {"lo"}, f"the container's network stack has {sorted(names)}")
        elif t == "cgroup":
            paths = {ln.split(":", 2)[2] for ln in info["cgroup"] if ln.count(":") >= 2}
            expect(paths <= {"/"}, f"the container sees its cgroups as {sorted(paths)}, not /")
    check(f"linux.namespaces.{t}", CFG, "Namespaces", quote, note=f"namespace type {t}",
          level="SHOULD")(f)


for _t in NS_TYPES:
    ns_type_check(_t)


@check("linux.namespaces.new", CFG, "Namespaces",
       "If path is not specified, the runtime MUST create a new container namespace of type type.")
def _(env):
    info = new_namespaces(env).json(0)
    for n in ("pid", "net", "ipc", "uts", "mnt", "cgroup"):
        own_ns(info, n)


@check("linux.namespaces.inherit", CFG, "Namespaces",
       "If a namespace type is not specified in the namespaces array, the container MUST inherit "
       "the runtime namespace of that type.")
def _(env):
    b = env.bundle("ns-inherit").ns("mount")
    # Without its own network namespace a container cannot mount sysfs.
    b.config["mounts"] = [m for m in b.config["mounts"] if m["type"] not in ("sysfs", "mqueue")]
    info = env.probe(b, ["info"]).json(0)
    for n in ("pid", "net", "ipc", "uts", "cgroup", "user", "time"):
        mine = os.readlink(f"/proc/self/ns/{n}") if os.path.exists(f"/proc/self/ns/{n}") else None
        expect(info["namespaces"].get(n) == mine,
               f"{n}: the container has {info['namespaces'].get(n)}, the runtime {mine}")


def holder(env, *flags):
    """A process of ours in new namespaces (unshare FLAGS sleep)."""
    p = subprocess.Popen(["unshare", *flags, "sleep", "300"])
    env.at_exit(lambda: (p.kill(), p.wait()))
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if os.readlink(f"/proc/{p.pid}/ns/uts") != os.readlink("/proc/self/ns/uts") or \
                "--uts" not in flags:
            if os.readlink(f"/proc/{p.pid}/exe").endswith("sleep"):
                break
        time.sleep(0.02)
    return p


@check("linux.namespaces.path", CFG, "Namespaces",
       "The runtime MUST place the container process in the namespace associated with that path.")
def _(env):
    h = holder(env, "--net", "--ipc", "--uts")
    b = env.bundle("ns-join")
    for t, n in (("network", "net"), ("ipc", "ipc"), ("uts", "uts")):
        b.add_ns(t, f"/proc/{h.pid}/ns/{n}")
    info = env.probe(b, ["info"]).json(0)
    for n in ("net", "ipc", "uts"):
        want = os.readlink(f"/proc/{h.pid}/ns/{n}")
        expect(info["namespaces"].get(n) == want,
               f"{n}: the container is in {info['namespaces'].get(n)}, the path names {want}")


@check("linux.namespaces.path-type", CFG, "Namespaces",
       "The runtime MUST generate an error if path is not associated with a namespace of type type.")
def _(env):
    h = holder(env, "--ipc")
    b = env.bundle("ns-wrongtype")
    b.add_ns("network", f"/proc/{h.pid}/ns/ipc")
    env.expect_error(b, "a network namespace path that is an ipc namespace")


@check("linux.namespaces.path-absolute", CFG, "Namespaces",
       "This value MUST be an absolute path in the runtime mount namespace.")
def _(env):
    h = holder(env, "--net")
    b = env.bundle("ns-relpath")
    b.add_ns("network", os.path.relpath(f"/proc/{h.pid}/ns/net", env.tmp))
    env.expect_error(b, "a relative namespace path")


@check("linux.namespaces.duplicate", CFG, "Namespaces",
       "If a namespaces field contains duplicated namespaces with same type, the runtime MUST "
       "generate an error.")
def _(env):
    b = env.bundle("ns-dup")
    b.linux["namespaces"].append({"type": "pid"})
    env.expect_error(b, "two pid namespaces")


# ------------------------------------------------------ user namespace mappings

def userns(env):
    def go():
        env.host.need_user_ns()
        b = env.bundle("userns").userns()
        before = {p: os.lstat(b.rpath(p)) for p in ("", "bin/ocitest", "etc/passwd", "tmp")}
        p = env.probe(b, ["info"], ["cat", "/proc/self/uid_map"], ["cat", "/proc/self/gid_map"])
        after = {k: os.lstat(b.rpath(k)) for k in before}
        changed = [k or "/" for k in before
                   if (before[k].st_uid, before[k].st_gid) != (after[k].st_uid, after[k].st_gid)]
        return p, changed
    return env.once("userns", go)


@check("linux.uidMappings", CFG, "User namespace mappings",
       "uidMappings (array of objects, OPTIONAL) describes the user namespace uid mappings from "
       "the host to the container.")
def _(env):
    p, _ = userns(env)
    got = p.text(1).split()
    expect(got == ["0", "100000", "65536"], f"uid_map in the container: {p.text(1).strip()!r}")


@check("linux.gidMappings", CFG, "User namespace mappings",
       "gidMappings (array of objects, OPTIONAL) describes the user namespace gid mappings from "
       "the host to the container.")
def _(env):
    p, _ = userns(env)
    got = p.text(2).split()
    expect(got == ["0", "100000", "65536"], f"gid_map in the container: {p.text(2).strip()!r}")


@check("linux.userns.no-chown", CFG, "User namespace mappings",
       "The runtime SHOULD NOT modify the ownership of referenced filesystems to realize the "
       "mapping.")
def _(env):
    _, changed = userns(env)
    expect(not changed, f"the runtime changed the owner of {changed} in the rootfs")


# -------------------------------------------------------------- time offsets

def timens(env):
    def go():
        env.host.need_time_ns()
        b = env.bundle("timens")
        b.add_ns("time")
        b.linux["timeOffsets"] = {"monotonic": {"secs": 259200, "nanosecs": 0},
                                  "boottime": {"secs": 86400, "nanosecs": 5000}}
        host = {}
        with open("/proc/uptime") as f:
            host["boottime"] = float(f.read().split()[0])
        host["monotonic"] = time.clock_gettime(time.CLOCK_MONOTONIC)
        p = env.probe(b, ["info"], ["cat", "/proc/self/timens_offsets"], ["clocks"])
        return p, host
    return env.once("timens", go)


@check("linux.timeOffsets", CFG, "Offset for Time Namespace",
       "timeOffsets (object, OPTIONAL) sets the offset for Time Namespace.")
def _(env):
    p, host = timens(env)
    offs = {ln.split()[0]: (int(ln.split()[1]), int(ln.split()[2]))
            for ln in p.text(1).splitlines() if len(ln.split()) == 3}
    expect(offs.get("monotonic") == (259200, 0) and offs.get("boottime") == (86400, 5000),
           f"timens_offsets in the container: {p.text(1).strip()!r}")
    clocks = p.json(2)
    d = float(clocks["monotonic"]) - host["monotonic"]
    expect(259190 < d < 259300, f"the container's monotonic clock is {d:.0f}s ahead, not 259200")


# ----------------------------------------------------------------- devices

DEVICES = [
    {"path": "/dev/cf-null", "type": "c", "major": 1, "minor": 3, "fileMode": 0o620,
     "uid": 1000, "gid": 5},
    {"path": "/dev/cf-loop", "type": "b", "major": 7, "minor": 0, "fileMode": 0o660,
     "uid": 0, "gid": 0},
    {"path": "/dev/cf-fifo", "type": "p", "fileMode": 0o644},
    {"path": "/dev/cf-u", "type": "u", "major": 1, "minor": 5},
    {"path": "/cf-devs/zero", "type": "c", "major": 1, "minor": 5},
]
FTYPE = {"c": "chr", "u": "chr", "b": "blk", "p": "fifo"}


def devices(env):
    def go():
        b = env.bundle("devices")
        b.linux["devices"] = [dict(d) for d in DEVICES]
        return env.probe(b, *[["stat", d["path"]] for d in DEVICES])
    return env.once("devices", go)


def dev_stat(p, i):
    try:
        return p.json(i)
    except Fail:
        raise Fail(f"{DEVICES[i]['path']} is missing in the container ({p.status[i]})")


@check("linux.devices.available", CFG, "Devices",
       "devices (array of objects, OPTIONAL) lists devices that MUST be available in the "
       "container.")
def _(env):
    p = devices(env)
    for i, d in enumerate(DEVICES):
        st = dev_stat(p, i)
        expect(st["type"] == FTYPE[d["type"]], f"{d['path']} is a {st['type']}, not {FTYPE[d['type']]}")
        if d["type"] != "p":
            expect((st["rdev_major"], st["rdev_minor"]) == (d["major"], d["minor"]),
                   f"{d['path']} is {st['rdev_major']}:{st['rdev_minor']}, "
                   f"not {d['major']}:{d['minor']}")


@check("linux.devices.outside-dev", CFG, "Devices",
       "The path MAY be anywhere in the container filesystem, notably outside of /dev.")
def _(env):
    st = dev_stat(devices(env), 4)
    expect(st["type"] == "chr", f"/cf-devs/zero is a {st['type']}")


@check("linux.devices.fileMode", CFG, "Devices",
       "fileMode (uint32, OPTIONAL) - file mode for the device.")
def _(env):
    p = devices(env)
    for i, d in enumerate(DEVICES):
        if "fileMode" in d:
            got = dev_stat(p, i)["mode"] & 0o7777
            expect(got == d["fileMode"], f"{d['path']} has mode {got:o}, not {d['fileMode']:o}")


@check("linux.devices.uid", CFG, "Devices",
       "uid (uint32, OPTIONAL) - id of device owner in the container namespace.")
def _(env):
    st = dev_stat(devices(env), 0)
    expect(st["uid"] == 1000, f"/dev/cf-null is owned by uid {st['uid']}, not 1000")


@check("linux.devices.gid", CFG, "Devices",
       "gid (uint32, OPTIONAL) - id of device group in the container namespace.")
def _(env):
    st = dev_stat(devices(env), 0)
    expect(st["gid"] == 5, f"/dev/cf-null has gid {st['gid']}, not 5")


@check("linux.devices.existing-file", CFG, "Devices",
       "If a file already exists at path that does not match the requested device, the runtime "
       "MUST generate an error.")
def _(env):
    b = env.bundle("dev-exists")
    with open(b.rpath("cf-exists"), "w") as f:
        f.write("a regular file")
    b.linux["devices"] = [{"path": "/cf-exists", "type": "c", "major": 1, "minor": 3}]
    env.expect_error(b, "a device whose path is a regular file in the rootfs")


@check("linux.devices.major-required", CFG, "Devices",
       "major, minor (int64, REQUIRED unless type is p) - major, minor numbers for the device.",
       note="a c device without major and minor is invalid (config.md § Valid values)")
def _(env):
    b = env.bundle("dev-nomajor")
    b.linux["devices"] = [{"path": "/dev/cf-nomajor", "type": "c"}]
    env.expect_error(b, "a character device without major and minor")


DEFAULT_DEVICES = {"/dev/null": (1, 3), "/dev/zero": (1, 5), "/dev/full": (1, 7),
                   "/dev/random": (1, 8), "/dev/urandom": (1, 9), "/dev/tty": (5, 0)}


@check("linux.default-devices", CFG, "Default Devices",
       "In addition to any devices configured with this setting, the runtime MUST also supply:")
def _(env):
    from .checks_runtime import basic_probe, BASIC
    p = basic_probe(env)
    for path, (ma, mi) in DEFAULT_DEVICES.items():
        try:
            st = p.json(BASIC[f"stat {path}"])
        except Fail:
            raise Fail(f"{path} is missing")
        expect(st["type"] == "chr" and (st["rdev_major"], st["rdev_minor"]) == (ma, mi),
               f"{path} is {st['type']} {st['rdev_major']}:{st['rdev_minor']}, not chr {ma}:{mi}")
        if path != "/dev/tty":
            got = p.text(BASIC[f"open-read {path}"]).strip()
            expect(got == "ok", f"opening {path} for reading: {got}")


@check("linux.default-devices.ptmx", CFG, "Default Devices",
       "A bind-mount or symlink of the container's /dev/pts/ptmx.")
def _(env):
    from .checks_runtime import basic_probe, BASIC
    p = basic_probe(env)
    link = p.text(BASIC["readlink /dev/ptmx"]).strip()
    if link:
        expect(link in ("pts/ptmx", "/dev/pts/ptmx"), f"/dev/ptmx -> {link}")
        return
    info = p.json(BASIC["info"])
    ms = [m for m in info["mounts"] if m["mount_point"] == "/dev/ptmx"]
    expect(ms and ms[-1]["fs_type"] == "devpts",
           "/dev/ptmx is neither a symlink to pts/ptmx nor a bind mount of /dev/pts/ptmx")
    pts = [m for m in info["mounts"] if m["mount_point"] == "/dev/pts"]
    expect(pts and pts[-1]["source"] == ms[-1]["source"] and
           ms[-1]["super_options"] == pts[-1]["super_options"],
           "/dev/ptmx is a devpts mount but not of the container's /dev/pts")


@check("linux.default-devices.console", CFG, "Default Devices",
       "/dev/console is set up if terminal is enabled in the config by bind mounting the "
       "pseudoterminal pty to /dev/console.")
def _(env):
    from .checks_config import terminal
    p = terminal(env)
    con, pty = p.json(2), p.json(3)
    expect(con["type"] == "chr" and (con["rdev_major"], con["rdev_minor"]) ==
           (pty["rdev_major"], pty["rdev_minor"]),
           f"/dev/console is {con['rdev_major']}:{con['rdev_minor']}, the pty /dev/pts/0 is "
           f"{pty['rdev_major']}:{pty['rdev_minor']}")


# ---------------------------------------------------------- network devices

def need_ip():
    if not shutil.which("ip") or not shutil.which("nsenter"):
        raise HostSkip("host has no iproute2 or nsenter")


def veth(env, a, b):
    need_ip()
    p = subprocess.run(["ip", "link", "add", a, "type", "veth", "peer", "name", b],
                       capture_output=True, text=True)
    if p.returncode != 0:
        raise HostSkip(f"kernel cannot make veth pairs: {p.stderr.strip()}")

    def gone():
        for n in (a, b):
            subprocess.run(["ip", "link", "del", n], capture_output=True)
    env.at_exit(gone)


def on_host(name) -> bool:
    return os.path.exists(f"/sys/class/net/{name}")


def netdevices(env) -> dict:
    """A veth pair moved into a new network namespace: one end renamed."""
    def go():
        a, z = f"cfa{env.token}", f"cfz{env.token}"
        veth(env, a, z)
        env.sh("ip", "addr", "add", "10.231.7.2/24", "dev", a)
        env.sh("ip", "addr", "add", "fd00:cf::7/64", "dev", a, "nodad")
        env.sh("ip", "link", "set", a, "mtu", "1400")
        b = env.bundle("netdev")
        b.linux["netDevices"] = {a: {"name": "cf0"}, z: {}}
        p = env.probe(b, ["netif"], ["cat", "/sys/class/net/cf0/mtu"])
        return {"probe": p, "a": a, "z": z, "on_host": (on_host(a), on_host(z))}
    return env.once("netdev", go)


def ifaces(p, i=0) -> dict:
    out = {}
    for e in p.json(i):
        d = out.setdefault(e["name"], {"flags": e["flags"], "addrs": []})
        if e["address"]:
            d["addrs"].append(f"{e['address']}/{e['prefix']}")
    return out


@check("linux.netDevices.available", CFG, "Network Devices",
       "netDevices (object, OPTIONAL) - A set of network devices that MUST be made available in "
       "the container.")
def _(env):
    o = netdevices(env)
    got = ifaces(o["probe"])
    expect("cf0" in got and o["z"] in got, f"the container has {sorted(got)}, not cf0 and {o['z']}")


@check("linux.netDevices.name", CFG, "Network Devices",
       "name (string, OPTIONAL) - the name of the network device inside the container namespace. "
       "If not specified, the host name is used.")
def _(env):
    o = netdevices(env)
    got = ifaces(o["probe"])
    expect("cf0" in got, f"no device renamed cf0: {sorted(got)}")
    expect(o["z"] in got, f"no device under its host name {o['z']}: {sorted(got)}")


@check("linux.netDevices.addresses", CFG, "Network Devices",
       "The runtime MUST preserve existing network interface attributes, including all permanent "
       "IP addresses (IFA_F_PERMANENT flag) of any family with global scope (RT_SCOPE_UNIVERSE "
       "value) as defined in RFC 3549 Section 2.3.3.2.")
def _(env):
    o = netdevices(env)
    got = ifaces(o["probe"]).get("cf0", {"addrs": []})["addrs"]
    for want in ("10.231.7.2/24", "fd00:cf::7/64"):
        expect(want in got, f"cf0 lacks {want}: {got}")
    mtu = o["probe"].text(1).strip()
    expect(mtu == "1400", f"cf0 has MTU {mtu!r}, the host device had 1400")


@check("linux.netDevices.up", CFG, "Network Devices",
       "The runtime MUST set the network device state to \"up\" after moving it to the network "
       "namespace to allow the container to send and receive network traffic through that device.")
def _(env):
    o = netdevices(env)
    got = ifaces(o["probe"])
    for n in ("cf0", o["z"]):
        expect(n in got and got[n]["flags"] & 1, f"{n} is not up (flags {got.get(n, {}).get('flags')})")


@check("linux.netDevices.missing", CFG, "Network Devices",
       "The runtime MUST check if moving the network interface to the container namespace is "
       "possible.")
def _(env):
    need_ip()
    b = env.bundle("netdev-missing")
    b.linux["netDevices"] = {f"cfnone{env.token}": {}}
    env.expect_error(b, "a network device that does not exist")


def joined_netns(env):
    """A network namespace of ours that already has an eth7."""
    def go():
        need_ip()
        h = holder(env, "--net")
        c, d = f"cfc{env.token}", f"cfd{env.token}"
        veth(env, c, d)
        env.sh("ip", "link", "set", d, "netns", str(h.pid))
        env.sh("nsenter", f"--net=/proc/{h.pid}/ns/net", "ip", "link", "set", d, "name", "eth7")
        e, f = f"cfe{env.token}", f"cff{env.token}"
        veth(env, e, f)
        return h, e
    return env.once("joined-netns", go)


def in_netns(h) -> list[str]:
    out = subprocess.run(["nsenter", f"--net=/proc/{h.pid}/ns/net", "ip", "-o", "link"],
                         capture_output=True, text=True).stdout
    return [ln.split(":")[1].strip().split("@")[0] for ln in out.splitlines() if ":" in ln]


@check("linux.netDevices.name-exists", CFG, "Network Devices",
       "If a network device with the specified name already exists in the container namespace, "
       "the runtime MUST generate an error, unless the user has provided a template by appending "
       "%d to the new name.")
def _(env):
    h, e = joined_netns(env)
    b = env.bundle("netdev-clash")
    b.add_ns("network", f"/proc/{h.pid}/ns/net")
    b.linux["netDevices"] = {e: {"name": "eth7"}}
    env.expect_error(b, "a device named like one already in the joined namespace")
    expect(on_host(e), f"the failed create did not leave {e} on the host")


def template(env):
    def go():
        h, e = joined_netns(env)
        b = env.bundle("netdev-tmpl")
        b.add_ns("network", f"/proc/{h.pid}/ns/net")
        b.linux["netDevices"] = {e: {"name": "eth%d"}}
        p = env.probe(b, ["netif"])
        return p, in_netns(h)
    return env.once("netdev-template", go)


@check("linux.netDevices.template", CFG, "Network Devices",
       "In that case, the runtime MUST allow the move, and the kernel will generate a unique name "
       "for the interface within the container's network namespace.")
def _(env):
    p, _ = template(env)
    got = sorted(ifaces(p))
    new = [n for n in got if re.fullmatch(r"eth\d+", n) and n != "eth7"]
    expect("eth7" in got and new, f"the container has {got}: no new eth<N> beside eth7")


@check("linux.netDevices.not-moved-back", CFG, "Namespace Lifecycle and Container Termination",
       "The runtime MUST NOT attempt to move the interface out of the namespace before deletion.")
def _(env):
    p, after = template(env)
    new = [n for n in ifaces(p) if re.fullmatch(r"eth\d+", n) and n != "eth7"]
    expect(new, "the device was not moved in (see linux.netDevices.template)")
    expect(new[0] in after, f"after delete the joined namespace has {after}: {new[0]} was moved out")


# ------------------------------------------------------------- memory policy

MPOL = {"MPOL_DEFAULT": 0, "MPOL_PREFERRED": 1, "MPOL_BIND": 2, "MPOL_INTERLEAVE": 3,
        "MPOL_LOCAL": 4, "MPOL_PREFERRED_MANY": 5, "MPOL_WEIGHTED_INTERLEAVE": 6}


@check("linux.memoryPolicy", CFG, "Memory policy",
       "memoryPolicy (object, OPTIONAL) sets the NUMA memory policy for the container.",
       note="applied, or refused with an error (an unsupported value): never ignored")
def _(env):
    if not env.host.numa_nodes:
        raise HostSkip("kernel has no NUMA nodes")
    node = env.host.numa_nodes[0]
    b = env.bundle("mempolicy")
    b.linux["memoryPolicy"] = {"mode": "MPOL_BIND", "nodes": str(node),
                               "flags": ["MPOL_F_STATIC_NODES"]}
    b.args(PROBE, "mempolicy")
    r = env.run(b)
    if not r.ok:
        expect(not env.leftovers(b), "the refused config left things behind")
        return
    try:
        got = json.loads(r.out)
    except ValueError:
        raise Fail(f"the probe printed {r.out[:200]!r}")
    expect(got["mode"] == 2 and got["nodes"] == [node] and got["flags"] & (1 << 15),
           f"memoryPolicy was accepted but the process has mode {got['mode']} flags "
           f"{got['flags']:#x} nodes {got['nodes']}, not MPOL_BIND|MPOL_F_STATIC_NODES {node}")


@check("linux.memoryPolicy.invalid-mode", CFG, "Memory policy",
       "mode (string, REQUIRED) - A valid list of constants is shown below.")
def _(env):
    b = env.bundle("mempolicy-bogus")
    b.linux["memoryPolicy"] = {"mode": "MPOL_CFBOGUS"}
    env.expect_error(b, "memoryPolicy mode MPOL_CFBOGUS")


@check("linux.memoryPolicy.nodes", CFG, "Memory policy",
       "Others that there is at least one node, e.g. MPOL_BIND and MPOL_INTERLEAVE.")
def _(env):
    b = env.bundle("mempolicy-nonodes")
    b.linux["memoryPolicy"] = {"mode": "MPOL_BIND"}
    env.expect_error(b, "MPOL_BIND without nodes")


# ------------------------------------------------------------------ intelRdt

@check("linux.intelRdt.no-resctrl", CFG, "IntelRdt",
       "If no mounted resctrl pseudo-filesystem is available in the runtime mount namespace, the "
       "runtime MUST generate an error.")
def _(env):
    if env.host.resctrl:
        raise HostSkip("host has a resctrl filesystem mounted")
    b = env.bundle("rdt")
    b.linux["intelRdt"] = {"closID": "cfclos"}
    env.expect_error(b, "intelRdt on a host without resctrl")


@check("linux.intelRdt.tasks", CFG, "IntelRdt",
       "If intelRdt is set, the runtime MUST write the container process ID to the tasks file in "
       "a proper sub-directory in a mounted resctrl pseudo-filesystem.")
def _(env):
    if not env.host.resctrl:
        raise HostSkip("host has no resctrl filesystem")
    mp = next(m["mount_point"] for m in mountinfo() if m["fs_type"] == "resctrl")
    b = env.bundle("rdt-tasks")
    b.linux["intelRdt"] = {}
    b.args(PROBE, "sleep", "inf")
    st = env.started(b)
    try:
        tasks = (read(os.path.join(mp, b.id, "tasks")) or "").split()
        expect(str(st["pid"]) in tasks, f"pid {st['pid']} not in {mp}/{b.id}/tasks")
    finally:
        env.destroy(b.id)
    expect(not os.path.exists(os.path.join(mp, b.id)), f"{mp}/{b.id} left after delete")


# -------------------------------------------------------------------- sysctl

SYSCTLS = {"net.ipv4.ip_default_ttl": "77", "kernel.msgmax": "12345",
           "kernel.domainname": "cf.sysctl"}


@check("linux.sysctl", CFG, "Sysctl",
       "sysctl (object, OPTIONAL) allows kernel parameters to be modified at runtime for the "
       "container.")
def _(env):
    host_before = {k: read("/proc/sys/" + k.replace(".", "/")) for k in SYSCTLS}
    b = env.bundle("sysctl")
    b.linux["sysctl"] = dict(SYSCTLS)
    p = env.probe(b, *[["cat", "/proc/sys/" + k.replace(".", "/")] for k in SYSCTLS])
    for i, (k, v) in enumerate(SYSCTLS.items()):
        expect(p.text(i).strip() == v, f"{k} is {p.text(i).strip()!r} in the container, not {v}")
    host_after = {k: read("/proc/sys/" + k.replace(".", "/")) for k in SYSCTLS}
    expect(host_before == host_after, f"the host's values changed: {host_after}")


@check("linux.sysctl.unknown", "runtime.md", "Create",
       "If the runtime cannot apply a property as specified in the configuration, it MUST "
       "generate an error and a new container MUST NOT be created.",
       note="linux.sysctl with a key the kernel does not have")
def _(env):
    b = env.bundle("sysctl-bogus")
    b.linux["sysctl"] = {"net.cfbogus.key": "1"}
    env.expect_error(b, "sysctl net.cfbogus.key")


# ------------------------------------------------------ rootfs propagation

def propagation(env, value) -> dict:
    """The rootfs on a shared host mount; a mount made on the host under it
    after start; what the container's mount table says."""
    def go():
        b = env.bundle(f"prop-{value}")
        os.makedirs(b.rpath("mnt", "prop"))
        env.sh("mount", "--bind", b.rootfs, b.rootfs)
        env.at_exit(lambda: env.sh("umount", "-R", "-l", b.rootfs, check=False))
        env.sh("mount", "--make-shared", b.rootfs)
        b.linux["rootfsPropagation"] = value
        b.args(PROBE, "sleep", "inf")
        st = env.started(b)
        try:
            env.sh("mount", "-t", "tmpfs", "-o", "size=1m", "cfprop", b.rpath("mnt", "prop"))
            time.sleep(0.1)
            ms = mountinfo(st["pid"])
            root = [m for m in ms if m["mount_point"] == "/"]
            seen = any(m["mount_point"] == "/mnt/prop" for m in ms)
        finally:
            env.sh("umount", "-l", b.rpath("mnt", "prop"), check=False)
            env.destroy(b.id)
        expect(root, "the container has no / in its mount table")
        return {"optional": root[-1]["optional"], "sees_host_mount": seen}
    return env.once(f"prop-{value}", go)


@check("linux.rootfsPropagation.shared", CFG, "Rootfs Mount Propagation",
       "shared: the rootfs mount belongs to a new peer group.")
def _(env):
    o = propagation(env, "shared")
    expect("shared:" in o["optional"], f"/ is not shared: {o['optional']!r}")


@check("linux.rootfsPropagation.slave", CFG, "Rootfs Mount Propagation",
       "slave: the rootfs mount receives propagation events from the host (e.g. if something is "
       "mounted on the host it will also appear in the container) but not the other way around.")
def _(env):
    o = propagation(env, "slave")
    expect("master:" in o["optional"] and "shared:" not in o["optional"],
           f"/ is not a slave: {o['optional']!r}")
    expect(o["sees_host_mount"], "a mount made on the host under the rootfs did not appear")


@check("linux.rootfsPropagation.private", CFG, "Rootfs Mount Propagation",
       "private: the rootfs mount doesn't receive mount propagation events from the host and "
       "further mounts in nested containers will be isolated from the host and from the rootfs "
       "(even if the nested container rootfsPropagation option is shared).")
def _(env):
    o = propagation(env, "private")
    expect(not re.search(r"(shared|master):", o["optional"]), f"/ is not private: {o['optional']!r}")
    expect(not o["sees_host_mount"], "a mount made on the host under the rootfs appeared")


@check("linux.rootfsPropagation.unbindable", CFG, "Rootfs Mount Propagation",
       "unbindable: the rootfs mount is a private mount that cannot be bind-mounted.")
def _(env):
    o = propagation(env, "unbindable")
    expect("unbindable" in o["optional"], f"/ is not unbindable: {o['optional']!r}")
    expect(not o["sees_host_mount"], "a mount made on the host under the rootfs appeared")


@check("linux.rootfsPropagation.invalid", CFG, "Rootfs Mount Propagation",
       "Its value is either shared, slave, private or unbindable.")
def _(env):
    b = env.bundle("prop-bogus")
    b.linux["rootfsPropagation"] = "cfbogus"
    env.expect_error(b, "rootfsPropagation cfbogus")


# ----------------------------------------------------- masked / readonly paths

def paths(env):
    def go():
        b = env.bundle("paths")
        with open(b.rpath("etc", "cf-secret"), "w") as f:
            f.write("secret")
        os.makedirs(b.rpath("cf-masked-dir"))
        with open(b.rpath("cf-masked-dir", "inside"), "w") as f:
            f.write("secret")
        os.makedirs(b.rpath("cf-ro-dir"))
        b.linux["maskedPaths"] = ["/proc/kcore", "/etc/cf-secret", "/cf-masked-dir",
                                  "/proc/cf-does-not-exist"]
        b.linux["readonlyPaths"] = ["/proc/sys", "/cf-ro-dir"]
        return env.probe(b, ["cat", "/etc/cf-secret"], ["ls", "/cf-masked-dir"],
                         ["stat", "/proc/kcore"], ["write", "/cf-ro-dir/x", "x"],
                         ["open-write", "/proc/sys/kernel/hostname"], ["write", "/tmp/x", "x"])
    return env.once("paths", go)


@check("linux.maskedPaths", CFG, "Masked Paths",
       "maskedPaths (array of strings, OPTIONAL) will mask over the provided paths inside the "
       "container so that they cannot be read.")
def _(env):
    p = paths(env)
    expect("secret" not in p.text(0), "/etc/cf-secret can be read")
    expect("inside" not in p.text(1), "/cf-masked-dir can be listed")


@check("linux.maskedPaths.absolute", CFG, "Masked Paths",
       "The values MUST be absolute paths in the container namespace.")
def _(env):
    b = env.bundle("masked-rel")
    b.linux["maskedPaths"] = ["etc/passwd"]
    env.expect_error(b, "a relative masked path")


@check("linux.readonlyPaths", CFG, "Readonly Paths",
       "readonlyPaths (array of strings, OPTIONAL) will set the provided paths as readonly inside "
       "the container.")
def _(env):
    p = paths(env)
    expect("Read-only file system" in p.text(3), f"writing /cf-ro-dir/x: {p.text(3).strip()!r}")
    expect("Read-only file system" in p.text(4),
           f"opening /proc/sys/kernel/hostname for writing: {p.text(4).strip()!r}")
    expect(p.text(5).strip() == "ok", f"(control) writing /tmp/x: {p.text(5).strip()!r}")


@check("linux.readonlyPaths.absolute", CFG, "Readonly Paths",
       "The values MUST be absolute paths in the container namespace.")
def _(env):
    b = env.bundle("ro-rel")
    b.linux["readonlyPaths"] = ["proc/sys"]
    env.expect_error(b, "a relative readonly path")


@check("linux.mountLabel", CFG, "Mount Label",
       "mountLabel (string, OPTIONAL) will set the Selinux context for the mounts in the "
       "container.")
def _(env):
    if not env.host.selinux:
        raise HostSkip("host has no SELinux")
    raise HostSkip("SELinux hosts are not covered yet")


# --------------------------------------------------------------- personality

def personality(env, domain):
    def go():
        b = env.bundle(f"pers-{domain.lower()}")
        b.linux["personality"] = {"domain": domain}
        return env.probe(b, ["uname"], ["syscall", "personality", "0xffffffff"])
    return env.once(f"pers-{domain}", go)


@check("linux.personality.linux32", CFG, "Personality",
       "LINUX32 will set the uname system call to show a 32 bit CPU type, such as i686.")
def _(env):
    if os.uname().machine != "x86_64":
        raise HostSkip("host is not x86_64")
    p = personality(env, "LINUX32")
    m = p.json(0)["machine"]
    expect(re.fullmatch(r"i[3-6]86", m), f"uname -m in the container is {m!r}")
    pers = int(p.text(1).split()[0])
    expect(pers & 0xff == 8, f"personality is {pers:#x}, not PER_LINUX32 (8)")


@check("linux.personality.linux", CFG, "Personality",
       "domain (string, REQUIRED) - the execution domain.")
def _(env):
    p = personality(env, "LINUX")
    pers = int(p.text(1).split()[0])
    expect(pers & 0xff == 0, f"personality is {pers:#x}, not PER_LINUX (0)")
    expect(p.json(0)["machine"] == os.uname().machine, f"uname -m is {p.json(0)['machine']!r}")


@check("linux.personality.flags", CFG, "Personality",
       "Currently no flag values are supported.",
       note="a flag is an unsupported value: config.md § Valid values demands an error")
def _(env):
    b = env.bundle("pers-flag")
    b.linux["personality"] = {"domain": "LINUX", "flags": ["CF_BOGUS_FLAG"]}
    env.expect_error(b, "a personality flag")


@check("linux.personality.invalid", CFG, "Personality",
       "The valid list of constants is shown below.")
def _(env):
    b = env.bundle("pers-bogus")
    b.linux["personality"] = {"domain": "CFBOGUS"}
    env.expect_error(b, "personality domain CFBOGUS")
