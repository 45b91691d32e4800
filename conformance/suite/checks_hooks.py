"""Hooks: config.md § POSIX-platform Hooks and its subsections, and the hook
steps of runtime.md § Lifecycle, and the hook sentences of § State.

The host-side hooks run a private copy of busybox (a path that exists on
the host only) as `sh -c SCRIPT NAME a1 'a 2'`: busybox picks its applet by
argv[0], so a runtime that does not pass `args` as argv (argv[0] included)
breaks the hook. Each hook saves its stdin, argv, environment, namespaces,
mount table, and appends its name to a log. The startContainer hook is a
script inside the rootfs only (its path must resolve in the container).

Not observable: "hooks authors should only expect ..." (advice to hook
authors, not a requirement on runtimes).
"""
from __future__ import annotations

import json
import os
import shutil
import time

from .core import Fail, check, expect
from .env import PROBE, alive
from .host import read

NS = ("mnt", "pid", "net", "ipc", "uts")
HOST_HOOK = r'''
d=%(dir)s; n=$0
cat > "$d/$n.state"
printf '%%s\n' "$@" > "$d/$n.args"
env > "$d/$n.env"
for x in mnt pid net ipc uts; do echo "$x $(readlink /proc/self/ns/$x)"; done > "$d/$n.ns"
cat /proc/self/mountinfo > "$d/$n.selfmounts"
pid=$(sed -n 's/.*"pid": *\([0-9][0-9]*\).*/\1/p' "$d/$n.state")
if [ -n "$pid" ]; then
  cat /proc/$pid/mountinfo > "$d/$n.pidmounts" 2>/dev/null
  tr '\0' '\n' < /proc/$pid/cmdline > "$d/$n.cmdline" 2>/dev/null
fi
%(extra)s
echo "$n" >> "$d/log"
'''
POSTSTART_EXTRA = 'sleep 0.5; echo done > "$d/$n.done"'
POSTSTOP_EXTRA = r'''
s=$(sed -n 's/.*) \(.\).*/\1/p' /proc/$(cat "$d/pid")/stat 2>/dev/null)
case "$s" in ""|Z|X) echo gone;; *) echo "alive $s";; esac > "$d/$n.proc"
while read c; do [ -d "$c" ] && echo "$c"; done < "$d/cgdirs" > "$d/$n.cgroups"
echo done > "$d/$n.done"
'''
START_HOOK = '''#!/bin/sh
d=/cf-hooks; n=startContainer
cat > $d/$n.state
for x in mnt pid net ipc uts; do echo "$x $(readlink /proc/self/ns/$x)"; done > $d/$n.ns
echo ran > $d/$n.ran
echo startContainer >> $d/log
'''


class Hooks:
    """The hook directory of one container and the hook entries writing to it."""

    def __init__(self, env, b):
        self.env = env
        self.b = b
        self.dir = os.path.join(env.tmp, f"hooks-{b.id}")
        os.makedirs(self.dir)
        bindir = os.path.join(env.tmp, "hookbin")
        self.busybox = os.path.join(bindir, "busybox")
        if not os.path.exists(self.busybox):
            os.makedirs(bindir, exist_ok=True)
            shutil.copy2("/bin/busybox", self.busybox)
        with open(os.path.join(self.dir, "cgdirs"), "w"):
            pass
        with open(os.path.join(self.dir, "pid"), "w") as f:
            f.write("0")

    def host(self, name, extra="", timeout=None) -> dict:
        h = {"path": self.busybox,
             "args": ["sh", "-c", HOST_HOOK % {"dir": self.dir, "extra": extra}, name, "a1", "a 2"],
             "env": [f"CF_HOOK={name}", "PATH=/usr/sbin:/usr/bin:/sbin:/bin"]}
        if timeout:
            h["timeout"] = timeout
        return h

    def start_hook(self) -> dict:
        os.makedirs(self.b.rpath("cf-hooks"), exist_ok=True)
        with open(self.b.rpath("cf-hooks", "start.sh"), "w") as f:
            f.write(START_HOOK)
        os.chmod(self.b.rpath("cf-hooks", "start.sh"), 0o755)
        return {"path": "/cf-hooks/start.sh", "args": ["start.sh"], "env": ["PATH=/bin"]}

    def file(self, name) -> str | None:
        return read(os.path.join(self.dir, name))

    def cfile(self, name) -> str | None:
        return read(self.b.rpath("cf-hooks", name))

    def log(self) -> list[str]:
        return (self.file("log") or "").split()

    def note_container(self, pid) -> None:
        """After create: the container's pid and cgroup dirs, for poststop."""
        with open(os.path.join(self.dir, "pid"), "w") as f:
            f.write(str(pid))
        with open(os.path.join(self.dir, "cgdirs"), "w") as f:
            f.write("".join(d + "\n" for d in self.env.cgroup_dirs(self.b.cgroups_path)))


def all_hooks(env) -> dict:
    """One container with every hook type (two createRuntime and two poststop
    to see the order) through create, start and delete."""
    o = {}
    b = env.bundle("hooks")
    h = o["h"] = Hooks(env, b)
    o["b"] = b
    b.config["mounts"].append({"destination": "/cf-hookmnt", "type": "tmpfs", "source": "tmpfs"})
    b.config["hooks"] = {
        "prestart": [h.host("prestart")],
        "createRuntime": [h.host("createRuntime"), h.host("createRuntime2")],
        "createContainer": [h.host("createContainer")],
        "startContainer": [h.start_hook()],
        "poststart": [h.host("poststart", POSTSTART_EXTRA)],
        "poststop": [h.host("poststop", POSTSTOP_EXTRA), h.host("poststop2")],
    }
    b.probe_args(["cat", "/cf-hooks/startContainer.ran"], ["sleep", "inf"])
    r = o["create"] = env.create(b)
    if not r.ok:
        o["why"] = f"create failed: {r.brief()}"
        return o
    try:
        st = env.state(b.id)
        o["pid"] = st["pid"]
        h.note_container(st["pid"])
        o["ns_container"] = {n: os.readlink(f"/proc/{st['pid']}/ns/{n}") for n in NS}
        o["log_after_create"] = h.log()
        o["start_ran_at_create"] = h.cfile("startContainer.ran") is not None
        r = o["start"] = env.start(b.id)
        o["poststart_done_at_return"] = h.file("poststart.done") is not None
        if not r.ok:
            o["why"] = f"start failed: {r.brief()}"
            return o
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and "@@ocitest-end 0" not in (read(b.path("out")) or ""):
            time.sleep(0.05)
        o["program_out"] = read(b.path("out")) or ""
        env.kill(b.id, "KILL")
        env.wait_status(b.id, "stopped", 10)
        o["log_before_delete"] = h.log()
        r = o["delete"] = env.delete(b.id)
        o["poststop_done_at_return"] = h.file("poststop.done") is not None
        if not r.ok:
            o["why"] = f"delete failed: {r.brief()}"
        o["log"] = h.log()
    finally:
        if env.rt("state", b.id, timeout=15).ok:
            env.destroy(b.id)
    return o


def hooks(env) -> dict:
    return env.once("hooks", lambda: all_hooks(env))


def need(o, *keys):
    for k in keys:
        if k not in o:
            raise Fail(o.get("why", f"no observation {k}"))
    return [o[k] for k in keys] if len(keys) > 1 else o[keys[0]]


def ns_file(text) -> dict:
    return dict(line.split(" ", 1) for line in (text or "").splitlines() if " " in line)


def ran(o, name) -> None:
    log = need(o, "log")
    if name == "startContainer":
        expect(o["h"].cfile("startContainer.ran"), "the startContainer hook did not run")
    else:
        expect(name in log, f"the {name} hook did not run (hook log: {log})")


def in_runtime_ns(o, name) -> None:
    ran(o, name)
    got = ns_file(o["h"].file(f"{name}.ns"))
    for n in NS:
        mine = os.readlink(f"/proc/self/ns/{n}")
        expect(got.get(n) == mine, f"the {name} hook ran in {n} namespace {got.get(n)}, "
                                   f"the runtime's is {mine}")


def in_container_ns(o, name, text) -> None:
    ran(o, name)
    got = ns_file(text)
    want = o["ns_container"]
    bad = [f"{n} {got.get(n)} (the container's is {want[n]})" for n in NS if got.get(n) != want[n]]
    expect(not bad, f"the {name} hook ran in namespaces: {'; '.join(bad)}")


def before_pivot(o, name, mounts_file) -> None:
    """During create, with the mounts done and the root not yet pivoted: the
    configured mount shows under the rootfs's host path."""
    ran(o, name)
    expect(name in o["log_after_create"], f"the {name} hook had not run when create returned")
    text = o["h"].file(mounts_file) or ""
    want = o["b"].rpath("cf-hookmnt")
    mps = [ln.split()[4] for ln in text.splitlines() if len(ln.split()) > 4]
    expect(want in mps, f"the {name} hook saw no mount at {want} (the mounts of "
                        f"config.json at their pre-pivot_root place): {mps[-5:]}")


def path_resolves(o, name) -> None:
    ran(o, name)
    expect(not os.path.exists(o["b"].rpath(o["h"].busybox)),
           "(check bug) the hook path exists in the rootfs too")


# ---------------------------------------------------------- config.md § Hooks

@check("hooks.args", "config.md", "POSIX-platform Hooks",
       "args (array of strings, OPTIONAL) with the same semantics as IEEE Std 1003.1-2008 "
       "execv's argv.")
def _(env):
    o = hooks(env)
    ran(o, "createRuntime")
    got = (o["h"].file("createRuntime.args") or "").splitlines()
    expect(got == ["a1", "a 2"], f"the hook got arguments {got}, not ['a1', 'a 2'] "
                                 "(after argv[0] 'sh' and the script)")


@check("hooks.env", "config.md", "POSIX-platform Hooks",
       "env (array of strings, OPTIONAL) with the same semantics as IEEE Std 1003.1-2008's "
       "environ.")
def _(env):
    o = hooks(env)
    ran(o, "createRuntime")
    got = (o["h"].file("createRuntime.env") or "").splitlines()
    expect("CF_HOOK=createRuntime" in got, f"CF_HOOK=createRuntime missing from {got}")
    leaked = [e for e in got if e.startswith("CONFORMANCE_RUNTIME_ONLY=")]
    expect(not leaked, f"the hook inherited the runtime's own environment ({leaked[:1]})")


@check("hooks.timeout", "config.md", "POSIX-platform Hooks",
       "timeout (int, OPTIONAL) is the number of seconds before aborting the hook.")
def _(env):
    b = env.bundle("hook-timeout")
    b.config["hooks"] = {"createRuntime": [{"path": "/bin/sleep", "args": ["sleep", "30"],
                                            "timeout": 1}]}
    t = time.monotonic()
    r = env.create(b, timeout=40)
    secs = time.monotonic() - t
    if r.ok:
        env.destroy(b.id)
    expect(not r.ok, f"create succeeded with a hook that sleeps 30 s and has timeout 1 "
                     f"(took {secs:.1f}s)")
    expect(secs < 15, f"create took {secs:.1f}s with a hook timeout of 1 s")
    left = env.leftovers(b)
    expect(not left, f"the failed create left {', '.join(left)}")


@check("hooks.timeout-positive", "config.md", "POSIX-platform Hooks",
       "If set, timeout MUST be greater than zero.")
def _(env):
    b = env.bundle("hook-timeout0")
    b.config["hooks"] = {"createRuntime": [{"path": "/bin/true", "timeout": 0}]}
    env.expect_error(b, "a hook timeout of 0")


@check("hooks.path-absolute", "config.md", "POSIX-platform Hooks",
       "This specification extends the IEEE standard in that path MUST be absolute.")
def _(env):
    b = env.bundle("hook-relpath")
    b.config["hooks"] = {"createRuntime": [{"path": "bin/true"}]}
    env.expect_error(b, "a relative hook path")


@check("hooks.order", "config.md", "POSIX-platform Hooks",
       "Hooks MUST be called in the listed order.")
def _(env):
    log = need(hooks(env), "log")
    for a, z in (("createRuntime", "createRuntime2"), ("poststop", "poststop2")):
        expect(a in log and z in log and log.index(a) < log.index(z),
               f"{a} and {z} ran in the order {log}")


@check("hooks.state-stdin", "config.md", "POSIX-platform Hooks",
       "The state of the container MUST be passed to hooks over stdin so that they may do work "
       "appropriate to the current state of the container.")
def _(env):
    from .checks_runtime import schema_problems
    o = hooks(env)
    need(o, "log")
    h, b = o["h"], o["b"]
    for name in ("prestart", "createRuntime", "createContainer", "startContainer", "poststart",
                 "poststop"):
        text = h.cfile(f"{name}.state") if name == "startContainer" else h.file(f"{name}.state")
        try:
            st = json.loads(text or "")
        except ValueError:
            raise Fail(f"the {name} hook's stdin is not a JSON state: {(text or '')[:120]!r}")
        bad = schema_problems(st)
        expect(not bad, f"the state on the {name} hook's stdin: {'; '.join(bad)}")
        expect(st.get("id") == b.id and os.path.realpath(st.get("bundle", "")) == b.dir,
               f"the state on the {name} hook's stdin is of another container: {st}")


@check("hooks.prestart.when", "config.md", "Prestart",
       "The prestart hooks MUST be called as part of the create operation after the runtime "
       "environment has been created (according to the configuration in config.json) but "
       "before the pivot_root or any equivalent operation has been executed.")
def _(env):
    before_pivot(hooks(env), "prestart", "prestart.pidmounts")


@check("hooks.prestart.before-createRuntime", "config.md", "Prestart",
       "The prestart hooks MUST be called before the createRuntime hooks.")
def _(env):
    log = need(hooks(env), "log")
    expect("prestart" in log and "createRuntime" in log and
           log.index("prestart") < log.index("createRuntime"), f"hook order {log}")


@check("hooks.prestart.path", "config.md", "Prestart",
       "The prestart hooks' path MUST resolve in the runtime namespace.")
def _(env):
    path_resolves(hooks(env), "prestart")


@check("hooks.prestart.namespace", "config.md", "Prestart",
       "The prestart hooks MUST be executed in the runtime namespace.")
def _(env):
    in_runtime_ns(hooks(env), "prestart")


@check("hooks.createRuntime.when", "config.md", "CreateRuntime Hooks",
       "The createRuntime hooks MUST be called as part of the create operation after the "
       "runtime environment has been created (according to the configuration in config.json) "
       "but before the pivot_root or any equivalent operation has been executed.")
def _(env):
    before_pivot(hooks(env), "createRuntime", "createRuntime.pidmounts")


@check("hooks.createRuntime.path", "config.md", "CreateRuntime Hooks",
       "The createRuntime hooks' path MUST resolve in the runtime namespace.")
def _(env):
    path_resolves(hooks(env), "createRuntime")


@check("hooks.createRuntime.namespace", "config.md", "CreateRuntime Hooks",
       "The createRuntime hooks MUST be executed in the runtime namespace.")
def _(env):
    in_runtime_ns(hooks(env), "createRuntime")


@check("hooks.createContainer.when", "config.md", "CreateContainer Hooks",
       "The createContainer hooks MUST be called as part of the create operation after the "
       "runtime environment has been created (according to the configuration in config.json) "
       "but before the pivot_root or any equivalent operation has been executed.")
def _(env):
    before_pivot(hooks(env), "createContainer", "createContainer.selfmounts")


@check("hooks.createContainer.after-createRuntime", "config.md", "CreateContainer Hooks",
       "The createContainer hooks MUST be called after the createRuntime hooks.")
def _(env):
    log = need(hooks(env), "log")
    expect("createContainer" in log and "createRuntime2" in log and
           log.index("createRuntime2") < log.index("createContainer"), f"hook order {log}")


@check("hooks.createContainer.path", "config.md", "CreateContainer Hooks",
       "The createContainer hooks' path MUST resolve in the runtime namespace.")
def _(env):
    path_resolves(hooks(env), "createContainer")


@check("hooks.createContainer.namespace", "config.md", "CreateContainer Hooks",
       "The createContainer hooks MUST be executed in the container namespace.")
def _(env):
    o = hooks(env)
    in_container_ns(o, "createContainer", o["h"].file("createContainer.ns"))


@check("hooks.startContainer.when", "config.md", "StartContainer Hooks",
       "The startContainer hooks MUST be called before the user-specified process is executed "
       "as part of the start operation.")
def _(env):
    o = hooks(env)
    ran(o, "startContainer")
    expect(not o["start_ran_at_create"], "the startContainer hook ran at create")
    out = need(o, "program_out")
    expect("ran" in out.split("@@ocitest-end 0")[0],
           f"the program did not find the startContainer hook's file when it started: {out[:200]!r}")


@check("hooks.startContainer.path", "config.md", "StartContainer Hooks",
       "The startContainer hooks' path MUST resolve in the container namespace.")
def _(env):
    o = hooks(env)
    ran(o, "startContainer")
    expect(not os.path.exists("/cf-hooks/start.sh"), "(check bug) /cf-hooks exists on the host")


@check("hooks.startContainer.namespace", "config.md", "StartContainer Hooks",
       "The startContainer hooks MUST be executed in the container namespace.")
def _(env):
    o = hooks(env)
    in_container_ns(o, "startContainer", o["h"].cfile("startContainer.ns"))


@check("hooks.poststart.when", "config.md", "Poststart",
       "The poststart hooks MUST be called after the user-specified process is executed but "
       "before the start operation returns.")
def _(env):
    o = hooks(env)
    ran(o, "poststart")
    argv = (o["h"].file("poststart.cmdline") or "").splitlines()
    want = o["b"].process["args"]
    expect(argv == want, f"when the poststart hook ran the container process was {argv}, "
                         f"not the program {want}")
    expect(o["poststart_done_at_return"], "start returned before the poststart hook finished")


@check("hooks.poststart.path", "config.md", "Poststart",
       "The poststart hooks' path MUST resolve in the runtime namespace.")
def _(env):
    path_resolves(hooks(env), "poststart")


@check("hooks.poststart.namespace", "config.md", "Poststart",
       "The poststart hooks MUST be executed in the runtime namespace.")
def _(env):
    in_runtime_ns(hooks(env), "poststart")


@check("hooks.poststop.when", "config.md", "Poststop",
       "The poststop hooks MUST be called after the container is deleted but before the delete "
       "operation returns.")
def _(env):
    o = hooks(env)
    ran(o, "poststop")
    expect("poststop" not in o["log_before_delete"], "a poststop hook ran before delete")
    expect(o["poststop_done_at_return"], "delete returned before the poststop hook finished")
    proc = (o["h"].file("poststop.proc") or "").strip()
    expect(proc == "gone", "the container process was still there when the poststop hook ran")
    cgs = (o["h"].file("poststop.cgroups") or "").split()
    expect(not cgs, f"the container's cgroup {cgs[:1]} still existed when the poststop hook ran")


@check("hooks.poststop.path", "config.md", "Poststop",
       "The poststop hooks' path MUST resolve in the runtime namespace.")
def _(env):
    path_resolves(hooks(env), "poststop")


@check("hooks.poststop.namespace", "config.md", "Poststop",
       "The poststop hooks MUST be executed in the runtime namespace.")
def _(env):
    in_runtime_ns(hooks(env), "poststop")


# ------------------------------------------------- runtime.md § State (pid)

@check("hooks.state-pid.runtime-ns", "runtime.md", "State",
       "For hooks executed in the runtime namespace, it is the pid as seen by the runtime.")
def _(env):
    o = hooks(env)
    need(o, "log")
    bad = []
    for name in ("prestart", "createRuntime", "poststart"):
        st = json.loads(o["h"].file(f"{name}.state") or "{}")
        if st.get("pid") != o["pid"]:
            bad.append(f"{name} got {st.get('pid')}")
    expect(not bad, f"the runtime sees the container process as {o['pid']}: {', '.join(bad)}")


@check("hooks.state-pid.container-ns", "runtime.md", "State",
       "For hooks executed in the container namespace, it is the pid as seen by the container.")
def _(env):
    o = hooks(env)
    need(o, "log")
    bad = []
    for name, text in (("createContainer", o["h"].file("createContainer.state")),
                       ("startContainer", o["h"].cfile("startContainer.state"))):
        st = json.loads(text or "{}")
        if st.get("pid") != 1:
            bad.append(f"{name} got {st.get('pid')}")
    expect(not bad, f"the container (own pid namespace) sees its process as 1: "
                    f"{', '.join(bad)} (the runtime sees {o['pid']})")


# ----------------------------------------- runtime.md § Lifecycle, hook steps

def lifecycle_step(name):
    def f(env):
        ran(hooks(env), name)
    return f


for _n, _step in (("prestart", "3. The prestart hooks MUST be invoked by the runtime."),
                  ("createRuntime", "4. The createRuntime hooks MUST be invoked by the runtime."),
                  ("createContainer",
                   "5. The createContainer hooks MUST be invoked by the runtime."),
                  ("startContainer",
                   "7. The startContainer hooks MUST be invoked by the runtime."),
                  ("poststart", "9. The poststart hooks MUST be invoked by the runtime."),
                  ("poststop", "13. The poststop hooks MUST be invoked by the runtime.")):
    check(f"lifecycle.{_n}.invoked", "runtime.md", "Lifecycle", _step.split(" ", 1)[1])(
        lifecycle_step(_n))


def failing(env, kind) -> dict:
    """A container whose `kind` hook fails (/bin/false); its poststop hook
    records that it ran."""
    b = env.bundle(f"fail-{kind}")
    h = Hooks(env, b)
    hk = {"poststop": [h.host("poststop", POSTSTOP_EXTRA)]}
    if kind == "poststop":
        hk["poststop"] = [{"path": "/bin/false"}, h.host("poststop", POSTSTOP_EXTRA)]
    else:
        hk[kind] = [{"path": "/bin/false"}]
    b.config["hooks"] = hk
    b.args(PROBE, "multi", "write", "/program-ran", "yes", "---", "sleep", "inf")
    o = {"b": b, "h": h}
    try:
        o["create"] = r = env.create(b)
        if kind in ("prestart", "createRuntime", "createContainer"):
            o["left"] = env.leftovers(b)
            return o
        if not r.ok:
            o["why"] = f"create failed: {r.brief()}"
            return o
        st = env.state(b.id)
        h.note_container(st["pid"])
        o["pid"] = st["pid"]
        o["start"] = r = env.start(b.id)
        if kind in ("startContainer", "poststart"):
            time.sleep(0.3)
            o["program_ran"] = os.path.exists(b.rpath("program-ran"))
            o["alive"] = alive(st["pid"])
            o["cgroups"] = env.cgroup_dirs(b.cgroups_path)
            return o
        env.kill(b.id, "KILL")
        env.wait_status(b.id, "stopped", 10)
        o["delete"] = env.delete(b.id)
        o["left"] = env.leftovers(b)
        return o
    finally:
        o["poststop_ran"] = "poststop" in h.log()
        if env.rt("state", b.id, timeout=15).ok:
            env.destroy(b.id)


def create_hook_fails(kind):
    def f(env):
        o = failing(env, kind)
        bad = []
        if o["create"].ok:
            bad.append(f"create exited 0 although a {kind} hook failed")
        if o["left"]:
            bad.append(f"the failed create left {', '.join(o['left'])}")
        if not o["poststop_ran"]:
            bad.append("the poststop hooks did not run (step 13 follows step 12)")
        expect(not bad, "; ".join(bad))
    return f


def start_hook_fails(kind):
    def f(env):
        o = failing(env, kind)
        need(o, "start")
        bad = []
        if o["start"].ok:
            bad.append(f"start exited 0 although a {kind} hook failed")
        if kind == "startContainer" and o["program_ran"]:
            bad.append("the program ran although a startContainer hook failed")
        if o["alive"]:
            bad.append("the container process is still alive (the container must be stopped)")
        if o["cgroups"]:
            bad.append(f"the container was not destroyed (step 12): cgroup {o['cgroups'][0]} "
                       "is still there")
        if not o["poststop_ran"]:
            bad.append("the poststop hooks did not run (step 13 follows step 12)")
        expect(not bad, "; ".join(bad))
    return f


for _n, _q in (
        ("prestart", "If any prestart hook fails, the runtime MUST generate an error, stop the "
                     "container, and continue the lifecycle at step 12."),
        ("createRuntime", "If any createRuntime hook fails, the runtime MUST generate an error, "
                          "stop the container, and continue the lifecycle at step 12."),
        ("createContainer", "If any createContainer hook fails, the runtime MUST generate an "
                            "error, stop the container, and continue the lifecycle at step 12."),
        ("startContainer", "If any startContainer hook fails, the runtime MUST generate an "
                           "error, stop the container, and continue the lifecycle at step 12."),
        ("poststart", "If any poststart hook fails, the runtime MUST generate an error, stop the "
                      "container, and continue the lifecycle at step 12.")):
    check(f"lifecycle.{_n}.fails", "runtime.md", "Lifecycle", _q)(
        create_hook_fails(_n) if _n in ("prestart", "createRuntime", "createContainer")
        else start_hook_fails(_n))


@check("lifecycle.poststop.fails", "runtime.md", "Lifecycle",
       "If any poststop hook fails, the runtime MUST log a warning, but the remaining hooks and "
       "lifecycle continue as if the hook had succeeded.")
def _(env):
    o = failing(env, "poststop")
    need(o, "delete")
    expect(o["delete"].ok, f"delete failed after a failing poststop hook: {o['delete'].brief()}")
    expect(o["poststop_ran"], "the poststop hook after the failing one did not run")
    expect(not o["left"], f"delete left {', '.join(o['left'])}")
