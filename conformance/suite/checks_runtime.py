"""runtime.md (state, lifecycle, errors, warnings, operations) and
runtime-linux.md (file descriptors, /dev symlinks).

Not observable, so not checked: "Additional values MAY be defined by the
runtime, however, they MUST be used to represent new runtime states not
defined above" (what a new value represents); how errors and warnings are
reported (the spec leaves it open); the MAY statements.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import time

from .core import Fail, check, expect
from .env import PROBE
from .host import mountinfo, read

SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$")
STATUSES = ("creating", "created", "running", "stopped")


def cmdline(pid) -> list[str]:
    raw = read(f"/proc/{pid}/cmdline") or ""
    return [a for a in raw.split("\0")][:-1] if raw else []


def ns_of(pid, ns) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/{'ns/' + ns}")
    except OSError:
        return None


def schema_problems(st) -> list[str]:
    """state-schema.json by hand (stdlib only)."""
    p = []
    if not isinstance(st, dict):
        return ["not a JSON object"]
    for k in ("ociVersion", "id", "status", "bundle"):
        if k not in st:
            p.append(f"no {k}")
        elif not isinstance(st[k], str):
            p.append(f"{k} is not a string")
    if st.get("status") not in STATUSES:
        p.append(f"status {st.get('status')!r} is not one of {STATUSES}")
    if "pid" in st and (not isinstance(st["pid"], int) or isinstance(st["pid"], bool)
                        or st["pid"] < 0):
        p.append(f"pid {st['pid']!r} is not an integer >= 0")
    ann = st.get("annotations")
    if ann is not None and (not isinstance(ann, dict) or
                            not all(isinstance(v, str) for v in ann.values())):
        p.append("annotations is not a map of strings")
    return p


# ------------------------------------------------------------ the lifecycle

ANNOTATIONS = {"org.example.conformance": "yes", "com.example.empty": ""}


def lifecycle(env) -> dict:
    """One container walked through every operation; each check reads its part.
    o['why'] says why a later observation is missing."""
    o = {}
    b = env.bundle("life")
    b.probe_args(["write", "/ran", "first"], ["sleep", "inf"])
    b.config["annotations"] = dict(ANNOTATIONS)
    b.config["mounts"].append({"destination": "/cf-create", "type": "tmpfs", "source": "tmpfs",
                               "options": ["size=1m"]})
    b.linux["resources"]["pids"] = {"limit": 77}
    o["bundle"] = b
    # A relative bundle path (the runtime runs in env.tmp): state.bundle must
    # still be absolute.
    r = env.create(b, bundle_arg=os.path.relpath(b.dir, env.tmp))
    o["create"] = r
    if not r.ok:
        o["why"] = f"create failed: {r.brief()}"
        return o
    try:
        st = env.state(b.id)
        o["state_created"] = st
        if not st or not st.get("pid"):
            o["why"] = f"no pid in the state after create: {st}"
            return o
        pid = o["pid"] = st["pid"]
        time.sleep(0.3)
        o["ran_at_create"] = os.path.exists(b.rpath("ran"))
        o["ns_created"] = {n: ns_of(pid, n) for n in ("pid", "net", "ipc", "uts", "mnt")}
        o["mounts_created"] = [m["mount_point"] for m in mountinfo(pid)]
        o["cgroup_created"] = env.proc_cgroup(pid)
        try:
            o["pids_max_created"] = env.cgroup_file(pid, "pids", "pids.max")
        except Exception as e:
            o["pids_max_created"] = f"unreadable: {e}"
        # The config changes after create: nothing of it may reach the container.
        changed = json.loads(json.dumps(b.config))
        changed["process"]["args"] = [PROBE, "write", "/ran-changed", "x"]
        with open(b.path("config.json"), "w") as f:
            json.dump(changed, f)
        o["start"] = r = env.start(b.id)
        if not r.ok:
            o["why"] = f"start failed: {r.brief()}"
            return o
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not os.path.exists(b.rpath("ran")):
            time.sleep(0.05)
        o["ran"] = os.path.exists(b.rpath("ran"))
        o["ran_changed"] = os.path.exists(b.rpath("ran-changed"))
        o["state_running"] = st = env.state(b.id)
        o["cmdline_running"] = cmdline(st["pid"]) if st and st.get("pid") else None
        o["start_again"] = env.start(b.id)
        o["state_after_start_again"] = env.state(b.id)
        o["delete_running"] = env.delete(b.id)
        o["state_after_delete_running"] = env.state(b.id)
        o["kill"] = env.kill(b.id, "KILL")
        o["state_stopped"] = env.wait_status(b.id, "stopped", 10)
        o["start_stopped"] = env.start(b.id)
        o["state_after_start_stopped"] = env.state(b.id)
        o["kill_stopped"] = env.kill(b.id, "TERM")
        o["state_after_kill_stopped"] = env.state(b.id)
        o["delete"] = env.delete(b.id)
        o["left_after_delete"] = env.leftovers(b)
    finally:
        if env.rt("state", b.id, timeout=15).ok:
            env.destroy(b.id)
    return o


def need(o, *keys):
    for k in keys:
        if k not in o:
            raise Fail(o.get("why", f"no observation {k}"))
    return [o[k] for k in keys] if len(keys) > 1 else o[keys[0]]


def life(env):
    return env.once("lifecycle", lambda: lifecycle(env))


@check("runtime.scope", "runtime.md", "Scope of a Container",
       "The entity using a runtime to create a container MUST be able to use the operations "
       "defined in this specification against that same container.")
def _(env):
    o = life(env)
    for op in ("create", "start", "kill", "delete"):
        r = need(o, op)
        expect(r.ok, f"{op} failed: {r.brief()}")
    expect(o.get("state_created") and o.get("state_running"), "state failed")


@check("runtime.state.schema", "runtime.md", "State",
       "When serialized in JSON, the format MUST adhere to the JSON Schema "
       "schema/state-schema.json.")
def _(env):
    o = life(env)
    for k in ("state_created", "state_running", "state_stopped"):
        st = need(o, k)
        expect(st is not None, f"no state ({k})")
        bad = schema_problems(st)
        expect(not bad, f"{k}: {'; '.join(bad)}: {json.dumps(st)[:200]}")


@check("runtime.state.ociVersion", "runtime.md", "State",
       "ociVersion (string, REQUIRED) is version of the Open Container Initiative Runtime "
       "Specification with which the state complies.")
def _(env):
    st = need(life(env), "state_created")
    v = st.get("ociVersion")
    expect(isinstance(v, str) and SEMVER.match(v), f"ociVersion {v!r} is not a SemVer version")


@check("runtime.state.id", "runtime.md", "State",
       "id (string, REQUIRED) is the container's ID.")
def _(env):
    o = life(env)
    st = need(o, "state_created")
    expect(st.get("id") == o["bundle"].id, f"id {st.get('id')!r}, not {o['bundle'].id!r}")


@check("runtime.state.created", "runtime.md", "State",
       "created: the runtime has finished the create operation (after step 2 in the lifecycle), "
       "and the container process has neither exited nor executed the user-specified program")
def _(env):
    o = life(env)
    st, ran = need(o, "state_created", "ran_at_create")
    expect(st.get("status") == "created", f"status after create is {st.get('status')!r}")
    expect(not ran, "the user-specified program already ran after create")
    expect(os.path.exists(f"/proc/{st['pid']}"), f"the container process {st['pid']} is gone")


@check("runtime.state.running", "runtime.md", "State",
       "running: the container process has executed the user-specified program but has not "
       "exited (after step 8 in the lifecycle)")
def _(env):
    o = life(env)
    st, argv = need(o, "state_running", "cmdline_running")
    expect(st and st.get("status") == "running", f"status after start is {st and st.get('status')!r}")
    want = o["bundle"].process["args"]
    expect(argv == want, f"the pid in the state runs {argv}, not the program {want}")


@check("runtime.state.stopped", "runtime.md", "State",
       "stopped: the container process has exited (step 10 in the lifecycle)")
def _(env):
    b = env.bundle("exits")
    b.args(PROBE, "exit", "3")
    r = env.create(b)
    expect(r.ok, f"create failed: {r.brief()}")
    try:
        expect(env.start(b.id).ok, "start failed")
        st = env.wait_status(b.id, "stopped", 10)
        expect(st and st.get("status") == "stopped",
               f"the program exited but the status is {st and st.get('status')!r}")
    finally:
        env.destroy(b.id)


@check("runtime.state.pid", "runtime.md", "State",
       "pid (int, REQUIRED when status is created or running on Linux, OPTIONAL on other "
       "platforms) is the ID of the container process.")
def _(env):
    o = life(env)
    for k in ("state_created", "state_running"):
        st = need(o, k)
        pid = st.get("pid")
        expect(isinstance(pid, int) and pid > 0, f"{k}: pid {pid!r}")
        expect(ns_of(pid, "pid") != ns_of("self", "pid"),
               f"{k}: pid {pid} is not in the container's pid namespace")
    expect(o["cmdline_running"] == o["bundle"].process["args"],
           f"pid {o['state_running']['pid']} runs {o['cmdline_running']}")


@check("runtime.state.bundle", "runtime.md", "State",
       "bundle (string, REQUIRED) is the absolute path to the container's bundle directory.")
def _(env):
    o = life(env)
    st = need(o, "state_created")
    got = st.get("bundle")
    expect(isinstance(got, str) and os.path.isabs(got),
           f"bundle {got!r} is not absolute (create got a relative --bundle)")
    expect(os.path.realpath(got) == os.path.realpath(o["bundle"].dir),
           f"bundle {got!r}, not {o['bundle'].dir}")


@check("runtime.state.annotations", "runtime.md", "State",
       "annotations (map, OPTIONAL) contains the list of annotations associated with the container.")
def _(env):
    st = need(life(env), "state_created")
    expect(st.get("annotations") == ANNOTATIONS,
           f"annotations {st.get('annotations')!r}, config has {ANNOTATIONS!r}")


@check("runtime.lifecycle.environment", "runtime.md", "Lifecycle",
       "The container's runtime environment MUST be created according to the configuration in "
       "config.json.")
def _(env):
    o = life(env)
    nss, mps, cg = need(o, "ns_created", "mounts_created", "cgroup_created")
    for n in ("pid", "net", "ipc", "uts", "mnt"):
        expect(nss[n] and nss[n] != ns_of("self", n), f"after create the process shares our {n} namespace")
    expect("/cf-create" in mps, "after create the configured mount /cf-create is missing")
    path = o["bundle"].cgroups_path
    expect(any(p == path for p in cg.values()), f"after create the process is not in {path}: {cg}")


@check("runtime.lifecycle.create-no-program", "runtime.md", "Lifecycle",
       "While the resources requested in the config.json MUST be created, the user-specified "
       "program (from process) MUST NOT be run at this time.")
def _(env):
    o = life(env)
    ran, pids_max = need(o, "ran_at_create", "pids_max_created")
    expect(pids_max == "77", f"after create pids.max is {pids_max!r}, not 77")
    expect(not ran, "the user-specified program ran at create")


@check("runtime.lifecycle.config-updates", "runtime.md", "Lifecycle",
       "Any updates to config.json after this step MUST NOT affect the container.")
def _(env):
    o = life(env)
    ran, changed = need(o, "ran", "ran_changed")
    expect(not changed, "start ran the args written to config.json after create")
    expect(ran, "start did not run the args of config.json at create")


@check("runtime.lifecycle.run-program", "runtime.md", "Lifecycle",
       "The runtime MUST run the user-specified program, as specified by process.")
def _(env):
    expect(need(life(env), "ran"), "the program did not run after start")


@check("runtime.lifecycle.destroy", "runtime.md", "Lifecycle",
       "The container MUST be destroyed by undoing the steps performed during create phase "
       "(step 2).")
def _(env):
    o = life(env)
    r, left = need(o, "delete", "left_after_delete")
    expect(r.ok, f"delete failed: {r.brief()}")
    expect(not left, f"after delete: {', '.join(left)}")


@check("runtime.errors.no-trace", "runtime.md", "Errors",
       "Unless otherwise stated, generating an error MUST leave the state of the environment as "
       "if the operation were never attempted - modulo any possible trivial ancillary changes "
       "such as logging.")
def _(env):
    # Fails late: after namespaces, cgroups and the first mounts exist.
    b = env.bundle("late-error")
    b.linux["resources"]["pids"] = {"limit": 50}
    b.config["mounts"].append({"destination": "/cf-late", "type": "none",
                               "source": os.path.join(env.tmp, "does-not-exist"),
                               "options": ["rbind"]})
    env.expect_error(b, "a bind mount of a missing source")


@check("runtime.warnings.continue", "runtime.md", "Warnings",
       "Unless otherwise stated, logging a warning does not change the flow of the operation; "
       "it MUST continue as if the warning had not been logged.")
def _(env):
    # Step 13: a failing poststop hook is a warning; delete must go on and succeed.
    b = env.bundle("warn")
    b.config["hooks"] = {"poststop": [{"path": "/bin/false"}]}
    expect(env.create(b).ok, "create failed")
    try:
        env.kill(b.id, "KILL")
        env.wait_status(b.id, "stopped", 10)
        r = env.delete(b.id)
        expect(r.ok, f"delete failed after a poststop hook failed (a warning): {r.brief()}")
        left = env.leftovers(b)
        expect(not left, f"after delete: {', '.join(left)}")
    finally:
        if env.rt("state", b.id).ok:
            env.destroy(b.id)


# ------------------------------------------------------------- operations

@check("runtime.state.no-id", "runtime.md", "Query State",
       "This operation MUST generate an error if it is not provided the ID of a container.")
def _(env):
    r = env.rt("state")
    expect(r.rc != 0, "`state` without an ID exited 0")


@check("runtime.state.missing", "runtime.md", "Query State",
       "Attempting to query a container that does not exist MUST generate an error.")
def _(env):
    r = env.rt("state", f"cf{env.token}-never-created")
    expect(r.rc != 0, "`state` of an unknown ID exited 0")


@check("runtime.state.returns", "runtime.md", "Query State",
       "This operation MUST return the state of a container as specified in the State section.")
def _(env):
    o = life(env)
    for k, status in (("state_created", "created"), ("state_running", "running"),
                      ("state_stopped", "stopped")):
        st = need(o, k)
        expect(st and st.get("status") == status and st.get("id") == o["bundle"].id,
               f"expected status {status}: {json.dumps(st)[:200]}")


@check("runtime.create.no-id", "runtime.md", "Create",
       "This operation MUST generate an error if it is not provided a path to the bundle and the "
       "container ID to associate with the container.")
def _(env):
    b = env.bundle("noid")
    b.write()
    r = env.rt("create", "--bundle", b.dir)
    expect(r.rc != 0, "`create --bundle DIR` without an ID exited 0")
    r = env.rt("create", "--bundle", os.path.join(env.tmp, "no-such-bundle"), b.id)
    if r.ok:
        env.destroy(b.id)
    expect(r.rc != 0, "create with a bundle path that does not exist exited 0")


def duplicate(env) -> dict:
    """A second create with the ID of a created container (other bundle)."""
    def go():
        a = env.bundle("dup")
        st = env.created(a)
        try:
            b = env.bundle("dup2")
            b.id = a.id                      # same ID, other bundle and cgroup
            b.args(PROBE, "write", "/dup-ran", "x")
            r = env.create(b)
            return {"a": a, "st": st, "second": r, "st2": env.state(a.id),
                    "second_cgroup": env.cgroup_dirs(b.cgroups_path)}
        finally:
            env.destroy(a.id)
    return env.once("duplicate", go)


def check_duplicate(env):
    o = duplicate(env)
    a, st, st2 = o["a"], o["st"], o["st2"]
    expect(not o["second"].ok, "a second create with the same ID exited 0")
    expect(st2 and st2.get("pid") == st["pid"] and st2.get("status") == "created"
           and os.path.realpath(st2.get("bundle", "")) == os.path.realpath(a.dir),
           f"the first container changed: {st2}")
    expect(not o["second_cgroup"], "the second create made its cgroup")


check("runtime.state.id-unique", "runtime.md", "State",
      "This MUST be unique across all containers on this host.")(check_duplicate)
check("runtime.create.duplicate-id", "runtime.md", "Create",
      "If the ID provided is not unique across all containers within the scope of the runtime, "
      "or is not valid in any other way, the implementation MUST generate an error and a new "
      "container MUST NOT be created.")(check_duplicate)


@check("runtime.create.creates", "runtime.md", "Create",
       "This operation MUST create a new container.")
def _(env):
    st = need(life(env), "state_created")
    expect(st.get("status") == "created", f"status after create: {st.get('status')!r}")


@check("runtime.create.applies", "runtime.md", "Create",
       "All of the properties configured in config.json except for process MUST be applied.")
def _(env):
    o = life(env)
    mps, pids_max, nss = need(o, "mounts_created", "pids_max_created", "ns_created")
    expect("/cf-create" in mps, "the configured mount /cf-create is missing after create")
    expect(pids_max == "77", f"pids.max after create is {pids_max!r}, not 77")
    expect(nss["uts"] != ns_of("self", "uts"), "no uts namespace after create")


@check("runtime.create.args-at-start", "runtime.md", "Create",
       "process.args MUST NOT be applied until triggered by the start operation.")
def _(env):
    o = life(env)
    ran_create, ran = need(o, "ran_at_create", "ran")
    expect(not ran_create, "the program ran at create")
    expect(ran, "the program did not run at start")


@check("runtime.create.cannot-apply", "runtime.md", "Create",
       "If the runtime cannot apply a property as specified in the configuration, it MUST "
       "generate an error and a new container MUST NOT be created.")
def _(env):
    b = env.bundle("cannot-apply")
    b.config["mounts"].append({"destination": "/cf-bogus", "type": "cfbogusfs",
                               "source": "none"})
    env.expect_error(b, "a mount of a filesystem type the kernel does not have")


@check("runtime.start.no-id", "runtime.md", "Start",
       "This operation MUST generate an error if it is not provided the container ID.")
def _(env):
    expect(env.rt("start").rc != 0, "`start` without an ID exited 0")


@check("runtime.start.running", "runtime.md", "Start",
       "Attempting to start a container that is not created MUST have no effect on the "
       "container and MUST generate an error.")
def _(env):
    o = life(env)
    r, before, after = need(o, "start_again", "state_running", "state_after_start_again")
    expect(r.rc != 0, "start of a running container exited 0")
    expect(after and after.get("status") == "running" and after.get("pid") == before.get("pid"),
           f"the running container changed: {after}")


@check("runtime.start.stopped", "runtime.md", "Start",
       "Attempting to start a container that is not created MUST have no effect on the "
       "container and MUST generate an error.")
def _(env):
    o = life(env)
    r, after = need(o, "start_stopped", "state_after_start_stopped")
    expect(r.rc != 0, "start of a stopped container exited 0")
    expect(after and after.get("status") == "stopped", f"the stopped container changed: {after}")


@check("runtime.start.runs", "runtime.md", "Start",
       "This operation MUST run the user-specified program as specified by process.")
def _(env):
    o = life(env)
    expect(need(o, "ran"), "the program did not run")
    expect(o["cmdline_running"] == o["bundle"].process["args"],
           f"the container runs {o['cmdline_running']}")


@check("runtime.start.no-process", "runtime.md", "Start",
       "This operation MUST generate an error if process was not set.")
def _(env):
    b = env.bundle("noproc")
    del b.config["process"]
    r = env.create(b)
    if not r.ok:
        left = env.leftovers(b)
        expect(not left, f"create refused it but left {', '.join(left)}")
        return                           # refused before start: allowed (validation)
    try:
        r = env.start(b.id)
        expect(r.rc != 0, "start of a container without process exited 0")
    finally:
        env.destroy(b.id)


@check("runtime.kill.no-id", "runtime.md", "Kill",
       "This operation MUST generate an error if it is not provided the container ID.")
def _(env):
    expect(env.rt("kill").rc != 0, "`kill` without an ID exited 0")


@check("runtime.kill.stopped", "runtime.md", "Kill",
       "Attempting to send a signal to a container that is neither created nor running MUST "
       "have no effect on the container and MUST generate an error.")
def _(env):
    o = life(env)
    r, after = need(o, "kill_stopped", "state_after_kill_stopped")
    expect(r.rc != 0, "kill of a stopped container exited 0")
    expect(after and after.get("status") == "stopped", f"the stopped container changed: {after}")


@check("runtime.kill.signal", "runtime.md", "Kill",
       "This operation MUST send the specified signal to the container process.")
def _(env):
    b = env.bundle("sigwait")
    b.args(PROBE, "sigwait")
    env.started(b)
    try:
        out = b.path("out")
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and "ready" not in (read(out) or ""):
            time.sleep(0.05)
        r = env.kill(b.id, "USR1")
        expect(r.ok, f"kill USR1 failed: {r.brief()}")
        env.wait_status(b.id, "stopped", 5)
        got = read(out) or ""
        expect("signal 10" in got, f"the container process reported {got.strip()!r}, not signal 10")
    finally:
        env.destroy(b.id)


@check("runtime.delete.no-id", "runtime.md", "Delete",
       "This operation MUST generate an error if it is not provided the container ID.")
def _(env):
    expect(env.rt("delete").rc != 0, "`delete` without an ID exited 0")


@check("runtime.delete.running", "runtime.md", "Delete",
       "Attempting to delete a container that is not stopped MUST have no effect on the "
       "container and MUST generate an error.")
def _(env):
    o = life(env)
    r, before, after = need(o, "delete_running", "state_running", "state_after_delete_running")
    expect(r.rc != 0, "delete (without --force) of a running container exited 0")
    expect(after and after.get("status") == "running" and after.get("pid") == before.get("pid"),
           f"the running container changed: {after}")


@check("runtime.delete.created", "runtime.md", "Delete",
       "Attempting to delete a container that is not stopped MUST have no effect on the "
       "container and MUST generate an error.")
def _(env):
    b = env.bundle("del-created")
    st = env.created(b)
    try:
        r = env.delete(b.id)
        after = env.state(b.id)
        expect(r.rc != 0, "delete (without --force) of a created container exited 0 "
                          f"(status afterwards: {after and after.get('status')})")
        expect(after and after.get("status") == "created" and after.get("pid") == st["pid"],
               f"the created container changed: {after}")
    finally:
        env.destroy(b.id)


@check("runtime.delete.resources", "runtime.md", "Delete",
       "Deleting a container MUST delete the resources that were created during the create step.")
def _(env):
    o = life(env)
    r, left = need(o, "delete", "left_after_delete")
    expect(r.ok, f"delete failed: {r.brief()}")
    expect(not left, f"left after delete: {', '.join(left)}")


@check("runtime.delete.not-others", "runtime.md", "Delete",
       "Note that resources associated with the container, but not created by this container, "
       "MUST NOT be deleted.")
def _(env):
    b = env.bundle("not-others")
    # A parent cgroup made by us, a bind-mount source, and a joined network namespace.
    mp = env.host.need_controller("pids")
    parent = os.path.join(mp, env.cg_parent.lstrip("/"), f"pre-{b.id}")
    os.makedirs(parent)
    b.linux["cgroupsPath"] = b.cgroups_path = f"{env.cg_parent}/pre-{b.id}/c"
    src = os.path.join(env.tmp, f"src-{b.id}")
    os.makedirs(src)
    with open(os.path.join(src, "keep"), "w") as f:
        f.write("keep")
    b.config["mounts"].append({"destination": "/cf-src", "type": "none", "source": src,
                               "options": ["rbind"]})
    b.args(PROBE, "sleep", "inf")
    holder = subprocess.Popen(["unshare", "--net", "sleep", "120"])
    env.at_exit(lambda: (holder.kill(), holder.wait()))
    time.sleep(0.1)
    b.add_ns("network", f"/proc/{holder.pid}/ns/net")
    st = env.started(b)
    expect(st.get("status") == "running", f"status {st.get('status')}")
    env.kill(b.id, "KILL")
    env.wait_status(b.id, "stopped", 10)
    r = env.delete(b.id)
    expect(r.ok, f"delete failed: {r.brief()}")
    expect(os.path.isdir(parent), f"delete removed the parent cgroup {parent} it did not create")
    expect(os.path.exists(os.path.join(src, "keep")), "delete removed the bind-mount source")
    expect(holder.poll() is None and os.path.exists(f"/proc/{holder.pid}/ns/net"),
           "the joined network namespace's process died")


# ---------------------------------------------------------- runtime-linux.md

BASIC_CMDS = [["fds"], ["readlink", "/dev/fd"], ["readlink", "/dev/stdin"],
              ["readlink", "/dev/stdout"], ["readlink", "/dev/stderr"], ["info"],
              ["readlink", "/dev/ptmx"]]
for _d in ("/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty"):
    BASIC_CMDS += [["stat", _d], ["open-read", _d]]
BASIC = {" ".join(c): i for i, c in enumerate(BASIC_CMDS)}


def basic_probe(env):
    """One plain container: its fds, /dev links, default devices, mounts."""
    def go():
        return env.probe(env.bundle("basic"), *BASIC_CMDS)
    return env.once("basic", go)


@check("runtime-linux.fds", "runtime-linux.md", "File descriptors",
       "By default, only the stdin, stdout and stderr file descriptors are kept open for the "
       "application by the runtime.")
def _(env):
    p = basic_probe(env)
    fds = sorted(e["fd"] for e in p.json(0))
    expect(fds == [0, 1, 2], f"open fds in the container: {p.json(0)}")


@check("runtime-linux.dev-symlinks", "runtime-linux.md", "Dev symbolic links",
       "While creating the container (step 2 in the lifecycle), runtimes MUST create the "
       "following symlinks if the source file exists after processing mounts:")
def _(env):
    p = basic_probe(env)
    want = {1: "/proc/self/fd", 2: "/proc/self/fd/0", 3: "/proc/self/fd/1", 4: "/proc/self/fd/2"}
    names = {1: "/dev/fd", 2: "/dev/stdin", 3: "/dev/stdout", 4: "/dev/stderr"}
    for i, target in want.items():
        got = p.text(i).strip()
        expect(got == target, f"{names[i]} -> {got or '(missing: ' + p.status[i] + ')'}, "
                              f"not {target}")
