"""config-linux.md § Control groups and its subsections, and § Unified.

The resource checks share one created container (the resources must be
applied by create) and read the files of the container process's own
cgroups from the host: cgroup v1 names on a v1/hybrid host, the usual
cgroup-v2 conversions on a pure v2 host (memory.max, memory.low,
memory.swap.max = swap - limit, cpu.max, cpu.weight, io.max, pids.max,
hugetlb.<size>.max). When that container fails, every case runs alone.

Not observable, so not checked: "A runtime MAY ... check if the container
cgroup is fit for purpose, and MUST generate an error if such a check fails"
(which checks it makes is up to the runtime); "Runtimes MAY consider certain
cgroupsPath values to be invalid, and MUST generate an error if this is the
case" (likewise); kernel and kernelTCP (NOT RECOMMENDED, gone from current
kernels); useHierarchy (always on in current kernels); checkBeforeUpdate
(the update operation is not in the spec); the MUST of quota/burst (a rule
for config authors with "runtimes MAY generate an error").
"""
from __future__ import annotations

import os

from .core import Fail, HostSkip, check, expect
from .env import PROBE
from .host import read

CFG = "config-linux.md"
MiB = 1 << 20


class Case:
    def __init__(self, name, section, quote, patch, verify, pre=None, cgroup="cgroup",
                 spec=CFG, note="", alone=False):
        self.name, self.section, self.quote, self.alone = name, section, quote, alone
        self.patch, self.verify, self.pre = patch, verify, pre or (lambda env: None)
        self.cgroup, self.spec, self.note = cgroup, spec, note


CASES: list[Case] = []


def case(*a, **kw):
    def deco(verify):
        CASES.append(Case(a[0], a[1], a[2], a[3], verify, **kw))
        return verify
    return deco


def merge(dst, src):
    for k, v in src.items():
        if isinstance(v, dict) and isinstance(dst.get(k), dict):
            merge(dst[k], v)
        else:
            dst[k] = v


def v2(env) -> bool:
    return env.host.pure_v2


def cg(env, pid, controller, name) -> str:
    v = env.cgroup_file(pid, controller, name)
    if v is None:
        raise Fail(f"the container's {controller} cgroup has no {name}")
    return v


def need_file(env, controller, name_v1, name_v2=None):
    """HostSkip unless the controller's files exist on this host."""
    mp = env.host.need_controller(controller)
    if v2(env) or mp == env.host.v2_mount:
        if name_v2 and not env.host.kernel_has_v2_file(name_v2):
            raise HostSkip(f"kernel has no {name_v2}")
        return
    if not os.path.exists(os.path.join(mp, name_v1)):
        raise HostSkip(f"host {controller} hierarchy has no {name_v1}")


def equal(got, want, what):
    expect(got == want, f"{what} is {got!r}, not {want!r}")


# -------------------------------------------------------------------- memory



@case("memory.limit", "Memory", "limit (int64, OPTIONAL) - sets limit of memory usage",
      {"memory": {"limit": 64 * MiB}}, pre=lambda env: env.host.need_controller("memory"))
def _(env, pid):
    f = "memory.max" if v2(env) else "memory.limit_in_bytes"
    equal(cg(env, pid, "memory", f), str(64 * MiB), f)


@case("memory.reservation", "Memory",
      "reservation (int64, OPTIONAL) - sets soft limit of memory usage",
      {"memory": {"reservation": 32 * MiB}}, pre=lambda env: env.host.need_controller("memory"))
def _(env, pid):
    f = "memory.low" if v2(env) else "memory.soft_limit_in_bytes"
    equal(cg(env, pid, "memory", f), str(32 * MiB), f)


def need_swap(env):
    need_file(env, "memory", "memory.memsw.limit_in_bytes", "memory.swap.max")


@case("memory.swap", "Memory", "swap (int64, OPTIONAL) - sets limit of memory+Swap usage",
      {"memory": {"limit": 64 * MiB, "swap": 128 * MiB}}, pre=need_swap)
def _(env, pid):
    if v2(env):
        equal(cg(env, pid, "memory", "memory.swap.max"), str(64 * MiB),
              "memory.swap.max (swap - limit)")
    else:
        equal(cg(env, pid, "memory", "memory.memsw.limit_in_bytes"), str(128 * MiB),
              "memory.memsw.limit_in_bytes")


def v1_only(controller, name):
    def pre(env):
        if v2(env):
            raise HostSkip(f"host is cgroup v2 (no {name})")
        need_file(env, controller, name)
    return pre


@case("memory.swappiness", "Memory",
      "swappiness (uint64, OPTIONAL) - sets swappiness parameter of vmscan (See sysctl's "
      "vm.swappiness) The values are from 0 to 100.",
      {"memory": {"swappiness": 30}}, pre=v1_only("memory", "memory.swappiness"))
def _(env, pid):
    equal(cg(env, pid, "memory", "memory.swappiness"), "30", "memory.swappiness")


@case("memory.disableOOMKiller", "Memory",
      "To disable it, specify a value of true.",
      {"memory": {"disableOOMKiller": True}}, pre=v1_only("memory", "memory.oom_control"))
def _(env, pid):
    got = cg(env, pid, "memory", "memory.oom_control")
    expect("oom_kill_disable 1" in got, f"memory.oom_control: {got!r}")


# ----------------------------------------------------------------------- cpu

@case("cpu.shares", "CPU",
      "shares (uint64, OPTIONAL) - specifies a relative share of CPU time available to the tasks "
      "in a cgroup", {"cpu": {"shares": 512}}, pre=lambda env: env.host.need_controller("cpu"))
def _(env, pid):
    if v2(env):
        w = int(cg(env, pid, "cpu", "cpu.weight"))
        expect(w != 100 and 1 <= w <= 10000, f"cpu.weight is {w} for shares 512 (100 is the "
                                             "default: not converted)")
    else:
        equal(cg(env, pid, "cpu", "cpu.shares"), "512", "cpu.shares")


@case("cpu.quota", "CPU",
      "quota (int64, OPTIONAL) - specifies the total amount of time in microseconds for which all "
      "tasks in a cgroup can run during one period (as defined by period below)",
      {"cpu": {"quota": 50000, "period": 100000}}, pre=lambda env: env.host.need_controller("cpu"))
def _(env, pid):
    if v2(env):
        equal(cg(env, pid, "cpu", "cpu.max"), "50000 100000", "cpu.max")
    else:
        equal(cg(env, pid, "cpu", "cpu.cfs_quota_us"), "50000", "cpu.cfs_quota_us")


@case("cpu.period", "CPU",
      "period (uint64, OPTIONAL) - specifies a period of time in microseconds for how regularly a "
      "cgroup's access to CPU resources should be reallocated (CFS scheduler only)",
      {"cpu": {"quota": 50000, "period": 100000}}, pre=lambda env: env.host.need_controller("cpu"))
def _(env, pid):
    if v2(env):
        equal(cg(env, pid, "cpu", "cpu.max").split()[-1], "100000", "the period of cpu.max")
    else:
        equal(cg(env, pid, "cpu", "cpu.cfs_period_us"), "100000", "cpu.cfs_period_us")


@case("cpu.burst", "CPU",
      "burst (uint64, OPTIONAL) - specifies the maximum amount of accumulated time in "
      "microseconds for which all tasks in a cgroup can run additionally for burst during one "
      "period (as defined by period below)",
      {"cpu": {"quota": 50000, "period": 100000, "burst": 10000}},
      pre=lambda env: need_file(env, "cpu", "cpu.cfs_burst_us", "cpu.max.burst"))
def _(env, pid):
    f = "cpu.max.burst" if v2(env) else "cpu.cfs_burst_us"
    equal(cg(env, pid, "cpu", f), "10000", f)


def rt_budget(env):
    """The kernel refuses a child more real-time runtime than its parent has:
    give our test parent (not the runtime's business) a budget first."""
    v1_only("cpu", "cpu.rt_runtime_us")(env)
    parent = os.path.join(env.host.v1["cpu"], env.cg_parent.lstrip("/"))
    try:
        os.makedirs(parent, exist_ok=True)
        with open(os.path.join(parent, "cpu.rt_runtime_us"), "w") as f:
            f.write("20000")
    except OSError as e:
        raise HostSkip(f"cannot give the test cgroup a real-time budget: {e}")


@case("cpu.realtime", "CPU",
      "realtimeRuntime (int64, OPTIONAL) - specifies a period of time in microseconds for the "
      "longest continuous period in which the tasks in a cgroup have access to CPU resources",
      {"cpu": {"realtimeRuntime": 10000, "realtimePeriod": 1000000}}, pre=rt_budget)
def _(env, pid):
    equal(cg(env, pid, "cpu", "cpu.rt_runtime_us"), "10000", "cpu.rt_runtime_us")
    equal(cg(env, pid, "cpu", "cpu.rt_period_us"), "1000000", "cpu.rt_period_us")


@case("cpu.cpus", "CPU", "cpus (string, OPTIONAL) - list of CPUs the container will run on.",
      {"cpu": {"cpus": "0"}}, pre=lambda env: env.host.need_controller("cpuset"))
def _(env, pid):
    equal(cg(env, pid, "cpuset", "cpuset.cpus"), "0", "cpuset.cpus")


@case("cpu.mems", "CPU", "mems (string, OPTIONAL) - list of memory nodes the container will run on.",
      {"cpu": {"mems": "0"}}, pre=lambda env: env.host.need_controller("cpuset"))
def _(env, pid):
    equal(cg(env, pid, "cpuset", "cpuset.mems"), "0", "cpuset.mems")


@case("cpu.idle", "CPU",
      "idle (int64, OPTIONAL) - cgroups are configured with minimum weight, 0: default behavior, "
      "1: SCHED_IDLE.", {"cpu": {"idle": 1}}, alone=True,     # idle makes cpu.shares read 3
      pre=lambda env: need_file(env, "cpu", "cpu.idle", "cpu.idle"))
def _(env, pid):
    equal(cg(env, pid, "cpu", "cpu.idle"), "1", "cpu.idle")


# ------------------------------------------------------------------- block io

def need_disk(env):
    env.host.need_controller("io" if v2(env) else "blkio")
    if not env.host.whole_disk:
        raise HostSkip("host has no whole block device")


def disk(env):
    return env.host.whole_disk


def throttle(key, v1file, v2key):
    def patch(env):
        ma, mi = disk(env)
        return {"blockIO": {key: [{"major": ma, "minor": mi, "rate": 1048576}]}}

    def verify(env, pid):
        ma, mi = disk(env)
        if v2(env):
            line = next((ln for ln in cg(env, pid, "io", "io.max").splitlines()
                         if ln.startswith(f"{ma}:{mi} ")), "")
            expect(f"{v2key}=1048576" in line, f"io.max has {line!r} for {ma}:{mi}")
        else:
            got = cg(env, pid, "blkio", v1file)
            expect(f"{ma}:{mi} 1048576" in got.splitlines(), f"{v1file}: {got!r}")
    return patch, verify


for _key, _v1, _v2, _quote in (
        ("throttleReadBpsDevice", "blkio.throttle.read_bps_device", "rbps",
         "rate (uint64, REQUIRED) - bandwidth rate limit in bytes per second for the device"),
        ("throttleWriteBpsDevice", "blkio.throttle.write_bps_device", "wbps",
         "rate (uint64, REQUIRED) - bandwidth rate limit in bytes per second for the device"),
        ("throttleReadIOPSDevice", "blkio.throttle.read_iops_device", "riops",
         "rate (uint64, REQUIRED) - IO rate limit for the device"),
        ("throttleWriteIOPSDevice", "blkio.throttle.write_iops_device", "wiops",
         "rate (uint64, REQUIRED) - IO rate limit for the device")):
    _p, _v = throttle(_key, _v1, _v2)
    CASES.append(Case(f"blockIO.{_key}", "Block IO", _quote, _p, _v, pre=need_disk,
                      note=_key))


def weight_file(env, pid=None):
    """The weight file this host's io controller has, or None."""
    if v2(env):
        names = ("io.bfq.weight", "io.weight")
        if pid is None:
            return next((n for n in names if env.host.kernel_has_v2_file(n)), None)
        return next((n for n in names if env.cgroup_file(pid, "io", n) is not None), None)
    mp = env.host.controller_mount("blkio")
    return next((n for n in ("blkio.bfq.weight", "blkio.weight")
                 if mp and os.path.exists(os.path.join(mp, n))), None)


def need_weight(env):
    env.host.need_controller("io" if v2(env) else "blkio")
    if not weight_file(env):
        raise HostSkip("host's block io controller has no weight files (no BFQ/CFQ/iocost)")


@case("blockIO.weight", "Block IO",
      "weight (uint16, OPTIONAL) - specifies per-cgroup weight.", {"blockIO": {"weight": 300}},
      pre=need_weight)
def _(env, pid):
    f = weight_file(env, pid)
    got = cg(env, pid, "io" if v2(env) else "blkio", f)
    # io.weight (1-10000) takes a conversion of the blkio weight (10-1000);
    # runc's is 1 + (weight - 10) * 9999 / 990.
    want = {"300"} | ({str(1 + (300 - 10) * 9999 // 990)} if f == "io.weight" else set())
    expect(got.split()[-1] in want, f"{f}: {got!r}, not {' or '.join(sorted(want))}")


# ------------------------------------------------------------------- hugetlb

def need_2mb(env):
    env.host.need_controller("hugetlb")
    if "2MB" not in env.host.hugepage_sizes:
        raise HostSkip("host has no 2MB huge pages")


def hugetlb_file(env, rsvd=False):
    mp = env.host.controller_mount("hugetlb")
    if mp == env.host.v2_mount:
        return "hugetlb.2MB.rsvd.max" if rsvd else "hugetlb.2MB.max"
    return "hugetlb.2MB.rsvd.limit_in_bytes" if rsvd else "hugetlb.2MB.limit_in_bytes"


@case("hugepageLimits.limit", "Huge page limits",
      "limit (uint64, REQUIRED) - limit in bytes of hugepagesize HugeTLB reservations (if "
      "supported) or usage.", {"hugepageLimits": [{"pageSize": "2MB", "limit": 4 * MiB}]},
      pre=need_2mb)
def _(env, pid):
    f = hugetlb_file(env)
    equal(cg(env, pid, "hugetlb", f), str(4 * MiB), f)


@case("hugepageLimits.rsvd", "Huge page limits",
      "By default if supported by the kernel, hugepageLimits defines the hugepage sizes and "
      "limits for HugeTLB controller reservation accounting, which allows to limit the HugeTLB "
      "reservations per control group and enforces the controller limit at reservation time and "
      "at the fault of HugeTLB memory for which no reservation exists.",
      {"hugepageLimits": [{"pageSize": "2MB", "limit": 4 * MiB}]}, pre=need_2mb)
def _(env, pid):
    f = hugetlb_file(env, rsvd=True)
    got = env.cgroup_file(pid, "hugetlb", f)
    if got is None:
        raise HostSkip("kernel has no hugetlb reservation accounting")
    equal(got, str(4 * MiB), f)


# ------------------------------------------------------------------- network

def need_v1(controller):
    def pre(env):
        env.host.need_v1(controller)
    return pre


@case("network.classID", "Network",
      "classID (uint32, OPTIONAL) - is the network class identifier the cgroup's network packets "
      "will be tagged with", {"network": {"classID": 1048577}}, pre=need_v1("net_cls"))
def _(env, pid):
    equal(cg(env, pid, "net_cls", "net_cls.classid"), "1048577", "net_cls.classid")


@case("network.priorities", "Network",
      "priority (uint32, REQUIRED) - priority applied to the interface",
      {"network": {"priorities": [{"name": "lo", "priority": 5}]}}, pre=need_v1("net_prio"))
def _(env, pid):
    got = cg(env, pid, "net_prio", "net_prio.ifpriomap")
    expect("lo 5" in got.splitlines(), f"net_prio.ifpriomap: {got!r}")


# ---------------------------------------------------------------------- pids

@case("pids.limit", "PIDs",
      "limit (int64, OPTIONAL) - specifies the maximum number of tasks in the cgroup, with -1 "
      "indicating no limit (max).", {"pids": {"limit": 42}},
      pre=lambda env: env.host.need_controller("pids"))
def _(env, pid):
    equal(cg(env, pid, "pids", "pids.max"), "42", "pids.max")


@case("pids.zero", "PIDs",
      "Note: Even though it may superficially seem redundant, 0 is a valid limit value for the "
      "pids cgroup controller from the kernel's perspective and SHOULD be treated as such by "
      "runtimes.", {"pids": {"limit": 0}}, alone=True,
      pre=lambda env: env.host.need_controller("pids"))
def _(env, pid):
    equal(cg(env, pid, "pids", "pids.max"), "0", "pids.max")


# ---------------------------------------------------------------------- rdma

def need_rdma(env):
    env.host.need_controller("rdma")
    if not env.host.rdma_devices:
        raise HostSkip("no rdma device")


@case("rdma.limits", "RDMA",
      "hcaHandles (uint32, OPTIONAL) - specifies the maximum number of hca_handles in the cgroup",
      lambda env: {"rdma": {env.host.rdma_devices[0]: {"hcaHandles": 3, "hcaObjects": 100}}},
      pre=need_rdma)
def _(env, pid):
    dev = env.host.rdma_devices[0]
    got = cg(env, pid, "rdma", "rdma.max")
    expect(f"{dev} hca_handle=3 hca_object=100" in got.splitlines(), f"rdma.max: {got!r}")


# ------------------------------------------------------------------- unified

@case("unified.write", "Unified",
      "Each key in the map refers to a file in the cgroup unified hierarchy.",
      {"unified": {"pids.max": "43"}}, cgroup="v2", alone=True)
def _(env, pid):
    equal(cg(env, pid, "", "pids.max"), "43", "pids.max")


@case("unified.controllers", "Unified",
      "The OCI runtime MUST ensure that the needed cgroup controllers are enabled for the cgroup.",
      {"unified": {"memory.high": str(96 * MiB)}}, cgroup="v2")
def _(env, pid):
    equal(cg(env, pid, "", "memory.high"), str(96 * MiB), "memory.high")


@case("unified.unknown", "Unified",
      "Configuration unknown to the runtime MUST still be written to the relevant file.",
      {"unified": {"memory.oom.group": "1"}}, cgroup="v2")
def _(env, pid):
    equal(cg(env, pid, "", "memory.oom.group"), "1", "memory.oom.group")


# ---------------------------------------------------------------- the batch

def applied(env) -> dict:
    """case name -> None (pass) / ('fail', text) / ('skip', reason)."""
    def go():
        out, live = {}, []
        for c in CASES:
            if c.cgroup == "v2" and not v2(env):
                continue
            try:
                c.pre(env)
                live.append(c)
            except HostSkip as e:
                out[c.name] = ("skip", str(e))

        def attempt(cases, slug):
            b = env.bundle(slug)
            res = b.linux.setdefault("resources", {})
            for c in cases:
                merge(res, c.patch(env) if callable(c.patch) else json_copy(c.patch))
            b.args(PROBE, "sleep", "inf")
            st = env.created(b)
            try:
                for c in cases:
                    try:
                        c.verify(env, st["pid"])
                        out[c.name] = None
                    except Fail as e:
                        out[c.name] = ("fail", str(e))
                    except HostSkip as e:
                        out[c.name] = ("skip", str(e))
                if "_cgroup" not in out:
                    cgs = env.proc_cgroup(st["pid"])
                    dirs = {c: os.path.isdir(os.path.join(env.host.controller_mount(c),
                                                          b.cgroups_path.lstrip("/")))
                            for c in ("memory", "pids", "cpu", "") if env.host.has_controller(c)}
                    out["_cgroup"] = cgs, b.cgroups_path, dirs
            finally:
                env.destroy(b.id)
        # Some settings cannot share a container (pids 0 and 42; cpu.idle
        # changes what cpu.shares reads).
        groups = [([c for c in live if not c.alone], "res")]
        groups += [([c], "res-" + c.name.replace(".", "-")[:20]) for c in live if c.alone]
        for group, slug in groups:
            if not group:
                continue
            try:
                attempt(group, slug)
            except Fail as e:
                if len(group) == 1:
                    out[group[0].name] = ("fail", str(e))
                    continue
                for c in group:
                    try:
                        attempt([c], "res-" + c.name.replace(".", "-")[:20])
                    except Fail as e1:
                        out[c.name] = ("fail", str(e1))
        return out
    return env.once("resources", go)


def json_copy(d):
    import json
    return json.loads(json.dumps(d))


def resource_check(c):
    def f(env):
        r = applied(env).get(c.name)
        if r is None and c.name not in applied(env):
            raise Fail("(check bug) no result")
        if r:
            kind, text = r
            raise (HostSkip if kind == "skip" else Fail)(text)
    check(f"linux.resources.{c.name}", c.spec, c.section, c.quote, cgroup=c.cgroup,
          note=c.note)(f)


for _c in CASES:
    resource_check(_c)


# ------------------------------------------------------------- cgroups path

@check("linux.cgroupsPath.absolute", CFG, "Cgroups Path",
       "In the case of an absolute path (starting with /), the runtime MUST take the path to be "
       "relative to the cgroups mount point.", cgroup="cgroup")
def _(env):
    got = applied(env).get("_cgroup")
    if not got:
        raise Fail("the resources container did not run")
    cgs, path, dirs = got
    ctrls = ["memory", "pids", "cpu"] if not v2(env) else [""]
    for c in ctrls:
        if env.host.has_controller(c):
            expect(cgs.get(c) == path, f"{c or 'the v2'} cgroup is {cgs.get(c)!r}, not {path}")
            expect(dirs.get(c), f"no {path} under the {c or 'v2'} mount point")


@check("linux.cgroupsPath.consistent", CFG, "Cgroups Path",
       "If the value is specified, the runtime MUST consistently attach to the same place in the "
       "cgroups hierarchy given the same value of cgroupsPath.", cgroup="cgroup")
def _(env):
    seen = []
    path = f"{env.cg_parent}/same"
    for i in range(2):
        b = env.bundle(f"samecg{i}")
        b.linux["cgroupsPath"] = b.cgroups_path = path
        p = env.probe(b, ["cat", "/proc/self/cgroup"])
        seen.append(sorted(p.text(0).splitlines()))
    expect(seen[0] == seen[1], f"the same cgroupsPath gave {seen[0]} then {seen[1]}")
    expect(any(ln.endswith(":" + path) for ln in seen[0]), f"{path} not in {seen[0]}")


# ------------------------------------------------------------- device allowlist

@check("linux.resources.devices.order", CFG, "Allowed Device list",
       "The runtime MUST apply entries in the listed order.", cgroup="cgroup",
       note="allow c 1:12 rw, deny c 1:12 w; deny c 1:6 rwm, allow c 1:6 r")
def _(env):
    b = env.bundle("devcg")
    b.linux["devices"] = [{"path": "/dev/cf-a", "type": "c", "major": 1, "minor": 12},
                          {"path": "/dev/cf-b", "type": "c", "major": 1, "minor": 6}]
    b.linux["resources"]["devices"] = [
        {"allow": False, "access": "rwm"},
        {"allow": True, "type": "c", "major": 1, "minor": 12, "access": "rw"},
        {"allow": False, "type": "c", "major": 1, "minor": 12, "access": "w"},
        {"allow": False, "type": "c", "major": 1, "minor": 6, "access": "rwm"},
        {"allow": True, "type": "c", "major": 1, "minor": 6, "access": "r"},
    ]
    p = env.probe(b, ["open-read", "/dev/cf-a"], ["open-write", "/dev/cf-a"],
                  ["open-read", "/dev/cf-b"], ["open-write", "/dev/cf-b"])
    denied = "Operation not permitted"
    for i, (what, want_denied) in enumerate((("reading 1:12", False), ("writing 1:12", True),
                                             ("reading 1:6", False), ("writing 1:6", True))):
        got = p.text(i).strip()
        # An allowed open of these unused minors fails with ENXIO in the driver.
        expect((denied in got) == want_denied,
               f"{what}: {got!r}; the rules say {'denied' if want_denied else 'allowed'}")


# ---------------------------------------------------------- cgroup ownership

def ownership(env, cgroupns=True, ro=False, mount=True) -> dict:
    """A user-namespace container (0 -> 100000): the owners of its cgroup's
    directory and files, read on the host while it is created."""
    key = f"own-{cgroupns}-{ro}-{mount}"

    def go():
        env.host.need_user_ns()
        b = env.bundle(f"own{int(cgroupns)}{int(ro)}{int(mount)}").userns()
        if cgroupns:
            b.add_ns("cgroup")
        os.makedirs(b.rpath("sys", "fs", "cgroup"), exist_ok=True)
        if mount:
            b.config["mounts"].append({"destination": "/sys/fs/cgroup", "type": "cgroup",
                                       "source": "cgroup",
                                       "options": ["nosuid", "noexec", "nodev",
                                                   "ro" if ro else "rw"]})
        b.args(PROBE, "sleep", "inf")
        st = env.created(b)
        try:
            out = {}
            if v2(env):
                d = env.cgroup_dir(st["pid"], "")
                out[d] = os.stat(d).st_uid
                for n in os.listdir(d):
                    out[os.path.join(d, n)] = os.stat(os.path.join(d, n)).st_uid
            else:
                for c in ("memory", "pids", "cpu", "devices"):
                    if env.host.has_controller(c):
                        d = env.cgroup_dir(st["pid"], c)
                        out[d] = os.stat(d).st_uid
                        for n in ("cgroup.procs", "tasks"):
                            if os.path.exists(os.path.join(d, n)):
                                out[os.path.join(d, n)] = os.stat(os.path.join(d, n)).st_uid
            return out
        finally:
            env.destroy(b.id)
    return env.once(key, go)


def delegated() -> set:
    text = read("/sys/kernel/cgroup/delegate")
    if text is None:
        return {"cgroup.procs", "cgroup.subtree_control", "cgroup.threads"}
    return set(text.split())


@check("linux.cgroup-ownership.v1", CFG, "Cgroup ownership",
       "Runtimes SHOULD NOT change the ownership of container cgroups when cgroups v1 is in use.",
       cgroup="cgroup")
def _(env):
    if v2(env) or not env.host.v1:
        raise HostSkip("host has no cgroup v1 hierarchies")
    changed = {p: u for p, u in ownership(env).items() if u != 0}
    expect(not changed, f"cgroup v1 files changed owner: {changed}")


@check("linux.cgroup-ownership.needs-cgroupns", CFG, "Cgroup ownership",
       "A runtime SHOULD NOT change the ownership of a container cgroup unless it will also "
       "create a new cgroup namespace for the container.", cgroup="v2")
def _(env):
    changed = {p: u for p, u in ownership(env, cgroupns=False).items() if u != 0}
    expect(not changed, f"without a cgroup namespace the owner changed: {changed}")


@check("linux.cgroup-ownership.rw", CFG, "Cgroup ownership",
       "Runtimes SHOULD change the cgroup ownership if and only if the cgroup filesystem is to be "
       "mounted read/write; that is, when the configuration's mounts array contains an object "
       "where:", cgroup="v2")
def _(env):
    own = ownership(env)
    d = min(own, key=len)
    expect(own[d] == 100000, f"cgroup mounted rw: {d} is owned by {own[d]}, not 100000 (the "
                             "host uid of the container's uid 0)")
    ro = {p: u for p, u in ownership(env, ro=True).items() if u != 0}
    expect(not ro, f"cgroup mounted ro: owners changed: {ro}")


@check("linux.cgroup-ownership.no-mount", CFG, "Cgroup ownership",
       "If the configuration does not specify such a mount, the runtime SHOULD NOT change the "
       "cgroup ownership.", cgroup="v2")
def _(env):
    changed = {p: u for p, u in ownership(env, mount=False).items() if u != 0}
    expect(not changed, f"no cgroup mount, but owners changed: {changed}")


@check("linux.cgroup-ownership.files", CFG, "Cgroup ownership",
       "A runtime that changes the cgroup ownership SHOULD only change the ownership of the "
       "container's cgroup directory and files within that directory that are listed in "
       "/sys/kernel/cgroup/delegate.", cgroup="v2")
def _(env):
    own = ownership(env)
    d = min(own, key=len)
    if own[d] == 0 and all(u == 0 for u in own.values()):
        return                  # it changed nothing: the sentence is about runtimes that do
    allowed = delegated()
    wrong = [p for p, u in own.items() if p != d and
             (u != 0) != (os.path.basename(p) in allowed)]
    expect(not wrong, f"owners not as /sys/kernel/cgroup/delegate says: "
                      f"{[(os.path.basename(p), own[p]) for p in wrong][:6]}")


@check("linux.cgroup-ownership.fallback", CFG, "Cgroup ownership",
       "If the /sys/kernel/cgroup/delegate file does not exist, the runtime MUST fall back to "
       "using the following list of files:", cgroup="v2")
def _(env):
    if os.path.exists("/sys/kernel/cgroup/delegate"):
        raise HostSkip("host has /sys/kernel/cgroup/delegate")
    own = ownership(env)
    for n in ("cgroup.procs", "cgroup.subtree_control", "cgroup.threads"):
        p = os.path.join(min(own, key=len), n)
        expect(own.get(p) == 100000, f"{n} is owned by {own.get(p)}")


# ------------------------------------------------- v1 settings on cgroup v2

def conversion_check(name, resources):
    def f(env):
        b = env.bundle(f"conv-{name}")
        b.linux["resources"].update(resources)
        env.expect_error(b, f"{name} on a pure cgroup-v2 host")
    check(f"linux.unified.no-conversion.{name}", CFG, "Unified",
          "If the conversion is not possible the runtime MUST generate an error.", cgroup="v2",
          note=f"{name} has no cgroup-v2 equivalent")(f)


conversion_check("swappiness", {"memory": {"swappiness": 30}})
conversion_check("realtime", {"cpu": {"realtimeRuntime": 10000, "realtimePeriod": 1000000}})
conversion_check("disableOOMKiller", {"memory": {"disableOOMKiller": True}})
conversion_check("network", {"network": {"classID": 1048577}})


@check("linux.unified.missing-controller", CFG, "Unified",
       "The runtime MUST generate an error when the configuration refers to a cgroup controller "
       "that is not present or that cannot be enabled.")
def _(env):
    b = env.bundle("unified-bogus")
    b.linux["resources"]["unified"] = {"cfbogus.max": "1"}
    env.expect_error(b, "a unified key of a controller named cfbogus")


@check("linux.unified.v1-controller", CFG, "Unified",
       "The runtime MUST generate an error when the configuration refers to a cgroup controller "
       "that is not present or that cannot be enabled.", cgroup="cgroup",
       note="pids.max in unified where the v2 hierarchy has no pids controller")
def _(env):
    if v2(env) or "pids" in env.host.v2_controllers:
        raise HostSkip("host's cgroup v2 hierarchy has the pids controller")
    b = env.bundle("unified-pids")
    b.linux["resources"]["unified"] = {"pids.max": "10"}
    env.expect_error(b, "unified pids.max without a v2 pids controller")


@check("linux.resources.network.unavailable", "runtime.md", "Create",
       "If the runtime cannot apply a property as specified in the configuration, it MUST "
       "generate an error and a new container MUST NOT be created.", cgroup="cgroup",
       note="linux.resources.network on a host without net_cls")
def _(env):
    if "net_cls" in env.host.v1 and not v2(env):
        raise HostSkip("host has a net_cls hierarchy")
    b = env.bundle("netcls-missing")
    b.linux["resources"]["network"] = {"classID": 1048577}
    env.expect_error(b, "a net_cls class ID without a net_cls controller")
