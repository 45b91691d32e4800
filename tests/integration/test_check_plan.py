"""`pyrunc check` and `pyrunc plan` (issue #17): a corpus of broken bundles,
one per class of problem, built here (no stored images), each with the
findings and exit status it must give; clean bundles that must give no
error; the host unchanged by either command; and the --debug trace of a
real run matching the plan step for step."""
import json
import os
import pathlib
import shutil
import struct
import subprocess

import pytest

from conftest import IS_PYRUNC, REPO, needs_root

pytestmark = [needs_root(),
              pytest.mark.skipif(not IS_PYRUNC, reason="pyrunc's own commands")]


def check(runtime, bundle_dir):
    """The findings of `check --format json`, and the exit status."""
    proc = runtime("check", "--bundle", str(bundle_dir), "--format", "json", check=False)
    assert "Traceback" not in proc.stderr, proc.stderr
    findings = json.loads(proc.stdout)
    for f in findings:
        assert set(f) >= {"severity", "pointer", "message", "hint"}, f
    return findings, proc.returncode


def errors(findings):
    return {(f["pointer"], f["message"]) for f in findings if f["severity"] == "error"}


def found(findings, severity, pointer, *words):
    """The one finding of that severity at pointer whose message has every word."""
    hits = [f for f in findings if f["severity"] == severity and f["pointer"] == pointer
            and all(w in f["message"] for w in words)]
    assert hits, f"no {severity} at {pointer} with {words}: {json.dumps(findings, indent=1)}"
    return hits[0]


def broken(bundle, change):
    change(bundle.config)
    return bundle.write()


# -- the config on its own --

def test_every_schema_error_at_once(runtime, bundle):
    def change(c):
        c["process"]["cwd"] = 5
        c["root"]["readonly"] = "yes"
        c["linux"]["namespaces"][0]["type"] = "bogus"
    findings, status = check(runtime, broken(bundle, change))
    assert status == 1
    found(findings, "error", "/process/cwd", "expected string")
    found(findings, "error", "/root/readonly", "expected boolean")
    found(findings, "error", "/linux/namespaces/0/type", '"bogus" is not one of')
    assert all(f["hint"] for f in findings if f["severity"] == "error")


@pytest.mark.parametrize("change, pointer, words", [
    (lambda c: (c.update(hostname="web"),
                c["linux"].update(namespaces=[n for n in c["linux"]["namespaces"]
                                              if n["type"] != "uts"])),
     "/hostname", ("needs a uts namespace",)),
    (lambda c: (c["linux"].update(sysctl={"net.ipv4.ip_forward": "1"}),
                c["linux"].update(namespaces=[n for n in c["linux"]["namespaces"]
                                              if n["type"] != "network"])),
     "/linux/sysctl/net.ipv4.ip_forward", ("needs a network namespace",)),
    (lambda c: c["linux"].update(sysctl={"vm.swappiness": "1"}),
     "/linux/sysctl/vm.swappiness", ("not a namespaced sysctl",)),
    (lambda c: c["mounts"].append({"destination": "/a/../../etc", "type": "tmpfs",
                                   "source": "tmpfs"}),
     "/mounts/-1/destination", ("climbs above the root",)),
    (lambda c: c["linux"]["namespaces"].append({"type": "pid"}),
     "/linux/namespaces/-1", ("listed twice",)),
    (lambda c: c["process"]["capabilities"]["bounding"].append("CAP_BOGUS"),
     "/process/capabilities/bounding/-1", ("unknown capability",)),
])
def test_semantic_conflicts(runtime, bundle, change, pointer, words):
    change(bundle.config)
    path = bundle.write()
    if "/-1" in pointer:  # the last element
        base = pointer.split("/-1")[0]
        node = bundle.config
        for part in base.strip("/").split("/"):
            node = node[part]
        pointer = pointer.replace("/-1", f"/{len(node) - 1}")
    findings, status = check(runtime, path)
    assert status == 1
    assert found(findings, "error", pointer, *words)["hint"]


def test_semantic_conflicts_are_all_reported(runtime, bundle):
    """Not only the first: create stops there, check goes on."""
    def change(c):
        c["hostname"] = "web"
        c["linux"]["namespaces"] = [n for n in c["linux"]["namespaces"] if n["type"] != "uts"]
        c["linux"]["sysctl"] = {"vm.swappiness": "1", "kernel.shmmax": "1"}
        c["process"]["rlimits"] = [{"type": "RLIMIT_BOGUS", "soft": 1, "hard": 1}]
    findings, status = check(runtime, broken(bundle, change))
    assert status == 1
    assert {p for p, _m in errors(findings)} >= {
        "/hostname", "/linux/sysctl/vm.swappiness", "/process/rlimits/0/type"}


def test_unreadable_config(runtime, tmp_path):
    (tmp_path / "config.json").write_text('{"ociVersion": "1.0.2",\n "process": }')
    findings, status = check(runtime, tmp_path)
    assert status == 1
    assert found(findings, "error", "", "invalid JSON at line 2")["hint"]
    findings, status = check(runtime, tmp_path / "nowhere")
    assert status == 1 and "config.json: no such file" in findings[0]["message"]


# -- what the host cannot give --

@pytest.mark.skipif(os.path.exists("/sys/fs/cgroup/blkio/blkio.weight")
                    or not os.path.isdir("/sys/fs/cgroup/blkio"),
                    reason="needs a v1 blkio hierarchy without blkio.weight (no BFQ/CFQ), "
                           "as on this project's CI host")
def test_cgroup_file_the_host_lacks(runtime, bundle):
    findings, status = check(runtime, broken(
        bundle, lambda c: c["linux"]["resources"].update(blockIO={"weight": 100})))
    assert status == 1
    found(findings, "error", "/linux/resources/blockIO/weight", "blkio.weight does not exist")


def test_seccomp_unknown_syscall_is_a_warning(runtime, bundle):
    profile = {"defaultAction": "SCMP_ACT_ALLOW",
               "syscalls": [{"names": ["getpid", "no_such_syscall"], "action": "SCMP_ACT_ERRNO"}]}
    findings, status = check(runtime, broken(
        bundle, lambda c: c["linux"].update(seccomp=profile)))
    assert status == 0
    found(findings, "warning", "/linux/seccomp/syscalls/0/names/1", "no_such_syscall")


@pytest.mark.skipif(os.path.exists("/sys/module/apparmor/parameters/enabled")
                    and open("/sys/module/apparmor/parameters/enabled").read().strip() == "Y",
                    reason="AppArmor is enabled on this host: the profile could load")
def test_lsm_not_enabled(runtime, bundle):
    findings, status = check(runtime, broken(
        bundle, lambda c: c["process"].update(apparmorProfile="docker-default")))
    assert status == 1
    found(findings, "error", "/process/apparmorProfile", "AppArmor is not enabled")


def _bounding_lacks(cap_number: int) -> bool:
    with open("/proc/self/status") as f:
        bnd = next(int(line.split()[1], 16) for line in f if line.startswith("CapBnd:"))
    return not bnd >> cap_number & 1


@pytest.mark.skipif(not _bounding_lacks(24), reason="this host's bounding set holds "
                    "CAP_SYS_RESOURCE: every capability can be granted")
def test_capability_beyond_the_bounding_set(runtime, bundle):
    findings, status = check(runtime, broken(
        bundle, lambda c: c["process"]["capabilities"]["bounding"].append("CAP_SYS_RESOURCE")))
    assert status == 0  # the spec: a warning, and create leaves it out
    found(findings, "warning", "/process/capabilities", "CAP_SYS_RESOURCE cannot be granted")


def test_rlimit_above_what_the_kernel_allows(runtime, bundle):
    nr_open = int(open("/proc/sys/fs/nr_open").read())
    findings, status = check(runtime, broken(bundle, lambda c: c["process"].update(
        rlimits=[{"type": "RLIMIT_NOFILE", "soft": 1024, "hard": nr_open + 1}])))
    assert status == 1
    assert found(findings, "error", "/process/rlimits/0/hard", "fs.nr_open")["hint"]


@pytest.mark.skipif(not _bounding_lacks(24), reason="this host's bounding set holds "
                    "CAP_SYS_RESOURCE: any oom_score_adj can be set")
def test_oom_score_adj_below_ours_without_cap_sys_resource(runtime, bundle, inventory):
    """As a Kubernetes pod sandbox asks (-998): check says why, and create's
    error carries the same hint."""
    path = broken(bundle, lambda c: c["process"].update(oomScoreAdj=-998))
    findings, status = check(runtime, path)
    assert status == 1
    assert "restrict_oom_score_adj" in found(findings, "error", "/process/oomScoreAdj",
                                             "needs CAP_SYS_RESOURCE")["hint"]
    before = inventory()
    proc = runtime("create", "--bundle", path, bundle.id, check=False)
    assert proc.returncode == 1 and proc.stderr.count("\n") == 1
    assert ("write /proc/self/oom_score_adj: permission denied — lowering oom_score_adj"
            in proc.stderr), proc.stderr
    assert inventory() == before


def test_device_the_host_lacks_in_a_user_namespace(runtime, bundle, reachable):
    def change(c):
        c["linux"]["namespaces"].append({"type": "user"})
        c["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
        c["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
        c["linux"]["devices"] = [{"path": "/dev/pyrunc-no-such-device", "type": "c",
                                  "major": 1, "minor": 3}]
    shutil.copytree(bundle.rootfs, reachable / "rootfs", symlinks=True)
    bundle.config["root"]["path"] = str(reachable / "rootfs")
    findings, status = check(runtime, broken(bundle, change))
    assert status == 1
    found(findings, "error", "/linux/devices", "/dev/pyrunc-no-such-device", "no such device")


def test_id_mapped_mount_on_a_filesystem_that_refuses_it(runtime, bundle):
    findings, status = check(runtime, broken(bundle, lambda c: c["mounts"].append(
        {"destination": "/p", "type": "bind", "source": "/proc", "options": ["rbind", "idmap"],
         "uidMappings": [{"containerID": 0, "hostID": 100000, "size": 1}],
         "gidMappings": [{"containerID": 0, "hostID": 100000, "size": 1}]})))
    assert status == 1
    found(findings, "error", f"/mounts/{len(bundle.config['mounts']) - 1}", "proc",
          "refuses id-mapped mounts")


# -- the rootfs --

def test_rootfs_missing(runtime, bundle):
    findings, status = check(runtime, broken(
        bundle, lambda c: c["root"].update(path=str(bundle.path / "nowhere"))))
    assert status == 1
    assert found(findings, "error", "/root/path", "no such directory")["hint"]


@pytest.mark.parametrize("args0, words", [
    ("nosuchprog", ("not found in the container's PATH",)),
    ("/bin/nosuchprog", ("no such file in the rootfs",)),
])
def test_program_missing(runtime, bundle, args0, words):
    findings, status = check(runtime, bundle.args(args0).write())
    assert status == 1
    found(findings, "error", "/process/args/0", *words)


def program(bundle, name: str, content: str, mode: int):
    """The bundle, with a private rootfs holding /name, running it."""
    rootfs = bundle.private_rootfs()
    (rootfs / name).write_text(content)
    (rootfs / name).chmod(mode)
    return bundle.args("/" + name).write()


def test_program_not_executable(runtime, bundle):
    findings, status = check(runtime, program(bundle, "prog", "#!/bin/sh\n", 0o644))
    assert status == 1
    assert found(findings, "error", "/process/args/0", "not executable")["path"] == "/prog"


def test_program_for_another_architecture(runtime, bundle):
    rootfs = bundle.private_rootfs()
    other = 183 if os.uname().machine != "aarch64" else 62
    header = bytearray(64)
    header[:6] = b"\x7fELF\x02\x01"
    struct.pack_into("<HHI", header, 16, 2, other, 1)  # ET_EXEC, e_machine, version
    (rootfs / "foreign").write_bytes(bytes(header))
    (rootfs / "foreign").chmod(0o755)
    findings, status = check(runtime, bundle.args("/foreign").write())
    assert status == 1
    found(findings, "error", "/process/args/0", "program; this host runs")


def test_dynamic_program_without_its_loader_or_libraries(runtime, bundle):
    rootfs = bundle.private_rootfs()
    shutil.copy("/bin/ls", rootfs / "ls")
    findings, status = check(runtime, bundle.args("/ls").write())
    assert status == 1
    found(findings, "error", "/process/args/0", "needs the loader /lib64/ld-linux-x86-64.so.2"
          if os.uname().machine == "x86_64" else "needs the loader")
    # With the loader, each missing library is named.
    loader = os.path.realpath(elf_interp("/bin/ls"))
    dest = rootfs / elf_interp("/bin/ls").lstrip("/")
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(loader, dest)
    findings, status = check(runtime, bundle.write())
    assert status == 1
    found(findings, "error", "/process/args/0", "needs libc.so.6")
    # With every library ldd names, where the host has it: no error, and it runs.
    for line in subprocess.run(["ldd", "/bin/ls"], capture_output=True, text=True,
                               check=True).stdout.splitlines():
        if "=> /" in line:
            lib = line.split("=>")[1].split()[0]
            (rootfs / lib.lstrip("/")).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(lib, rootfs / lib.lstrip("/"))
    findings, status = check(runtime, bundle.write())
    assert status == 0 and not errors(findings), findings
    assert runtime("run", "--bundle", bundle.write(), bundle.id).returncode == 0


def elf_interp(path: str) -> str:
    out = subprocess.run(["readelf", "-l", path], capture_output=True, text=True).stdout \
        if shutil.which("readelf") else ""
    for line in out.splitlines():
        if "interpreter:" in line:
            return line.split("interpreter:")[1].strip(" ]")
    return "/lib64/ld-linux-x86-64.so.2"


def test_script_whose_interpreter_is_missing(runtime, bundle):
    findings, status = check(runtime, program(bundle, "run.sh", "#!/bin/bash\necho hi\n", 0o755))
    assert status == 1
    found(findings, "error", "/process/args/0", "script for /bin/bash")


def test_user_and_groups_absent_from_the_image(runtime, bundle):
    findings, status = check(runtime, broken(bundle, lambda c: c["process"].update(
        user={"uid": 4321, "gid": 4322, "additionalGids": [4323]})))
    assert status == 0
    found(findings, "warning", "/process/user/uid", "uid 4321 has no entry")
    found(findings, "warning", "/process/user/gid", "gid 4322")
    found(findings, "warning", "/process/user/additionalGids/0", "gid 4323")


def test_cwd_and_mount_sources(runtime, bundle):
    def change(c):
        c["process"]["cwd"] = "/etc/passwd"
        c["mounts"].append({"destination": "/data", "type": "bind",
                            "source": str(bundle.path / "no-such-source"), "options": ["rbind"]})
    findings, status = check(runtime, broken(bundle, change))
    assert status == 1
    found(findings, "error", "/process/cwd", "not a directory")
    found(findings, "error", f"/mounts/{len(bundle.config['mounts']) - 1}/source",
          "no such file or directory")


def test_mount_destinations_through_symlinks(runtime, bundle):
    rootfs = bundle.private_rootfs()
    (rootfs / "etclink").symlink_to("/etc")
    (rootfs / "proclink").symlink_to("tmp")
    bundle.config["mounts"] += [{"destination": "/etclink/x", "type": "tmpfs", "source": "tmpfs"},
                                {"destination": "/proclink", "type": "proc", "source": "proc"}]
    findings, status = check(runtime, bundle.write())
    assert status == 1
    n = len(bundle.config["mounts"])
    found(findings, "warning", f"/mounts/{n - 2}/destination", "/etclink is a symlink")
    found(findings, "error", f"/mounts/{n - 1}/destination", "proc must be mounted on a real")


# -- risky settings: warnings only --

def test_risky_settings_are_warnings(runtime, bundle):
    def change(c):
        c["process"]["capabilities"]["bounding"].append("CAP_SYS_ADMIN")
        c["process"]["noNewPrivileges"] = False
        c["linux"].pop("seccomp", None)
        c["linux"]["namespaces"] = [n for n in c["linux"]["namespaces"] if n["type"] != "pid"]
        c["linux"]["readonlyPaths"] = []
        c["linux"]["resources"]["devices"] = [{"allow": True, "access": "rwm"}]
        for m in c["mounts"]:
            if m["type"] == "sysfs":
                m["options"] = [o for o in m["options"] if o != "ro"]
    findings, status = check(runtime, broken(bundle, change))
    assert status == 0, findings
    found(findings, "warning", "/process/capabilities/bounding", "CAP_SYS_ADMIN")
    found(findings, "warning", "/process/noNewPrivileges", "setuid")
    found(findings, "warning", "/linux/seccomp", "no seccomp profile")
    found(findings, "warning", "/linux/namespaces", "no pid namespace")
    found(findings, "warning", "/linux/readonlyPaths", "/proc/sys is writable")
    found(findings, "warning", "/linux/resources/devices/0", "every device")
    assert any(f["message"].startswith("sysfs at /sys is writable") for f in findings)


# -- clean bundles --

def test_clean_bundles_have_no_errors(runtime, tmp_path, rootfs):
    demo = tmp_path / "demo"
    subprocess.run([os.environ.get("PYRUNC_PYTHON", "/opt/pyrunc/venv/bin/python3"),
                    str(REPO / "scripts" / "make_bundle.py"), str(demo)], check=True,
                   capture_output=True)
    bundles = [demo]
    for flags in ((), ("--rootless",)):
        b = tmp_path / ("spec" + "".join(flags))
        b.mkdir()
        (b / "rootfs").symlink_to(rootfs)
        runtime("spec", "--bundle", str(b), *flags)
        bundles.append(b)
    for b in bundles:
        findings, status = check(runtime, b)
        assert status == 0 and not errors(findings), (b, findings)
    text = runtime("check", "--bundle", str(demo)).stdout
    assert "0 error(s)" in text and "looks runnable" in text


def test_text_output_groups_errors_first(runtime, bundle):
    def change(c):
        c["hostname"] = "web"
        c["linux"]["namespaces"] = [n for n in c["linux"]["namespaces"] if n["type"] != "uts"]
    proc = runtime("check", "--bundle", broken(bundle, change), check=False)
    assert proc.returncode == 1
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("ERRORS (")
    assert lines.index(next(l for l in lines if l.startswith("WARNINGS"))) > 1
    assert "config.json: /hostname: setting the hostname needs a uts namespace" in proc.stdout
    assert "fix: " in proc.stdout
    assert lines[-1].endswith("would not run")


# -- nothing left behind --

def test_check_and_plan_leave_the_host_as_it_was(runtime, bundle, inventory):
    bundle.config["linux"]["resources"]["memory"] = {"limit": 64 << 20}
    path = bundle.write()
    before = inventory()
    cgroups_before = sorted(pathlib.Path("/sys/fs/cgroup").glob("*/*"))
    for args in (("check", "--bundle", path), ("plan", "--bundle", path, bundle.id),
                 ("plan", "--bundle", path, "--format", "json")):
        runtime(*args)
    assert inventory() == before
    assert sorted(pathlib.Path("/sys/fs/cgroup").glob("*/*")) == cgroups_before
    assert not any(pathlib.Path(runtime.root).glob("seccomp-*"))


# -- plan, and the init's trace of the same steps --

def test_plan_words_and_json(runtime, bundle):
    bundle.config["linux"]["resources"]["pids"] = {"limit": 50}
    bundle.config["hooks"] = {"prestart": [{"path": "/bin/true"}]}
    path = bundle.write()
    text = runtime("plan", "--bundle", path, bundle.id).stdout
    assert "CLONE" in text and "pivot_root into the rootfs" in text
    assert "pids.max" in text and "(/linux/resources/pids/limit)" in text
    assert "prestart: /bin/true" in text
    plan = json.loads(runtime("plan", "--bundle", path, "--format", "json", bundle.id).stdout)
    assert [s["step"] for s in plan["steps"]] == list(range(1, len(plan["steps"]) + 1))
    assert plan["steps"][-1]["op"] == "EXEC"
    assert any(s["op"] == "HOOKS" for s in plan["steps"])
    assert plan["hooks"][0]["kind"] == "prestart"


@pytest.mark.skipif(os.path.isdir("/run/systemd/system"),
                    reason="systemd runs here: test_systemd.py checks plan with the driver")
def test_systemd_driver_where_systemd_does_not_run(runtime, bundle):
    path = bundle.write()
    proc = runtime("--systemd-cgroup", "plan", "--bundle", path, check=False)
    assert proc.returncode == 1 and proc.stderr.count("\n") == 1
    assert "--systemd-cgroup: systemd is not running on this host" in proc.stderr
    proc = runtime("--systemd-cgroup", "check", "--bundle", path, "--format", "json",
                   check=False)
    assert proc.returncode == 1
    assert any("systemd is not running" in f["message"] for f in json.loads(proc.stdout))


def test_plan_says_rootless_cgroups_may_be_left_out(runtime, bundle):
    path = bundle.write()
    assert "rootless: create leaves out" in runtime("--rootless", "true", "plan", "--bundle",
                                                    path).stdout
    assert "rootless: create" not in runtime("--rootless", "false", "plan", "--bundle",
                                             path).stdout


def test_plan_refuses_a_bad_config_in_one_line(runtime, bundle):
    bundle.config["process"]["cwd"] = 5
    proc = runtime("plan", "--bundle", bundle.write(), check=False)
    assert proc.returncode == 1
    assert proc.stderr.count("\n") == 1 and "/process/cwd" in proc.stderr


def _trace(log_path) -> dict[int, str]:
    """init step N -> its op, from a --debug --log-format json log."""
    steps = {}
    for line in open(log_path):
        msg = json.loads(line)["msg"]
        if msg.startswith("init step ") and " failed: " not in msg:
            number, rest = msg[len("init step "):].split(": ", 1)
            steps[int(number)] = rest.split()[0]
    return steps


def test_trace_matches_the_plan(runtime, bundle, tmp_path):
    path = bundle.write()
    plan = json.loads(runtime("plan", "--bundle", path, "--format", "json", bundle.id).stdout)
    log = tmp_path / "log.json"
    runtime("--debug", "--log", str(log), "--log-format", "json", "run", "--bundle", path,
            bundle.id)
    traced = _trace(log)
    # The trace stops where the init stops reporting (READY): every step up to it.
    assert traced and list(traced) == list(range(1, len(traced) + 1))
    assert {n: plan["steps"][n - 1]["op"] for n in traced} == traced
    assert plan["steps"][len(traced)]["op"] == "READY"


def test_failing_mount_names_the_mount_and_its_step(runtime, bundle, tmp_path, inventory):
    bundle.config["mounts"].append({"destination": "/x", "type": "pyrunc-nofs", "source": "none"})
    path = bundle.write()
    plan = json.loads(runtime("plan", "--bundle", path, "--format", "json", bundle.id).stdout)
    step = next(s["step"] for s in plan["steps"] if s["op"] == "MOUNT" and "/x" in s["args"])
    before = inventory()
    log = tmp_path / "log.json"
    proc = runtime("--debug", "--log", str(log), "--log-format", "json", "create", "--bundle",
                   path, bundle.id, check=False)
    assert proc.returncode == 1
    last = [json.loads(line) for line in open(log)][-1]
    assert last["level"] == "error"
    assert last["msg"] == ("mount none on /x: no such device — this kernel does not know the "
                           "filesystem type (see /proc/filesystems)")
    assert any(json.loads(line)["msg"].startswith(f"init step {step} failed: MOUNT ")
               for line in open(log))
    assert inventory() == before
