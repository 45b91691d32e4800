"""--systemd-cgroup rootless (#16): a user's container gets its unit from the
user's own systemd (user@UID.service, over the user's bus), as runc's
rootless systemd driver does; runc 1.1.5 runs the same bundle beside it.

Runs in the systemd lane (tests/vm/run_v2_lane.py --systemd, pure cgroup v2),
where it makes a user of its own in the guest's throwaway /etc; elsewhere it
is skipped (it would add a user to the machine).
"""
import json
import os
import pathlib
import shutil
import subprocess
import tempfile
import uuid

import pytest

from conftest import make_bundle, needs_systemd, wait_for

USER, UID = "pyrunc-rl", 4242
RUNC = "/usr/sbin/runc"
CGROUP2 = pathlib.Path("/sys/fs/cgroup")
RUNTIME = os.environ.get("PYRUNC_TEST_RUNTIME", "/usr/local/bin/pyrunc")
XDG = f"/run/user/{UID}"

pytestmark = [
    *needs_systemd(),
    pytest.mark.skipif(not (CGROUP2 / "cgroup.controllers").exists(),
                       reason="a user's systemd has cgroups on pure cgroup v2 only"),
    pytest.mark.skipif(not os.environ.get("PYRUNC_V2_LANE"),
                       reason="makes a user: runs in the QEMU lane's throwaway guest only"),
]


def as_user(*argv, check=True, timeout=120) -> subprocess.CompletedProcess:
    """argv as the user, with the user's XDG_RUNTIME_DIR, from a scope of the
    user's systemd, as a login session would run it: a process moves into a
    cgroup (the unit's, by systemd; exec's, by the runtime) only from one the
    user owns. (Files, not pipes: a detached container inherits them.)"""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.run(["runuser", "-u", USER, "--", "env", f"XDG_RUNTIME_DIR={XDG}",
                               f"DBUS_SESSION_BUS_ADDRESS=unix:path={XDG}/bus",
                               "systemd-run", "--user", "--scope", "--quiet", *argv],
                              stdin=subprocess.DEVNULL, stdout=out, stderr=err, timeout=timeout)
        out.seek(0)
        err.seek(0)
        proc.stdout, proc.stderr = out.read(), err.read()
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} exited {proc.returncode}: {proc.stderr}")
    return proc


def user_show(unit: str, *props: str) -> dict:
    out = as_user("systemctl", "--user", "show", unit, *(f"--property={p}" for p in props)).stdout
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


@pytest.fixture(scope="module")
def user_manager():
    if subprocess.run(["id", USER], capture_output=True).returncode != 0:
        subprocess.run(["useradd", "-u", str(UID), "-M", "-s", "/bin/sh", USER], check=True)
    subprocess.run(["systemctl", "start", f"user@{UID}.service"], check=True, timeout=120)
    yield
    subprocess.run(["systemctl", "stop", f"user@{UID}.service"], timeout=120)


@pytest.fixture
def rootless_bundle(user_manager):
    """A rootless bundle (`spec --rootless`) the user can read, and its id."""
    work = pathlib.Path(f"/var/tmp/pyrunc-rl-{uuid.uuid4().hex[:8]}")
    make_bundle.build_rootfs(str(work / "rootfs"))
    subprocess.run([RUNTIME, "spec", "--rootless", "-b", str(work)], check=True)
    config = json.loads((work / "config.json").read_text())
    config["root"]["path"] = str(work / "rootfs")
    # (spec ran as root here: the user's own ids are the ones to map)
    config["linux"]["uidMappings"] = [{"containerID": 0, "hostID": UID, "size": 1}]
    config["linux"]["gidMappings"] = [{"containerID": 0, "hostID": UID, "size": 1}]
    config["process"]["terminal"] = False
    config["process"]["args"] = ["/bin/sh", "-c", "exec sleep 600"]
    config["linux"]["resources"] = {"pids": {"limit": 100}, "memory": {"limit": 64 << 20}}
    cid = f"rl{uuid.uuid4().hex[:8]}"
    config["linux"]["cgroupsPath"] = f"pyrunctest.slice:rl:{cid}"
    (work / "config.json").write_text(json.dumps(config))
    for path in [work, *work.rglob("*")]:
        if not path.is_symlink():
            path.chmod(path.stat().st_mode | 0o055)
    yield work, cid
    shutil.rmtree(work, ignore_errors=True)


def scenario(binary: str, bundle: pathlib.Path, cid: str) -> dict:
    unit = f"rl-{cid}.scope"
    root = f"{XDG}/rl-{pathlib.Path(binary).name}"
    seen = {}
    try:
        as_user(binary, "--root", root, "--systemd-cgroup", "run", "-d", "-b", str(bundle), cid)
        state = json.loads(as_user(binary, "--root", root, "state", cid).stdout)
        seen["status"] = state["status"]
        props = user_show(unit, "ActiveState", "ControlGroup", "Delegate", "TasksMax",
                          "MemoryMax")
        seen["unit"] = props
        with open(f"/proc/{state['pid']}/cgroup") as f:
            seen["init cgroup"] = f.read().strip()
        group = CGROUP2 / props["ControlGroup"].lstrip("/")
        seen["files"] = [(group / name).read_text().strip() for name in ("pids.max",
                                                                          "memory.max")]
        out = as_user(binary, "--root", root, "exec", cid, "cat", "/proc/self/cgroup",
                      check=False)
        seen["exec"] = (out.returncode, out.stdout)
    finally:
        d = as_user(binary, "--root", root, "delete", "--force", cid, check=False)
    seen["delete"] = d.returncode
    seen["unit gone"] = bool(wait_for(
        lambda: user_show(unit, "LoadState")["LoadState"] == "not-found", f"{unit} unloaded"))
    return seen


def test_rootless_unit_of_the_users_systemd(rootless_bundle):
    bundle, cid = rootless_bundle
    seen = scenario(RUNTIME, bundle, cid)
    manager = f"/user.slice/user-{UID}.slice/user@{UID}.service"
    group = f"{manager}/pyrunctest.slice/rl-{cid}.scope"
    assert seen == {
        "status": "running",
        "unit": {"ActiveState": "active", "ControlGroup": group, "Delegate": "yes",
                 "TasksMax": "100", "MemoryMax": str(64 << 20)},
        "init cgroup": f"0::{group}",
        "files": ["100", str(64 << 20)],
        "exec": (0, "0::/\n"),  # the root of the container's cgroup namespace
        "delete": 0,
        "unit gone": True,
    }


@pytest.mark.skipif(not os.path.exists(RUNC), reason=f"no {RUNC} to compare with")
def test_rootless_same_as_runc(rootless_bundle):
    bundle, cid = rootless_bundle
    ours = scenario(RUNTIME, bundle, cid)
    theirs = scenario(RUNC, bundle, cid)
    print(f"\nrootless systemd: pyrunc {ours}\n                  runc   {theirs}")
    assert ours == theirs
