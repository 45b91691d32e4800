"""features.md and features-linux.md: the `features` command's document, and
that the runtime recognises what it lists.

Not observable, so not checked: "the content of the Features structure
SHOULD be determined on the compilation time" (when it is computed); "The
null value MUST NOT be confused with an empty value" (no way to see a
confusion from outside); the meaning of the booleans of cgroup, apparmor,
selinux and intelRdt (capabilities of the runtime the host may not have).
"""
from __future__ import annotations

import json
import os
import re
import sys

from .core import Fail, HostSkip, check, expect

F, FL = "features.md", "features-linux.md"
SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-([0-9A-Za-z.-]+))?"
                    r"(?:\+[0-9A-Za-z.-]+)?$")
KNOWN = {  # the properties features.md and features-linux.md of v1.3.0 define
    "": {"ociVersionMin", "ociVersionMax", "hooks", "mountOptions", "linux", "annotations",
         "potentiallyUnsafeConfigAnnotations"},
    "linux": {"namespaces", "capabilities", "cgroup", "seccomp", "apparmor", "selinux",
              "intelRdt", "mountExtensions", "netDevices", "memoryPolicy"},
    "linux.cgroup": {"v1", "v2", "systemd", "systemdUser", "rdma"},
    "linux.seccomp": {"enabled", "actions", "operators", "archs", "knownFlags", "supportedFlags"},
    "linux.apparmor": {"enabled"},
    "linux.selinux": {"enabled"},
    "linux.intelRdt": {"enabled", "schemata", "monitoring"},
    "linux.mountExtensions": {"idmap"},
    "linux.mountExtensions.idmap": {"enabled"},
    "linux.netDevices": {"enabled"},
    "linux.memoryPolicy": {"modes", "flags"},
}
HOOKS = ("prestart", "createRuntime", "createContainer", "startContainer", "poststart",
         "poststop")


def features(env) -> dict:
    def go():
        r = env.rt("features", timeout=20)
        expect(r.ok, f"`features` failed: {r.brief()}")
        try:
            doc = json.loads(r.out)
        except ValueError:
            raise Fail(f"`features` printed no JSON: {r.out[:200]!r}")
        expect(isinstance(doc, dict), "the features document is not a JSON object")
        return doc
    return env.once("features", go)


def linux(env) -> dict:
    return features(env).get("linux") or {}


def semver_key(v):
    m = SEMVER.match(v or "")
    if not m:
        raise Fail(f"{v!r} is not a SemVer version")
    pre = m.group(4)
    return (int(m.group(1)), int(m.group(2)), int(m.group(3)), pre is None,
            [int(x) if x.isdigit() else x for x in (pre or "").split(".")])


def runs_with(env, slug, mutate) -> str | None:
    """None when a container so configured runs; else why not."""
    b = env.bundle(slug)
    mutate(b)
    r = env.run(b)
    return None if r.ok else r.brief()


@check("features.ociVersionMin", F, "Specification version",
       "ociVersionMin (string, REQUIRED) The minimum recognized version of the Open Container "
       "Initiative Runtime Specification.")
def _(env):
    semver_key(features(env).get("ociVersionMin"))


@check("features.ociVersionMax", F, "Specification version",
       "ociVersionMax (string, REQUIRED) The maximum recognized version of the Open Container "
       "Initiative Runtime Specification.")
def _(env):
    semver_key(features(env).get("ociVersionMax"))


for _k in ("ociVersionMin", "ociVersionMax"):
    def _accepts(env, k=_k):
        v = features(env).get(k)
        semver_key(v)
        why = runs_with(env, f"feat-{k[-3:].lower()}", lambda b: b.config.update(ociVersion=v))
        expect(why is None, f"a config with ociVersion {v} ({k}) did not run: {why}")
    check(f"features.{_k}.accepted", F, "Specification version",
          "The runtime MUST accept this value as the ociVersion property of config.json.",
          note=_k)(_accepts)


@check("features.ociVersionMax.not-less", F, "Specification version",
       "The value MUST NOT be less than the value of the ociVersionMin property.")
def _(env):
    d = features(env)
    expect(semver_key(d.get("ociVersionMax")) >= semver_key(d.get("ociVersionMin")),
           f"ociVersionMax {d.get('ociVersionMax')} < ociVersionMin {d.get('ociVersionMin')}")


@check("features.known-properties", F, "Specification version",
       "The Features structure MUST NOT contain properties that are not defined in this version "
       "of the Open Container Initiative Runtime Specification.",
       note="checked against the properties of v1.3.0")
def _(env):
    extra = []

    def walk(obj, path):
        if path not in KNOWN or not isinstance(obj, dict):
            return
        for k, v in obj.items():
            if k not in KNOWN[path]:
                extra.append(f"{path + '.' if path else ''}{k}")
            else:
                walk(v, f"{path + '.' if path else ''}{k}")
    walk(features(env), "")
    expect(not extra, f"properties v1.3.0 does not define: {extra}")


@check("features.hooks", F, "Hooks",
       "The runtime MUST support the elements in this array as the hooks property of config.json.")
def _(env):
    from .checks_hooks import hooks, need
    listed = features(env).get("hooks") or []
    unknown = [h for h in listed if h not in HOOKS]
    expect(not unknown, f"hooks {unknown} are not hooks of the spec")
    o = hooks(env)
    log = need(o, "log")
    missing = [h for h in listed if h != "startContainer" and h not in log]
    if "startContainer" in listed and not o["h"].cfile("startContainer.ran"):
        missing.append("startContainer")
    expect(not missing, f"listed hooks that did not run: {missing}")


# ------------------------------------------------------------ mount options

GENERIC = {"async", "atime", "bind", "defaults", "dev", "diratime", "dirsync", "exec", "iversion",
           "lazytime", "loud", "mand", "noatime", "nodev", "nodiratime", "noexec", "noiversion",
           "nolazytime", "nomand", "norelatime", "nostrictatime", "nosuid", "nosymfollow",
           "private", "ratime", "rbind", "rdev", "rdiratime", "relatime", "remount", "rexec",
           "rnoatime", "rnodev", "rnodiratime", "rnoexec", "rnorelatime", "rnostrictatime",
           "rnosuid", "rnosymfollow", "ro", "rprivate", "rrelatime", "rro", "rrw", "rshared",
           "rslave", "rstrictatime", "rsuid", "rsymfollow", "runbindable", "rw", "shared",
           "silent", "slave", "strictatime", "suid", "symfollow", "sync", "tmpcopyup",
           "unbindable", "idmap", "ridmap", "acl", "noacl"}
BIND_ONLY = {"bind", "rbind", "private", "rprivate", "shared", "rshared", "slave", "rslave",
             "unbindable", "runbindable"}


def option_entries(env, opt, src):
    from .checks_mounts import bind, tmpfs
    d = f"/fo/{re.sub(r'[^a-z0-9]', '_', opt)}"
    if opt in ("idmap", "ridmap"):
        m = [{**bind(d, src, "rbind", opt),
              "uidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}],
              "gidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}]}]
    elif opt in BIND_ONLY or opt.startswith("r") and opt not in ("ro", "rw", "relatime",
                                                                 "remount"):
        m = [bind(d, src, "rbind" if opt != "bind" else "bind", opt)]
    elif opt == "remount":
        m = [tmpfs(d, "size=1m"), tmpfs(d, "remount", "ro")]
    else:
        m = [tmpfs(d, opt)]
    return m


def recognised_options(env) -> dict:
    def go():
        from .checks_mounts import source_tree
        listed = features(env).get("mountOptions") or []
        src = source_tree(env)["src"]
        bad = {}

        def attempt(opts, slug):
            def mutate(b):
                for o in opts:
                    for m in option_entries(env, o, src):
                        os.makedirs(b.rpath(m["destination"]), exist_ok=True)
                        b.config["mounts"].append(m)
            return runs_with(env, slug, mutate)
        plain = [o for o in listed if o not in ("idmap", "ridmap")]
        if plain and attempt(plain, "feat-mountopts"):
            for o in plain:
                why = attempt([o], f"feat-mo-{o}"[:24])
                if why:
                    bad[o] = why
        for o in [o for o in listed if o in ("idmap", "ridmap")]:
            why = attempt([o], f"feat-mo-{o}")
            if why:
                bad[o] = why
        return listed, bad
    return env.once("feat-mountopts", go)


@check("features.mountOptions", F, "Mount Options",
       "The runtime MUST recognize the elements in this array as the options of mounts objects "
       "in config.json.")
def _(env):
    listed, bad = recognised_options(env)
    expect(not bad, "listed options that a container cannot use: " +
           "; ".join(f"{k}: {v}" for k, v in list(bad.items())[:5]))


@check("features.mountOptions.no-fs-specific", F, "Mount Options",
       "Linux: this array SHOULD NOT contain filesystem-specific mount options that are passed to "
       "the mount(2) syscall as const void *data.")
def _(env):
    listed = features(env).get("mountOptions") or []
    odd = [o for o in listed if "=" in o or o not in GENERIC]
    expect(not odd, f"filesystem-specific options: {odd}")


# ------------------------------------------------------------------- linux

@check("features.linux.namespaces", FL, "Namespaces",
       "The runtime MUST recognize the elements in this array as the type of linux.namespaces "
       "objects in config.json.")
def _(env):
    listed = linux(env).get("namespaces") or []
    if "time" in listed and not env.host.time_ns:
        listed = [n for n in listed if n != "time"]

    def mutate(b):
        for n in listed:
            if n == "user":
                b.userns()
            else:
                b.add_ns(n)
    why = runs_with(env, "feat-ns", mutate)
    expect(why is None, f"a container with every listed namespace {listed} did not run: {why}")


@check("features.linux.capabilities", FL, "Capabilities",
       "The runtime MUST recognize the elements in this array in the process.capabilities object "
       "of config.json.")
def _(env):
    from .caps import CAPS
    listed = linux(env).get("capabilities") or []
    unknown = [c for c in listed if c not in CAPS]
    expect(not unknown, f"capabilities capabilities(7) does not have: {unknown}")
    usable = [c for c in listed if CAPS[c] <= env.host.last_cap and
              env.host.cap_bounding & (1 << CAPS[c])]

    def mutate(b):
        b.process["capabilities"] = {"bounding": usable, "effective": usable,
                                     "permitted": usable}
    why = runs_with(env, "feat-caps", mutate)
    expect(why is None, f"a container with the listed capabilities did not run: {why}")


SC_TARGETS = ["acct", "swapon", "swapoff", "syslog", "vhangup", "kexec_load", "init_module",
              "delete_module", "quotactl", "lookup_dcookie", "nfsservctl", "uselib"]


# libseccomp cannot put architectures of the other byte order into one filter
# (EDOM): on a little-endian host only the little-endian ones can be tried.
BIG_ENDIAN = {"SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64", "SCMP_ARCH_MIPS64N32", "SCMP_ARCH_PPC",
              "SCMP_ARCH_PPC64", "SCMP_ARCH_S390", "SCMP_ARCH_S390X", "SCMP_ARCH_PARISC",
              "SCMP_ARCH_PARISC64", "SCMP_ARCH_M68K", "SCMP_ARCH_SHEB"}


def seccomp_kind(env, kind):
    """Run a filter using every listed `kind`; (listed, None | why not)."""
    def go():
        from .checks_security import Listener
        sc = linux(env).get("seccomp") or {}
        listed = sc.get(kind) or []
        if not listed:
            return listed, None
        b = env.bundle(f"feat-sc-{kind}"[:22])
        cfg = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": []}
        if kind == "actions":
            for i, a in enumerate(listed[:len(SC_TARGETS)]):
                cfg["syscalls"].append({"names": [SC_TARGETS[i]], "action": a})
            if "SCMP_ACT_NOTIFY" in listed:
                cfg["listenerPath"] = Listener(os.path.join(env.tmp, f"feat-{b.id}.sock")).path
        elif kind == "operators":
            for i, op in enumerate(listed):
                arg = {"index": 0, "value": 0x11110 + i, "op": op}
                if op == "SCMP_CMP_MASKED_EQ":
                    arg = {"index": 0, "value": 0xff, "valueTwo": 0x42, "op": op}
                cfg["syscalls"].append({"names": ["personality"], "action": "SCMP_ACT_ERRNO",
                                        "args": [arg]})
        elif kind == "archs":
            little = sys.byteorder == "little"
            cfg["architectures"] = [a for a in listed if (a in BIG_ENDIAN) != little]
        else:
            cfg["flags"] = listed
            if "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV" in listed:   # the kernel wants a listener
                cfg["syscalls"].append({"names": ["uselib"], "action": "SCMP_ACT_NOTIFY"})
                cfg["listenerPath"] = Listener(os.path.join(env.tmp, f"feat-{b.id}.sock")).path
        if kind != "actions":
            cfg["syscalls"].append({"names": ["acct"], "action": "SCMP_ACT_ERRNO"})
        b.linux["seccomp"] = cfg
        r = env.run(b)
        return listed, (None if r.ok else r.brief())
    return env.once(f"feat-sc-{kind}", go)


for _k, _q, _n in (
        ("actions", "The runtime MUST recognize the elements in this array in the "
                    "syscalls[].action property of the linux.seccomp object in config.json.", ""),
        ("operators", "The runtime MUST recognize the elements in this array in the "
                      "syscalls[].args[].op property of the linux.seccomp object in config.json.",
         ""),
        ("archs", "The runtime MUST recognize the elements in this array in the architectures "
                  "property of the linux.seccomp object in config.json.",
         "the architectures of the host's byte order (libseccomp cannot mix them)"),
        ("supportedFlags", "The runtime MUST recognize and support the elements in this array "
                           "in the flags property of the linux.seccomp object in config.json.",
         "")):
    def _sc(env, k=_k):
        listed, why = seccomp_kind(env, k)
        expect(why is None, f"a filter using every listed {k} {listed} did not run: {why}")
    check(f"features.linux.seccomp.{_k}", FL, "Seccomp", _q, note=_n)(_sc)


@check("features.linux.seccomp.knownFlags", FL, "Seccomp",
       "The runtime MUST recognize the elements in this array in the flags property of the "
       "linux.seccomp object in config.json.",
       note="every supported flag is known; unsupported known flags are refused, not unknown")
def _(env):
    sc = linux(env).get("seccomp") or {}
    known, supported = set(sc.get("knownFlags") or []), set(sc.get("supportedFlags") or [])
    expect(supported <= known, f"supportedFlags {sorted(supported - known)} not in knownFlags")


@check("features.linux.memoryPolicy", FL, "MemoryPolicy",
       "The runtime MUST recognize the elements in this array as the mode of linux.memoryPolicy "
       "objects in config.json.")
def _(env):
    modes = (linux(env).get("memoryPolicy") or {}).get("modes") or []
    if not modes:
        return
    if not env.host.numa_nodes:
        raise HostSkip("kernel has no NUMA nodes")
    node = str(env.host.numa_nodes[0])
    bad = {}
    for m in modes:
        pol = {"mode": m}
        if m not in ("MPOL_DEFAULT", "MPOL_LOCAL"):
            pol["nodes"] = node
        why = runs_with(env, f"feat-mpol-{m[5:].lower()}"[:24],
                        lambda b: b.linux.update(memoryPolicy=pol))
        if why:
            bad[m] = why
    expect(not bad, f"listed modes that do not run: {bad}")


@check("features.linux.memoryPolicy.flags", FL, "MemoryPolicy",
       "The runtime MUST recognize the elements in this in the flags property of the "
       "linux.memoryPolicy object in config.json")
def _(env):
    flags = (linux(env).get("memoryPolicy") or {}).get("flags") or []
    if not flags:
        return
    if not env.host.numa_nodes:
        raise HostSkip("kernel has no NUMA nodes")
    pol = {"mode": "MPOL_BIND", "nodes": str(env.host.numa_nodes[0]), "flags": flags[:1]}
    bad = {}
    for f in flags:
        pol = {"mode": "MPOL_BIND", "nodes": str(env.host.numa_nodes[0]), "flags": [f]}
        why = runs_with(env, f"feat-mflag-{f[-6:].lower()}", lambda b: b.linux.update(memoryPolicy=pol))
        if why:
            bad[f] = why
    expect(not bad, f"listed flags that do not run: {bad}")


@check("features.linux.mountExtensions.idmap", FL, "MountExtensions",
       "In such cases, runtimes MUST still set this value to true, to indicate that the runtime "
       "recognises the uidMappings and gidMappings properties.")
def _(env):
    from .checks_mounts import idmapped
    enabled = ((linux(env).get("mountExtensions") or {}).get("idmap") or {}).get("enabled")
    try:
        idmapped(env)
        works = True
    except Fail:
        works = False
    if works:
        expect(enabled is True, f"id-mapped mounts work but idmap.enabled is {enabled!r}")
    else:
        expect(enabled is not True, "idmap.enabled is true but id-mapped mounts do not work")


@check("features.linux.netDevices", FL, "NetDevices",
       "enabled (bool, OPTIONAL) represents whether the runtime supports the capability to move "
       "Linux network devices into the container's network namespace.")
def _(env):
    from .checks_linux import ifaces, netdevices
    enabled = (linux(env).get("netDevices") or {}).get("enabled")
    try:
        works = "cf0" in ifaces(netdevices(env)["probe"])
    except Fail:
        works = False
    expect(works == (enabled is True), f"netDevices.enabled is {enabled!r} but moving devices "
                                       f"{'works' if works else 'does not work'}")


@check("features.annotations", F, "Annotations",
       "Annotations MUST be a key-value map that follows the same convention as the Key and "
       "Values of the annotations property of config.json.")
def _(env):
    ann = features(env).get("annotations")
    if ann is None:
        return
    expect(isinstance(ann, dict), f"annotations is a {type(ann).__name__}")
    bad = [k for k, v in ann.items() if not k or not isinstance(v, str)]
    expect(not bad, f"annotations with an empty key or a non-string value: {bad}")
