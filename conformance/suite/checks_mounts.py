"""config.md § Mounts, § Linux mount options and § POSIX-platform Mounts.

Each option of the table gets a mount whose effect the container's own
/proc/self/mountinfo shows (per-mount flags in field 6, superblock flags in
the super options, propagation in the optional fields). The options of a
group share one container; when that container fails, every option of the
group runs alone, so each check has its own verdict.

Bind sources: a tmpfs the suite mounts under its temp dir and makes shared,
with a plain submount `sub` and a submount `subflags` mounted ro, nosuid,
nodev, noexec, noatime, nodiratime (and nosymfollow) to see the recursive
options set and clear flags.

Only accepted, not observed (the kernel shows no trace of them): iversion,
noiversion, loud, silent, norelatime, rnorelatime, rnostrictatime (the atime
mode a cleared flag leaves is the kernel's choice). Not checked: mand, nomand,
tmpcopyup (MAY); the Windows and Solaris sentences.
"""
from __future__ import annotations

import os

from .core import Fail, HostSkip, check, expect
from .host import mountinfo

TABLE = ("config.md", "Linux mount options",
         "Runtimes MUST/SHOULD/MAY implement the following option strings for Linux:")


def mounts_at(info, mp) -> list[dict]:
    return [m for m in info["mounts"] if m["mount_point"] == mp]


def top(info, mp) -> dict:
    ms = mounts_at(info, mp)
    if not ms:
        raise Fail(f"nothing is mounted at {mp}")
    return ms[-1]


def opts(m) -> set:
    return set(m["options"].split(","))


def sopts(m) -> set:
    return set(m["super_options"].split(","))


class Case:
    def __init__(self, name, mounts, verify):
        self.name = name
        self.mounts = mounts        # list of mount entries (functions of the source dirs)
        self.verify = verify        # verify(info, ls) raises Fail


def source_tree(env) -> dict:
    """The host-side bind source (shared tmpfs with submounts)."""
    def go():
        top_ = os.path.join(env.tmp, "msrc")
        os.makedirs(top_)
        env.at_exit(lambda: env.sh("umount", "-R", "-l", top_, check=False))
        env.sh("mount", "-t", "tmpfs", "-o", "size=4m", "cfmsrc", top_)
        env.sh("mount", "--make-shared", top_)
        with open(os.path.join(top_, "f"), "w") as f:
            f.write("f")
        for d in ("sub", "subflags"):
            os.makedirs(os.path.join(top_, d))
        env.sh("mount", "-t", "tmpfs", "-o", "size=1m", "cfsub", os.path.join(top_, "sub"))
        with open(os.path.join(top_, "sub", "s"), "w") as f:
            f.write("s")
        flags = "ro,nosuid,nodev,noexec,noatime,nodiratime"
        if env.host.kernel >= (5, 10):
            flags += ",nosymfollow"
        env.sh("mount", "-t", "tmpfs", "-o", f"size=1m,{flags}", "cfsubf",
               os.path.join(top_, "subflags"))
        return {"src": top_}
    return env.once("msrc", go)


def tmpfs(dest, *options):
    return {"destination": dest, "type": "tmpfs", "source": "tmpfs", "options": list(options)}


def bind(dest, src, *options):
    return {"destination": dest, "type": "none", "source": src, "options": list(options)}


# ----------------------------------------------------------------- the cases

def has(flag, where="options"):
    def v(info, ls, mp):
        m = top(info, mp)
        got = opts(m) if where == "options" else sopts(m)
        expect(flag in got, f"{mp}: no {flag} in {m[where]}")
    return v


def lacks(flag, where="options"):
    def v(info, ls, mp):
        m = top(info, mp)
        got = opts(m) if where == "options" else sopts(m)
        expect(flag not in got, f"{mp}: {flag} still in {m[where]}")
    return v


def mounted(info, ls, mp):
    top(info, mp)


def strict(info, ls, mp):
    m = top(info, mp)
    expect(not opts(m) & {"relatime", "noatime"}, f"{mp}: not strictatime: {m['options']}")


def defaults(info, ls, mp):
    m = top(info, mp)
    expect("rw" in opts(m) and not opts(m) & {"nosuid", "nodev", "noexec"},
           f"{mp}: defaults is rw,suid,dev,exec,...: {m['options']}")


# name -> (level, options, verify); every one a tmpfs at /mo/<name>
TMPFS_CASES = {
    "async": ("MUST", ["sync", "async"], lacks("sync", "super_options")),
    "atime": ("MUST", ["noatime", "atime"], lacks("noatime")),
    "defaults": ("MUST", ["defaults"], defaults),
    "dev": ("MUST", ["nodev", "dev"], lacks("nodev")),
    "diratime": ("MUST", ["nodiratime", "diratime"], lacks("nodiratime")),
    "dirsync": ("MUST", ["dirsync"], has("dirsync", "super_options")),
    "exec": ("MUST", ["noexec", "exec"], lacks("noexec")),
    "iversion": ("MUST", ["iversion"], mounted),
    "lazytime": ("MUST", ["lazytime"], has("lazytime", "super_options")),
    "loud": ("MUST", ["silent", "loud"], mounted),
    "noatime": ("MUST", ["noatime"], has("noatime")),
    "nodev": ("MUST", ["nodev"], has("nodev")),
    "nodiratime": ("MUST", ["nodiratime"], has("nodiratime")),
    "noexec": ("MUST", ["noexec"], has("noexec")),
    "noiversion": ("MUST", ["noiversion"], mounted),
    "nolazytime": ("MUST", ["lazytime", "nolazytime"], lacks("lazytime", "super_options")),
    "norelatime": ("MUST", ["norelatime"], mounted),
    "nostrictatime": ("MUST", ["strictatime", "nostrictatime"], has("relatime")),
    "nosuid": ("MUST", ["nosuid"], has("nosuid")),
    "relatime": ("MUST", ["relatime"], has("relatime")),
    "ro": ("MUST", ["ro"], has("ro")),
    "rw": ("MUST", ["ro", "rw"], has("rw")),
    "silent": ("MUST", ["silent"], mounted),
    "strictatime": ("MUST", ["strictatime"], strict),
    "suid": ("MUST", ["nosuid", "suid"], lacks("nosuid")),
    "sync": ("MUST", ["sync"], has("sync", "super_options")),
    "nosymfollow": ("SHOULD", ["nosymfollow"], has("nosymfollow")),
    "symfollow": ("SHOULD", ["nosymfollow", "symfollow"], lacks("nosymfollow")),
}


def sub_has(flag, sub="sub"):
    def v(info, ls, mp):
        m = top(info, f"{mp}/{sub}")
        expect(flag in opts(m), f"{mp}/{sub} (a submount): no {flag} in {m['options']}")
    return v


def sub_lacks(flag, sub="subflags"):
    def v(info, ls, mp):
        m = top(info, f"{mp}/{sub}")
        expect(flag not in opts(m), f"{mp}/{sub} (a submount): {flag} still in {m['options']}")
    return v


def sub_strict(info, ls, mp):
    m = top(info, f"{mp}/subflags")
    expect(not opts(m) & {"relatime", "noatime"}, f"{mp}/subflags: not strictatime: {m['options']}")


def sub_mounted(info, ls, mp):
    top(info, f"{mp}/sub")


# name -> (level, verify); each an rbind of the source with [name]
RECURSIVE_CASES = {
    "rro": ("SHOULD", sub_has("ro")),
    "rrw": ("SHOULD", sub_lacks("ro")),
    "rnosuid": ("SHOULD", sub_has("nosuid")),
    "rsuid": ("SHOULD", sub_lacks("nosuid")),
    "rnodev": ("SHOULD", sub_has("nodev")),
    "rdev": ("SHOULD", sub_lacks("nodev")),
    "rnoexec": ("SHOULD", sub_has("noexec")),
    "rexec": ("SHOULD", sub_lacks("noexec")),
    "rnoatime": ("SHOULD", sub_has("noatime")),
    "ratime": ("SHOULD", sub_lacks("noatime")),
    "rnodiratime": ("SHOULD", sub_has("nodiratime")),
    "rdiratime": ("SHOULD", sub_lacks("nodiratime")),
    "rrelatime": ("SHOULD", lambda info, ls, mp: sub_has("relatime", "subflags")(info, ls, mp)),
    "rstrictatime": ("SHOULD", sub_strict),
    "rnosymfollow": ("SHOULD", sub_has("nosymfollow")),
    "rsymfollow": ("SHOULD", sub_lacks("nosymfollow")),
    "rnorelatime": ("SHOULD", sub_mounted),
    "rnostrictatime": ("SHOULD", sub_mounted),
}


def prop_is(kind):
    def v(info, ls, mp, ctl):
        for p in (mp, f"{mp}/sub") if kind.startswith("r") else (mp,):
            m = top(info, p)
            o = m["optional"]
            if kind.endswith("private"):
                expect(not any(t.startswith(("shared:", "master:")) for t in o.split()),
                       f"{p}: not private: {o!r}")
            elif kind.endswith("shared"):
                expect("shared:" in o, f"{p}: not shared: {o!r}")
            elif kind.endswith("slave"):
                expect("shared:" not in o, f"{p}: shared, not a slave: {o!r}")
                # A slave of nothing is private: only when the source had a
                # peer group in the container can "master:" be demanded.
                if "master:" in ctl or "shared:" in ctl:
                    expect("master:" in o, f"{p}: not a slave: {o!r} (the plain bind is {ctl!r})")
            elif kind.endswith("unbindable"):
                expect("unbindable" in o, f"{p}: not unbindable: {o!r}")
    return v


PROP_CASES = {k: ("MUST", prop_is(k)) for k in
              ("private", "rprivate", "shared", "rshared", "slave", "rslave", "unbindable",
               "runbindable")}


def build_cases(env) -> dict:
    """group -> list of (check name, level, mounts, verify(info, ls))."""
    src = source_tree(env)["src"]
    groups = {"tmpfs": [], "recursive": [], "bind": [], "misc": [], "remount": []}
    for name, (lvl, o, v) in TMPFS_CASES.items():
        mp = f"/mo/{name}"
        groups["tmpfs"].append((name, lvl, [tmpfs(mp, *o)], (lambda v, mp: lambda i, l: v(i, l, mp))(v, mp)))
    for name, (lvl, v) in RECURSIVE_CASES.items():
        mp = f"/mr/{name}"
        groups["recursive"].append((name, lvl, [bind(mp, src, "rbind", name)],
                                    (lambda v, mp: lambda i, l: v(i, l, mp))(v, mp)))
    ctl = "/mp/control"

    def ctl_opt(info):
        return top(info, ctl)["optional"]
    for name, (lvl, v) in PROP_CASES.items():
        mp = f"/mp/{name}"
        groups["bind"].append((name, lvl, [bind(ctl, src, "rbind"),
                                           bind(mp, src, "rbind" if name.startswith("r") else "bind", name)],
                               (lambda v, mp: lambda i, l: v(i, l, mp, ctl_opt(i)))(v, mp)))

    def v_bind(info, ls):
        m = top(info, "/mp/bind")
        expect("f" in ls.get("/mp/bind", ""), f"/mp/bind does not show the source's file: "
                                              f"{ls.get('/mp/bind')!r}")
        expect(not mounts_at(info, "/mp/bind/sub"), "bind (not rbind) also bound the submount")
    groups["bind"].append(("bind", "MUST", [bind("/mp/bind", src, "bind")], v_bind))

    def v_rbind(info, ls):
        top(info, "/mp/rbind")
        expect(mounts_at(info, "/mp/rbind/sub"), "rbind did not bind the submount /mp/rbind/sub")
    groups["bind"].append(("rbind", "MUST", [bind("/mp/rbind", src, "rbind")], v_rbind))

    def v_remount(info, ls):
        ms = mounts_at(info, "/mm/remount")
        expect(len(ms) == 1, f"{len(ms)} mounts at /mm/remount: remount mounted anew")
        expect("ro" in opts(ms[-1]), f"/mm/remount is not read-only: {ms[-1]['options']}")
    groups["remount"].append(("remount", "MUST", [tmpfs("/mm/remount", "size=1m"),
                                                  tmpfs("/mm/remount", "remount", "ro")], v_remount))
    return groups


def run_group(env, cases, slug):
    """One container with every mount of `cases`: {name: None | failure text}."""
    b = env.bundle(slug)
    ls_dirs = sorted({m["destination"] for _, _, ms, _ in cases for m in ms
                      if m["destination"].startswith("/mp/")})
    for _, _, ms, _ in cases:
        for m in ms:
            os.makedirs(b.rpath(m["destination"]), exist_ok=True)
            b.config["mounts"].append(dict(m))
    cmds = [["info"]] + [["ls", d] for d in ls_dirs]
    p = env.probe(b, *cmds)
    info = p.json(0)
    ls = {d: p.text(i + 1) for i, d in enumerate(ls_dirs)}
    out = {}
    for name, _, _, verify in cases:
        try:
            verify(info, ls)
            out[name] = None
        except Fail as e:
            out[name] = str(e)
    return out


def results(env) -> dict:
    """name -> None (pass) or the failure; a failed group is split up."""
    def go():
        res = {}
        for group, cases in build_cases(env).items():
            try:
                res.update(run_group(env, cases, f"m-{group}"))
            except Fail as e:
                if len(cases) == 1:
                    res[cases[0][0]] = str(e)
                    continue
                for case in cases:
                    try:
                        res.update(run_group(env, [case], f"m-{case[0]}"))
                    except Fail as e1:
                        res[case[0]] = str(e1)
        return res
    return env.once("mount-options", go)


def option_check(name, level, how=""):
    def f(env):
        r = results(env).get(name, "(check bug) no result")
        if r:
            raise Fail(r)
    check(f"config.mounts.option.{name}", *TABLE, note=f"option {name}: {level}{how}",
          level=level)(f)


for _n, (_lvl, _o, _) in TMPFS_CASES.items():
    option_check(_n, _lvl, f"; a tmpfs with {_o}" + (" (options apply in order, as in mount(8))"
                                                     if len(_o) > 1 else ""))
for _n in ("bind", "rbind", *PROP_CASES):
    option_check(_n, "MUST", "; a bind of a shared tmpfs with submounts")
option_check("remount", "MUST", "; a tmpfs, then the same destination with [remount, ro]")
for _n, (_lvl, _) in RECURSIVE_CASES.items():
    option_check(_n, _lvl, "; an rbind whose submounts must get (or lose) the flag")


# ----------------------------------------------------------- other mount rules

def misc(env):
    """Order, relative destination, relative bind source, unknown options."""
    def go():
        b = env.bundle("m-misc")
        os.makedirs(b.path("bsrc"))
        with open(b.path("bsrc", "g"), "w") as f:
            f.write("g")
        for d in ("/mo/order", "/mo/relsrc", "/mo/data", "/mo/bindtype", "/mo/dummytype"):
            os.makedirs(b.rpath(d), exist_ok=True)
        b.config["mounts"] += [
            tmpfs("/mo/order", "size=1m"), tmpfs("/mo/order", "size=2m"),
            bind("/mo/relsrc", "bsrc", "rbind"),
            {"destination": "/mo/bindtype", "type": "tmpfs", "source": b.path("bsrc"),
             "options": ["rbind"]},
            {"destination": "/mo/dummytype", "type": "cfdummy", "source": b.path("bsrc"),
             "options": ["bind"]},
            tmpfs("/mo/data", "size=1m", "nr_inodes=777", "mode=0700"),
        ]
        return env.probe(b, ["info"], ["ls", "/mo/relsrc"], ["ls", "/mo/bindtype"],
                         ["ls", "/mo/dummytype"])
    return env.once("m-misc", go)


@check("config.mounts.order", "config.md", "Mounts",
       "The runtime MUST mount entries in the listed order.")
def _(env):
    info = misc(env).json(0)
    ms = mounts_at(info, "/mo/order")
    sizes = [dict(kv.split("=", 1) for kv in m["super_options"].split(",") if "=" in kv).get("size")
             for m in ms]
    expect(sizes == ["1024k", "2048k"], f"tmpfs mounts at /mo/order, bottom to top, have sizes "
                                        f"{sizes}; config lists 1m then 2m")


@check("config.mounts.relative-destination", "config.md", "Mounts",
       "For compatibility with old tools and configurations, it MAY be a relative path, in which "
       "case it MUST be interpreted as relative to \"/\".")
def _(env):
    b = env.bundle("m-reldest")
    os.makedirs(b.rpath("mo/reldest"))
    b.config["mounts"].append(tmpfs("mo/reldest", "size=1m"))
    info = env.probe(b, ["info"]).json(0)
    expect(mounts_at(info, "/mo/reldest"), "destination 'mo/reldest' is not mounted at /mo/reldest")


@check("config.mounts.relative-source", "config.md", "Mounts",
       "Path values for bind mounts are either absolute or relative to the bundle.")
def _(env):
    p = misc(env)
    expect("g" in p.text(1).split(), f"/mo/relsrc (source 'bsrc' in the bundle) shows "
                                     f"{p.text(1).split()}, not the file g")


@check("config.mounts.bind-by-option", "config.md", "Mounts",
       "A mount is a bind mount if it has either bind or rbind in the options.",
       note="type 'tmpfs' with rbind: the source directory must show")
def _(env):
    p = misc(env)
    expect("g" in p.text(2).split(), f"/mo/bindtype (type tmpfs, options rbind, source bsrc) "
                                     f"shows {p.text(2).split()}, not the file g")


@check("config.mounts.bind-dummy-type", "config.md", "POSIX-platform Mounts",
       "For bind mounts (when options include either bind or rbind), the type is a dummy, often "
       "\"none\" (not listed in /proc/filesystems).")
def _(env):
    p = misc(env)
    expect("g" in p.text(3).split(), f"/mo/dummytype (type cfdummy, options bind) shows "
                                     f"{p.text(3).split()}, not the file g")


@check("config.mounts.unknown-options", "config.md", "Linux mount options",
       "Runtimes SHOULD treat unknown options as filesystem-specific ones) and pass those as a "
       "comma-separated string to the fifth (const void *data) argument of mount(2).")
def _(env):
    m = top(misc(env).json(0), "/mo/data")
    so = sopts(m)
    for want in ("size=1024k", "nr_inodes=777", "mode=700"):
        expect(want in so, f"/mo/data: {want} not in its super options {m['super_options']}")


@check("config.mounts.uidMappings-with-gid", "config.md", "POSIX-platform Mounts",
       "If specified, it MUST be specified along with gidMappings.")
def _(env):
    env.host.need_idmap_mounts()
    b = env.bundle("idmap-uidonly").userns()
    src = idmap_source(env)
    os.makedirs(b.rpath("id/x"))
    b.config["mounts"].append({**bind("/id/x", src, "rbind", "idmap"),
                               "uidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}]})
    env.expect_error(b, "a mount with uidMappings and no gidMappings")


# ------------------------------------------------------------- id-mapped mounts

def idmap_source(env) -> str:
    def go():
        src = os.path.join(env.tmp, "idsrc")
        os.makedirs(os.path.join(src, "sub"))
        for name, ids in (("root-owned", (0, 0)), ("u5", (5, 5))):
            path = os.path.join(src, name)
            with open(path, "w") as f:
                f.write(name)
            os.chown(path, *ids)
        env.at_exit(lambda: env.sh("umount", "-l", os.path.join(src, "sub"), check=False))
        env.sh("mount", "-t", "tmpfs", "-o", "size=1m", "cfidsub", os.path.join(src, "sub"))
        with open(os.path.join(src, "sub", "s"), "w") as f:
            f.write("s")
        return src
    return env.once("idsrc", go)


def idmapped(env):
    """A user-namespace container (0 -> 100000) with id-mapped binds."""
    def go():
        env.host.need_idmap_mounts()
        src = idmap_source(env)
        b = env.bundle("idmap").userns()
        same = [{"containerID": 0, "hostID": 100000, "size": 65536}]
        other = [{"containerID": 0, "hostID": 100005, "size": 1000}]
        for d in ("own", "other", "rec", "plain"):
            os.makedirs(b.rpath("id", d))
        b.config["mounts"] += [
            {**bind("/id/own", src, "rbind", "idmap"), "uidMappings": same, "gidMappings": same},
            {**bind("/id/other", src, "bind", "idmap"), "uidMappings": other, "gidMappings": other},
            {**bind("/id/rec", src, "rbind", "ridmap"), "uidMappings": same, "gidMappings": same},
            bind("/id/plain", src, "rbind"),
        ]
        return env.probe(b, ["stat", "/id/own/root-owned"], ["stat", "/id/own/u5"],
                         ["stat", "/id/other/root-owned"], ["stat", "/id/rec/sub/s"],
                         ["stat", "/id/plain/root-owned"])
    return env.once("idmap", go)


def owner(p, i):
    s = p.json(i)
    return s["uid"], s["gid"]


IDMAP_QUOTE = ("Indicates that the mount MUST have an idmapping applied. This option SHOULD NOT be "
               "passed to the underlying mount(2) call.")


@check("config.mounts.option.idmap", *TABLE[:2], IDMAP_QUOTE, note="option idmap: SHOULD",
       level="SHOULD")
def _(env):
    p = idmapped(env)
    expect(owner(p, 4) == (65534, 65534), f"(control) without idmap the file shows as "
                                          f"{owner(p, 4)}, expected the overflow id 65534")
    expect(owner(p, 0) == (0, 0), f"a file owned by 0:0 shows as {owner(p, 0)} through the "
                                  f"id-mapped mount (0 -> 100000), not 0:0")
    expect(owner(p, 1) == (5, 5), f"a file owned by 5:5 shows as {owner(p, 1)}, not 5:5")


@check("config.mounts.option.ridmap", *TABLE[:2],
       "Indicates that the mount MUST have an idmapping applied, and the mapping is applied "
       "recursively [^3].", note="option ridmap: SHOULD", level="SHOULD")
def _(env):
    p = idmapped(env)
    expect(owner(p, 3) == (0, 0), f"a file on the submount shows as {owner(p, 3)} through "
                                  f"the ridmap mount, not 0:0")


@check("config.mounts.idmap.own-mappings", *TABLE[:2],
       "If uidMappings or gidMappings are specified for the mount, the runtime MUST use those "
       "values for the mount's mapping.")
def _(env):
    p = idmapped(env)
    expect(owner(p, 2) == (5, 5), f"with the mount's mapping 0 -> 100005 a file owned by 0:0 "
                                  f"shows as {owner(p, 2)}, not 5:5 (container maps 0 -> 100000)")


@check("config.mounts.idmap.no-userns", *TABLE[:2],
       "If there are no uidMappings and gidMappings specified and the container isn't using "
       "user namespaces, an error MUST be returned.")
def _(env):
    env.host.need_idmap_mounts()
    src = idmap_source(env)
    b = env.bundle("idmap-nouserns")
    os.makedirs(b.rpath("id/x"))
    b.config["mounts"].append(bind("/id/x", src, "rbind", "idmap"))
    env.expect_error(b, "idmap without mappings or a user namespace")


@check("config.mounts.idmap.container-mapping", *TABLE[:2],
       "If they are not specified, the runtime MAY use the container's user namespace mapping, "
       "otherwise an error MUST be returned.")
def _(env):
    env.host.need_idmap_mounts()
    src = idmap_source(env)
    b = env.bundle("idmap-ctr").userns()
    os.makedirs(b.rpath("id/x"))
    b.config["mounts"].append(bind("/id/x", src, "rbind", "idmap"))
    b.probe_args(["stat", "/id/x/root-owned"])
    r = env.run(b)
    if not r.ok:
        expect(not env.leftovers(b), f"the failed run left {env.leftovers(b)}")
        return                              # an error: allowed
    from .env import Probe
    p = Probe(r)
    expect(owner(p, 0) == (0, 0), f"idmap without mappings was accepted but not applied with "
                                  f"the container's mapping: 0:0 shows as {owner(p, 0)}")
