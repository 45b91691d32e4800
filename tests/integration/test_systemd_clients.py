"""containerd (SystemdCgroup, through the runc-v2 shim) and Podman
(cgroup_manager = "systemd", through conmon) with systemd as PID 1: each
runs, execs into, stops and removes a container with pyrunc and with runc
1.1.5, and both runtimes must give the same observations: the unit systemd
made, its slice and state, the exec's output, and nothing left afterwards.

Marked systemd: tests/vm/run_v2_lane.py --systemd runs it in a guest whose
PID 1 is systemd; elsewhere it is skipped.
"""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from conftest import needs_systemd

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import containerd_env as ce  # noqa: E402
import podman_env as pe  # noqa: E402

SLICE = "pyrunctest.slice"
RUNC = "/usr/sbin/runc"
TIMEOUT = 120.0  # a ctr/podman call under TCG

pytestmark = needs_systemd()


def unit_props(unit: str) -> dict:
    out = subprocess.run(["systemctl", "show", unit, "--property=LoadState",
                          "--property=ActiveState", "--property=Slice",
                          "--property=Delegate"],
                         capture_output=True, text=True).stdout
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def unit_gone(unit: str) -> bool:
    return ce.poll(lambda: unit_props(unit).get("LoadState") == "not-found", timeout=20)


def runtimes() -> list[str]:
    path, problem = ce.runtime_path()
    if problem:
        pytest.fail(problem, pytrace=False)
    if not os.path.exists(RUNC):
        pytest.fail(f"{RUNC} (Debian's runc) is missing: nothing to compare with")
    return [path, RUNC]


def containerd_scenario(runtime: str) -> dict:
    env = ce.ContainerdEnv(runtime=runtime)
    seen = {}
    try:
        env.start(timeout=120)
        env.import_image(timeout=180)
        cid = "sd-" + os.urandom(3).hex()
        unit = f"ctr-{cid}.scope"
        env.remember(cid)
        r = env.ctr(*env.run_args("-d", "--runc-systemd-cgroup", "--cgroup",
                                  f"{SLICE}:ctr:{cid}"), ce.IMAGE_REF, cid, "sleep", "600",
                    timeout=TIMEOUT)
        assert r.returncode == 0, f"ctr run -d with {runtime}\n{r.describe()}\n" \
                                  f"{env.diagnostics(cid)}"
        seen["unit while running"] = unit_props(unit)
        e = env.ctr(*env.exec_args("e1"), cid, "sh", "-c", "cat /proc/self/cgroup",
                    timeout=TIMEOUT)
        seen["exec"] = (e.returncode, e.stdout.replace(cid, "ID"))
        k = env.ctr("tasks", "kill", "--signal", "SIGKILL", cid, timeout=TIMEOUT)
        seen["kill"] = k.returncode
        seen["stopped"] = bool(ce.poll(lambda: env.tasks().get(cid, (0, ""))[1] == "STOPPED",
                                       timeout=30))
        d = env.ctr("tasks", "delete", cid, timeout=TIMEOUT)
        c = env.ctr("containers", "delete", cid, timeout=TIMEOUT)
        seen["delete"] = (d.returncode, c.returncode)
        seen["unit gone"] = bool(unit_gone(unit))
    finally:
        env.teardown()
    return seen


def podman_scenario(runtime: str) -> dict:
    env = pe.PodmanEnv(runtime=runtime, cgroup_parent=SLICE, cgroup_manager="systemd")
    seen = {}
    name = "sd-" + os.urandom(3).hex()
    try:
        env.start()
        r = env.podman(*env.run_args("-d", "--name", name), pe.IMAGE_REF, "sleep", "600",
                       timeout=TIMEOUT)
        assert r.returncode == 0, f"podman run -d with {runtime}\n{r.describe()}\n" \
                                  f"{env.diagnostics(name)}"
        env.remember(name)
        cid = env.inspect(name, "{{.Id}}")
        unit = f"libpod-{cid}.scope"
        seen["unit while running"] = unit_props(unit)
        e = env.podman("exec", name, "sh", "-c", "cat /proc/self/cgroup", timeout=TIMEOUT)
        seen["exec"] = (e.returncode, e.stdout.replace(cid, "ID"))
        s = env.podman("stop", "-t", "1", name, timeout=TIMEOUT)
        seen["stop"] = s.returncode
        seen["status"] = env.inspect(name, "{{.State.Status}}")
        rm = env.podman("rm", name, timeout=TIMEOUT)
        seen["rm"] = rm.returncode
        seen["unit gone"] = bool(unit_gone(unit))
    finally:
        env.teardown()
    return seen


def report(client: str, ours: dict, runc: dict) -> None:
    """Both runtimes' observations side by side (shown with pytest -s)."""
    print(f"\n{client}: observation | pyrunc | runc")
    for key in ours:
        print(f"  {key} | {ours[key]} | {runc.get(key)}")


def same_but_exec(ours: dict, runc: dict, unit_path: str) -> None:
    """Every observation the same, but the exec's /proc/self/cgroup: pyrunc's
    process is in the unit in every hierarchy (or at the root of its cgroup
    namespace); runc 1.1.5 does not know v1's misc controller and leaves its
    processes in the root misc cgroup on a hybrid host. Where runc's lines are
    in the unit, pyrunc's are the same."""
    assert {k: v for k, v in ours.items() if k != "exec"} == \
        {k: v for k, v in runc.items() if k != "exec"}
    assert ours["exec"][0] == runc["exec"][0] == 0
    lines = ours["exec"][1].splitlines()
    assert lines and all(line.endswith((unit_path, ":/")) for line in lines), lines
    theirs = [line for line in runc["exec"][1].splitlines() if not line.endswith(":misc:/")]
    assert set(theirs) <= set(lines)


def test_containerd_systemd_cgroup_same_as_runc():
    ours, runc = (containerd_scenario(rt) for rt in runtimes())
    report("containerd", ours, runc)
    assert ours["unit while running"] == {"LoadState": "loaded", "ActiveState": "active",
                                          "Slice": SLICE, "Delegate": "yes"}
    assert ours["unit gone"]
    same_but_exec(ours, runc, f"/{SLICE}/ctr-ID.scope")


def test_podman_systemd_cgroup_manager_same_as_runc():
    ours, runc = (podman_scenario(rt) for rt in runtimes())
    report("podman", ours, runc)
    assert ours["unit while running"] == {"LoadState": "loaded", "ActiveState": "active",
                                          "Slice": SLICE, "Delegate": "yes"}
    assert ours["unit gone"] and ours["status"] == "exited"
    same_but_exec(ours, runc, f"/{SLICE}/libpod-ID.scope")
