"""config.md: specification version, root, process (terminal, cwd, env, args,
rlimits, capabilities, noNewPrivileges, oomScoreAdj, scheduler, ioPriority,
execCPUAffinity, user), hostname, domainname, annotations, extensibility,
valid values. Mounts are in checks_mounts, hooks in checks_hooks.

Not observable, so not checked: "The value SHOULD be the conventional rootfs"
(advice to bundle authors); that a capability that cannot be granted is
"logged as a warning" (the spec leaves how open; only "SHOULD NOT fail" is
seen); "If unspecified, the umask should not be changed from the calling
process' umask" and the scheduler's "If not set, the runtime must use the
value 0" for priority, runtime, deadline and period (lowercase, not RFC 2119
words; nice is checked as the one a runtime visibly inherits); "initial" of execCPUAffinity (the CPUs before the cgroup transition
are gone by the time anything in the container can look); the Windows,
Solaris and z/OS sentences; the org.opencontainers annotation values (rules
for authors of configs).
"""
from __future__ import annotations

import array
import json
import os
import resource
import socket
import threading
import time

from .caps import mask, names
from .core import Fail, HostSkip, check, expect
from .env import PATH, PROBE, Probe
from .host import read

VALID = ("config.md", "Valid values",
         "Runtimes MUST generate an error when invalid or unsupported values are encountered.")


def lowered(kind: int, want: int) -> int:
    """A limit no higher than our hard one (raising needs CAP_SYS_RESOURCE)."""
    hard = resource.getrlimit(kind)[1]
    return want if hard == resource.RLIM_INFINITY or want <= hard else hard


ROOT_CAPS = ["CAP_AUDIT_WRITE", "CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW"]


def root_process(env) -> tuple:
    """A root process with most process properties set, one probe `info`.
    For uid 0, execve makes permitted = effective = bounding | inheritable, so
    the sets asked for are the ones execve keeps (capabilities(7))."""
    def go():
        b = env.bundle("proc-root")
        p = b.process
        p["env"] = [f"PATH={PATH}", "HOME=/root", f"CONFORMANCE_ID={b.id}", "CF_A=1",
                    "CF_EMPTY=", "CF_SPACE=a b"]
        p["cwd"] = "/root"
        p["rlimits"] = [
            {"type": "RLIMIT_NOFILE", "soft": 321, "hard": lowered(resource.RLIMIT_NOFILE, 654)},
            {"type": "RLIMIT_MSGQUEUE", "soft": 4000, "hard": lowered(resource.RLIMIT_MSGQUEUE, 8000)},
            {"type": "RLIMIT_CORE", "soft": 0, "hard": lowered(resource.RLIMIT_CORE, 4096)},
        ]
        p["capabilities"] = {"bounding": ROOT_CAPS, "effective": ROOT_CAPS,
                             "permitted": ROOT_CAPS, "inheritable": ["CAP_KILL", "CAP_NET_RAW"],
                             "ambient": ["CAP_KILL"]}
        p["noNewPrivileges"] = True
        p["oomScoreAdj"] = 300
        b.config["hostname"] = "cf-host"
        b.config["domainname"] = "cf.example.org"
        b.args("ocitest", "multi", "info")           # args[0] found through PATH
        return b, env.probe(b)
    return env.once("proc-root", go)


USER_CAPS = ["CAP_NET_RAW"]


def user_process(env) -> tuple:
    """uid 1000 with groups, umask, ambient capabilities; oomScoreAdj unset
    while the runtime itself runs with oom_score_adj raised."""
    def go():
        b = env.bundle("proc-user")
        p = b.process
        p["user"] = {"uid": 1000, "gid": 1000, "additionalGids": [5, 1234], "umask": 0o027}
        p["cwd"] = "/tmp"
        p["capabilities"] = {"bounding": ["CAP_KILL", "CAP_NET_RAW"], "effective": USER_CAPS,
                             "permitted": USER_CAPS, "inheritable": USER_CAPS,
                             "ambient": USER_CAPS}
        p["noNewPrivileges"] = False
        p.pop("oomScoreAdj", None)
        mine = int((read("/proc/self/oom_score_adj") or "0").strip())
        adj = min(1000, max(mine + 100, 123))

        def raise_adj():
            with open("/proc/self/oom_score_adj", "w") as f:
                f.write(str(adj))
        return b, env.probe(b, ["info"], preexec=raise_adj), adj
    return env.once("proc-user", go)


def info_root(env) -> dict:
    return root_process(env)[1].json(0)


def info_user(env) -> dict:
    return user_process(env)[1].json(0)


# ---------------------------------------------------------- specification version

@check("config.ociVersion.semver", "config.md", "Specification version",
       "ociVersion (string, REQUIRED) MUST be in SemVer v2.0.0 format and specifies the version "
       "of the Open Container Initiative Runtime Specification with which the bundle complies.")
def _(env):
    b = env.bundle("semver")
    b.config["ociVersion"] = "cf-not-semver"
    env.expect_error(b, "ociVersion 'cf-not-semver'")


@check("config.ociVersion.compatible", "config.md", "Specification version",
       "The Open Container Initiative Runtime Specification follows semantic versioning and "
       "retains forward and backward compatibility within major versions.",
       note="every release from 1.0.0 to the runtime's ociVersionMax (1.0.2 without features)")
def _(env):
    from .checks_features import semver_key
    top = semver_key(env.oci_version)[:3]
    for v in ("1.0.0", "1.0.1", "1.1.0", "1.2.0", "1.3.0"):
        if semver_key(v)[:3] > top:
            continue                    # newer than the runtime says it supports
        b = env.bundle("v" + v.replace(".", ""))
        b.config["ociVersion"] = v
        r = env.run(b)
        expect(r.ok, f"a config with ociVersion {v} did not run: {r.brief()}")


# ------------------------------------------------------------------------ root

@check("config.root.path", "config.md", "Root",
       "On POSIX platforms, path is either an absolute path or a relative path to the bundle.")
def _(env):
    b = env.bundle("rootabs")
    b.config["root"]["path"] = b.rootfs
    r = env.run(b)
    expect(r.ok, f"an absolute root.path did not run: {r.brief()}")


@check("config.root.exists", "config.md", "Root",
       "A directory MUST exist at the path declared by the field.")
def _(env):
    b = env.bundle("rootmissing")
    b.config["root"]["path"] = "no-such-rootfs"
    env.expect_error(b, "a root.path that does not exist")


@check("config.root.readonly", "config.md", "Root",
       "readonly (bool, OPTIONAL) If true then the root filesystem MUST be read-only inside the "
       "container, defaults to false.")
def _(env):
    b = env.bundle("rootro")
    b.config["root"]["readonly"] = True
    p = env.probe(b, ["write", "/cf-ro", "x"])
    expect("Read-only file system" in p.text(0),
           f"writing /cf-ro with readonly root: {p.text(0).strip()!r}")
    b = env.bundle("rootrw")
    del b.config["root"]["readonly"]
    p = env.probe(b, ["write", "/cf-rw", "x"])
    expect(p.text(0).strip() == "ok", f"readonly unset (defaults to false): writing /cf-rw "
                                      f"gave {p.text(0).strip()!r}")


# --------------------------------------------------------------------- process

class Console:
    """The --console-socket end: receives the pty master (SCM_RIGHTS)."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(1)
        self.sock.settimeout(20)
        self.master = None
        self.error = None
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        try:
            conn, _ = self.sock.accept()
            with conn:
                fds = array.array("i")
                msg, anc, _, _ = conn.recvmsg(4096, socket.CMSG_SPACE(4 * fds.itemsize))
                for level, kind, data in anc:
                    if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                        fds.frombytes(data[:len(data) - len(data) % fds.itemsize])
                if len(fds) != 1:
                    self.error = f"the console socket got {len(fds)} fds, not 1"
                    for fd in fds:
                        os.close(fd)
                else:
                    self.master = fds[0]
        except OSError as e:
            self.error = f"console socket: {e}"
        finally:
            self.sock.close()

    def read_all(self, until: str, timeout: float = 10) -> str:
        self.thread.join(timeout)
        if self.master is None:
            raise Fail(self.error or "no pty master arrived on the console socket")
        os.set_blocking(self.master, False)
        buf = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and until.encode() not in buf:
            try:
                chunk = os.read(self.master, 65536)
                if not chunk:
                    break
                buf += chunk
            except BlockingIOError:
                time.sleep(0.05)
            except OSError:
                break
        return buf.decode(errors="replace").replace("\r\n", "\n")

    def close(self):
        if self.master is not None:
            os.close(self.master)


def terminal(env):
    """terminal: true with a console socket: fds, window size, /dev/console."""
    def go():
        b = env.bundle("tty")
        b.process["terminal"] = True
        b.process["consoleSize"] = {"height": 33, "width": 101}
        b.probe_args(["fds"], ["winsize"], ["stat", "/dev/console"], ["stat", "/dev/pts/0"],
                     ["sleep", "0.5"])
        con = Console(os.path.join(env.tmp, f"console-{b.id}.sock"))
        try:
            r = env.create(b, "--console-socket", con.path)
            expect(r.ok, f"create with terminal: true failed: {r.brief()}")
            r = env.start(b.id)
            expect(r.ok, f"start failed: {r.brief()}")
            text = con.read_all("@@ocitest-end 4")
        finally:
            con.close()
            env.destroy(b.id)
        res = type("R", (), {"out": text, "rc": 0, "err": ""})()
        return Probe(res)
    return env.once("tty", go)


@check("config.process.terminal", "config.md", "Process",
       "As an example, if set to true on Linux a pseudoterminal pair is allocated for the process "
       "and the pseudoterminal pty is duplicated on the process's standard streams.")
def _(env):
    fds = {e["fd"]: e["target"] for e in terminal(env).json(0)}
    for fd in (0, 1, 2):
        expect((fds.get(fd) or "").startswith("/dev/pts/"), f"fd {fd} is {fds.get(fd)}, not a pty")
    expect(fds[0] == fds[1] == fds[2], f"the standard streams are different ptys: {fds}")


@check("config.process.terminal-default", "config.md", "Process",
       "terminal (bool, OPTIONAL) specifies whether a terminal is attached to the process, "
       "defaults to false.")
def _(env):
    from .checks_runtime import basic_probe
    fds = {e["fd"]: e["target"] for e in basic_probe(env).json(0)}
    for fd in (0, 1, 2):
        expect(not (fds.get(fd) or "").startswith("/dev/pts/"),
               f"terminal unset, but fd {fd} is {fds.get(fd)}")


@check("config.process.consoleSize", "config.md", "Process",
       "consoleSize (object, OPTIONAL) specifies the console size in characters of the terminal.")
def _(env):
    got = terminal(env).text(1).strip()
    expect(got == "33 101", f"the terminal is {got!r} (rows cols), config says 33 101")


@check("config.process.consoleSize-ignored", "config.md", "Process",
       "Runtimes MUST ignore consoleSize if terminal is false or unset.")
def _(env):
    b = env.bundle("nottysize")
    b.process["consoleSize"] = {"height": 10, "width": 20}
    p = env.probe(b, ["fds"])
    expect(p.res.rc == 0, f"consoleSize without terminal: container exit {p.res.rc}")


@check("config.process.cwd", "config.md", "Process",
       "cwd (string, REQUIRED) is the working directory that will be set for the executable.")
def _(env):
    expect(info_root(env)["cwd"] == "/root", f"cwd is {info_root(env)['cwd']!r}, not /root")


@check("config.process.cwd-absolute", "config.md", "Process",
       "This value MUST be an absolute path.")
def _(env):
    b = env.bundle("cwdrel")
    b.process["cwd"] = "root"
    env.expect_error(b, "a relative process.cwd")


@check("config.process.env", "config.md", "Process",
       "env (array of strings, OPTIONAL) with the same semantics as IEEE Std 1003.1-2008's "
       "environ.")
def _(env):
    b, p = root_process(env)
    got = sorted(info_root(env)["env"])
    want = sorted(b.process["env"])
    expect(got == want, f"the environment is {got}, config.json says {want}")


@check("config.process.args", "config.md", "Process",
       "This specification extends the IEEE standard in that at least one entry is REQUIRED "
       "(non-Windows), and that entry is used with the same semantics as execvp's file.")
def _(env):
    b, p = root_process(env)
    got = info_root(env)["argv"]
    # args is ["ocitest", "multi", "info"]; the forked `info` reports [argv[0], "info"].
    expect(got == ["ocitest", "info"], f"argv[0] is {got[:1]}, not 'ocitest' from args[0] "
                                       "(args[0] is found through PATH, like execvp's file)")


@check("config.process.args-required", "config.md", "Process",
       "This specification extends the IEEE standard in that at least one entry is REQUIRED "
       "(non-Windows), and that entry is used with the same semantics as execvp's file.")
def _(env):
    b = env.bundle("noargs")
    b.process["args"] = []
    r = env.create(b)
    if r.ok:
        try:
            r2 = env.start(b.id)
            expect(not r2.ok, "empty process.args: create and start both exited 0")
        finally:
            env.destroy(b.id)
    else:
        left = env.leftovers(b)
        expect(not left, f"the failed create left {', '.join(left)}")


def rlimit_of(info, kind):
    v = info["rlimits"].get(kind)
    expect(v is not None, f"getrlimit({kind}) failed in the container")
    return v


@check("config.process.rlimits.getrlimit", "config.md", "POSIX process",
       "For each entry in rlimits, a getrlimit(3) on type MUST succeed.")
def _(env):
    b, _ = root_process(env)
    for rl in b.process["rlimits"]:
        rlimit_of(info_root(env), rl["type"])


@check("config.process.rlimits.soft", "config.md", "POSIX process",
       "rlim.rlim_cur MUST match the configured value.")
def _(env):
    b, _ = root_process(env)
    for rl in b.process["rlimits"]:
        got = rlimit_of(info_root(env), rl["type"])["soft"]
        expect(got == rl["soft"], f"{rl['type']} soft limit {got}, config says {rl['soft']}")


@check("config.process.rlimits.hard", "config.md", "POSIX process",
       "rlim.rlim_max MUST match the configured value.")
def _(env):
    b, _ = root_process(env)
    for rl in b.process["rlimits"]:
        got = rlimit_of(info_root(env), rl["type"])["hard"]
        expect(got == rl["hard"], f"{rl['type']} hard limit {got}, config says {rl['hard']}")


@check("config.process.rlimits.unknown", "config.md", "POSIX process",
       "The runtime MUST generate an error for any values which cannot be mapped to a relevant "
       "kernel interface.")
def _(env):
    b = env.bundle("rlimbogus")
    b.process["rlimits"] = [{"type": "RLIMIT_CFBOGUS", "soft": 1, "hard": 1}]
    env.expect_error(b, "rlimit type RLIMIT_CFBOGUS")


@check("config.process.rlimits.duplicate", "config.md", "POSIX process",
       "If rlimits contains duplicated entries with same type, the runtime MUST generate an "
       "error.")
def _(env):
    b = env.bundle("rlimdup")
    b.process["rlimits"] = [{"type": "RLIMIT_NOFILE", "soft": 100, "hard": 100},
                            {"type": "RLIMIT_NOFILE", "soft": 200, "hard": 200}]
    env.expect_error(b, "two RLIMIT_NOFILE entries")


def cap_set(env, which, status_key):
    b, _ = root_process(env)
    got = sorted(names(int(info_root(env)["caps"][status_key], 16)))
    want = sorted(b.process["capabilities"][which])
    expect(got == want, f"{which} set {got}, config says {want}")


for _which, _key in (("effective", "effective"), ("bounding", "bounding"),
                     ("inheritable", "inheritable"), ("permitted", "permitted")):
    check(f"config.process.capabilities.{_which}", "config.md", "Linux Process",
          f"{_which} (array of strings, OPTIONAL) the {_which} field is an array of {_which} "
          f"capabilities that are kept for the process.")(
        (lambda w, k: lambda env: cap_set(env, w, k))(_which, _key))


@check("config.process.capabilities.ambient", "config.md", "Linux Process",
       "ambient (array of strings, OPTIONAL) the ambient field is an array of ambient "
       "capabilities that are kept for the process.")
def _(env):
    cap_set(env, "ambient", "ambient")
    # A non-root process keeps exactly its ambient set across execve.
    caps = info_user(env)["caps"]
    for k in ("ambient", "permitted", "effective", "inheritable"):
        got = sorted(names(int(caps[k], 16)))
        expect(got == USER_CAPS, f"uid 1000 with ambient {USER_CAPS}: {k} set is {got}")


@check("config.process.capabilities.ungrantable", "config.md", "Linux Process",
       "Runtimes SHOULD NOT fail if the container configuration requests capabilities that "
       "cannot be granted, for example, if the runtime operates in a restricted environment "
       "with a limited set of capabilities.")
def _(env):
    missing = env.host.lacks_cap()
    if not missing:
        raise HostSkip("the host's bounding set has every capability")
    b = env.bundle("capmissing")
    caps = ["CAP_KILL", missing]
    b.process["capabilities"] = {"bounding": caps, "effective": caps, "permitted": caps}
    r = env.run(b)
    expect(r.ok, f"asking for {missing} (not in the host's bounding set) failed: {r.brief()}")


@check("config.process.noNewPrivileges", "config.md", "Linux Process",
       "noNewPrivileges (bool, OPTIONAL) setting noNewPrivileges to true prevents the process "
       "from gaining additional privileges.")
def _(env):
    expect(info_root(env)["no_new_privs"] == 1, "NoNewPrivs is not 1")
    expect(info_user(env)["no_new_privs"] == 0, "noNewPrivileges false, but NoNewPrivs is 1")


@check("config.process.oomScoreAdj.set", "config.md", "Linux Process",
       "If oomScoreAdj is set, the runtime MUST set oom_score_adj to the given value.")
def _(env):
    got = info_root(env)["oom_score_adj"]
    expect(got == 300, f"oom_score_adj is {got}, config says 300")


@check("config.process.oomScoreAdj.unset", "config.md", "Linux Process",
       "If oomScoreAdj is not set, the runtime MUST NOT change the value of oom_score_adj.")
def _(env):
    _, _, adj = user_process(env)
    got = info_user(env)["oom_score_adj"]
    expect(got == adj, f"oom_score_adj is {got}; the runtime was started with {adj}")


SCHED_POLICIES = {"SCHED_OTHER": 0, "SCHED_FIFO": 1, "SCHED_RR": 2, "SCHED_BATCH": 3,
                  "SCHED_IDLE": 5, "SCHED_DEADLINE": 6}


def run_json(env, b, *args, preexec=None):
    """Run the probe directly (no fork: some properties are not inherited)."""
    b.args(PROBE, *args)
    r = env.run(b, preexec=preexec)
    expect(r.ok, f"the container did not run: {r.brief()}")
    try:
        return json.loads(r.out)
    except ValueError:
        raise Fail(f"the probe printed {r.out[:200]!r}")


@check("config.process.scheduler", "config.md", "Linux Process",
       "scheduler (object, OPTIONAL) is an object describing the scheduler properties for the "
       "process.")
def _(env):
    b = env.bundle("sched")
    b.process["scheduler"] = {"policy": "SCHED_BATCH", "nice": 7,
                              "flags": ["SCHED_FLAG_RESET_ON_FORK"]}
    got = run_json(env, b, "sched")
    expect(got["policy"] == 3, f"policy {got['policy']}, not SCHED_BATCH (3)")
    expect(got["nice"] == 7, f"nice {got['nice']}, not 7")
    expect(got["flags"] & 1, f"sched flags {got['flags']:#x} lack SCHED_FLAG_RESET_ON_FORK")


@check("config.process.scheduler.nice-default", "config.md", "Linux Process",
       "A lower nice value corresponds to a higher priority. If not set, the runtime must use "
       "the value 0.")
def _(env):
    b = env.bundle("schednice")
    b.process["scheduler"] = {"policy": "SCHED_OTHER"}
    got = run_json(env, b, "sched", preexec=lambda: os.nice(5))
    expect(got["nice"] == 0, f"nice unset, the runtime ran at nice 5: the process has nice "
                             f"{got['nice']}, not 0")


@check("config.process.scheduler.invalid", *VALID)
def _(env):
    b = env.bundle("schedbogus")
    b.process["scheduler"] = {"policy": "SCHED_CFBOGUS"}
    env.expect_error(b, "scheduler policy SCHED_CFBOGUS")


@check("config.process.ioPriority", "config.md", "Linux Process",
       "ioPriority (object, OPTIONAL) configures the I/O priority settings for the container's "
       "processes within the process group.")
def _(env):
    b = env.bundle("ioprio")
    b.process["ioPriority"] = {"class": "IOPRIO_CLASS_BE", "priority": 6}
    got = run_json(env, b, "ioprio")
    expect((got["class"], got["level"]) == (2, 6),
           f"I/O priority class {got['class']} level {got['level']}, not BE (2) 6")


@check("config.process.ioPriority.invalid", *VALID)
def _(env):
    b = env.bundle("iopriobogus")
    b.process["ioPriority"] = {"class": "IOPRIO_CLASS_CFBOGUS", "priority": 1}
    env.expect_error(b, "ioPriority class IOPRIO_CLASS_CFBOGUS")


def affinity(text) -> str:
    for line in (text or "").splitlines():
        if line.startswith("Cpus_allowed_list:"):
            return line.split(":", 1)[1].strip()
    return ""


def exec_affinity(env) -> dict:
    def go():
        env.host.need_cpus(2)
        o = {}
        b = env.bundle("cpuaff")
        b.process["execCPUAffinity"] = {"initial": "0", "final": "1"}
        b.args(PROBE, "sleep", "inf")
        st = env.started(b)
        try:
            o["init"] = affinity(read(f"/proc/{st['pid']}/status"))
            o["host"] = affinity(read("/proc/self/status"))
            proc = json.loads(json.dumps(b.process))
            proc["args"] = [PROBE, "cat", "/proc/self/status"]
            proc["execCPUAffinity"] = {"final": "1"}
            path = b.path("exec.json")
            with open(path, "w") as f:
                json.dump(proc, f)
            r = env.rt("exec", "--process", path, b.id, timeout=20)
            expect(r.ok, f"exec failed: {r.brief()}")
            o["exec"] = affinity(r.out)
        finally:
            env.destroy(b.id)
        return o
    return env.once("cpuaff", go)


@check("config.process.execCPUAffinity.final", "config.md", "Linux Process",
       "final (string, OPTIONAL) is a list of CPUs the process will be run on after the "
       "transition to container's cgroup.")
def _(env):
    o = exec_affinity(env)
    expect(o["exec"] == "1", f"the exec'd process runs on CPUs {o['exec']!r}, not final '1'")


@check("config.process.execCPUAffinity.not-init", "config.md", "Linux Process",
       "This setting is not applicable to the container's init process.")
def _(env):
    o = exec_affinity(env)
    expect(o["init"] == o["host"], f"the init process runs on CPUs {o['init']!r}; the host "
                                   f"allows {o['host']!r} (execCPUAffinity was applied to it)")


@check("config.process.apparmorProfile", "config.md", "Linux Process",
       "apparmorProfile (string, OPTIONAL) specifies the name of the AppArmor profile for the "
       "process.")
def _(env):
    if not env.host.apparmor:
        raise HostSkip("host has no AppArmor")
    b = env.bundle("apparmor")
    b.process["apparmorProfile"] = "unconfined"
    p = env.probe(b, ["cat", "/proc/self/attr/current"])
    expect(p.text(0).strip().startswith("unconfined"), f"AppArmor label {p.text(0).strip()!r}")


@check("config.process.selinuxLabel", "config.md", "Linux Process",
       "selinuxLabel (string, OPTIONAL) specifies the SELinux label for the process.")
def _(env):
    if not env.host.selinux:
        raise HostSkip("host has no SELinux")
    b = env.bundle("selinux")
    cur = (read("/proc/self/attr/current") or "").strip("\0\n")
    b.process["selinuxLabel"] = cur
    p = env.probe(b, ["cat", "/proc/self/attr/current"])
    expect(p.text(0).strip("\0\n") == cur, f"SELinux label {p.text(0)!r}, not {cur!r}")


# ------------------------------------------------------------------------ user

@check("config.user.uid", "config.md", "POSIX-platform User",
       "uid (int, REQUIRED) specifies the user ID in the container namespace.")
def _(env):
    i = info_user(env)
    expect((i["uid"], i["euid"], i["suid"]) == (1000, 1000, 1000),
           f"uids {i['uid']}/{i['euid']}/{i['suid']}, not 1000")
    i = info_root(env)
    expect(i["uid"] == 0, f"uid {i['uid']}, not 0")


@check("config.user.gid", "config.md", "POSIX-platform User",
       "gid (int, REQUIRED) specifies the group ID in the container namespace.")
def _(env):
    i = info_user(env)
    expect((i["gid"], i["egid"], i["sgid"]) == (1000, 1000, 1000),
           f"gids {i['gid']}/{i['egid']}/{i['sgid']}, not 1000")


@check("config.user.umask", "config.md", "POSIX-platform User",
       "umask (int, OPTIONAL) specifies the umask of the user.")
def _(env):
    got = info_user(env)["umask"]
    expect(got == 0o027, f"umask {got:#o}, not 0o27")


@check("config.user.additionalGids", "config.md", "POSIX-platform User",
       "additionalGids (array of ints, OPTIONAL) specifies additional group IDs in the container "
       "namespace to be added to the process.")
def _(env):
    got = info_user(env)["groups"]
    expect({5, 1234} <= set(got), f"supplementary groups {got} lack 5 and 1234")
    expect(set(got) <= {5, 1234, 1000}, f"supplementary groups {got}: more than asked")


# ------------------------------------------------------------ hostname, domain

@check("config.hostname", "config.md", "Hostname",
       "hostname (string, OPTIONAL) specifies the container's hostname as seen by processes "
       "running inside the container.")
def _(env):
    got = info_root(env)["hostname"]
    expect(got == "cf-host", f"hostname {got!r}, not cf-host")


@check("config.domainname", "config.md", "Domainname",
       "domainname (string, OPTIONAL) specifies the container's domainname as seen by processes "
       "running inside the container.")
def _(env):
    got = info_root(env)["domainname"]
    expect(got == "cf.example.org", f"domainname {got!r}, not cf.example.org")


# ----------------------------------------------------------------- annotations

@check("config.annotations.unknown-keys", "config.md", "Annotations",
       "Runtimes MUST handle unknown annotation keys like any other unknown property.")
def _(env):
    b = env.bundle("annunknown")
    b.config["annotations"] = {"com.example.conformance.unknown": "x",
                               "org.opencontainers.image.os": "linux"}
    r = env.run(b)
    expect(r.ok, f"unknown annotation keys were not ignored: {r.brief()}")


@check("config.annotations.empty-key", "config.md", "Annotations",
       "Keys MUST NOT be an empty string.")
def _(env):
    b = env.bundle("annempty")
    b.config["annotations"] = {"": "x"}
    env.expect_error(b, "an annotation with an empty key")


@check("config.annotations.string-values", "config.md", "Annotations",
       "Values MUST be strings.")
def _(env):
    b = env.bundle("annint")
    b.config["annotations"] = {"com.example.number": 5}
    env.expect_error(b, "an annotation whose value is a number")


# ---------------------------------------------------------------- extensibility

def unknown_props(env):
    def go():
        b = env.bundle("unknown")
        b.config["cfUnknownTop"] = {"x": [1, 2]}
        b.process["cfUnknownProcess"] = True
        b.linux["cfUnknownLinux"] = "x"
        b.config["root"]["cfUnknownRoot"] = 1
        return env.run(b)
    return env.once("unknown-props", go)


@check("config.extensibility.ignore", "config.md", "Extensibility",
       "Runtimes MAY log unknown properties but MUST otherwise ignore them.")
def _(env):
    r = unknown_props(env)
    expect(r.ok, f"a config with unknown properties did not run: {r.brief()}")


@check("config.extensibility.no-error", "config.md", "Extensibility",
       "That includes not generating errors if they encounter an unknown property.")
def _(env):
    r = unknown_props(env)
    expect(r.ok, f"unknown properties generated an error: {r.brief()}")


@check("config.valid.namespace-type", *VALID)
def _(env):
    b = env.bundle("nsbogus")
    b.add_ns("cfbogus")
    env.expect_error(b, "namespace type cfbogus")
