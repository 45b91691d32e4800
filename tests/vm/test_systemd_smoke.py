"""Smoke test of the systemd lane: systemd is PID 1 and makes transient units.

Runs where systemd is the init (tests/vm/run_v2_lane.py --systemd boots such a
guest under QEMU, on pure cgroup v2); elsewhere, as on the CI host where
systemd is installed but not running, it is skipped.
"""
import os
import pathlib
import secrets
import subprocess

import pytest

from conftest import needs_systemd, wait_for

CGROUP2 = pathlib.Path("/sys/fs/cgroup")

pytestmark = needs_systemd()

MEMORY_MAX = 64 * 1024 * 1024
V2 = (CGROUP2 / "cgroup.controllers").exists()
v2_only = pytest.mark.skipif(not V2, reason="systemd's hybrid layout (--systemd --hybrid): "
                                            "no cgroup2 at /sys/fs/cgroup, no memory.max")


def show(unit: str, prop: str) -> str:
    return subprocess.run(["systemctl", "show", "--value", "-p", prop, unit],
                          capture_output=True, text=True, check=True, timeout=60).stdout.strip()


def test_systemd_is_pid1():
    assert pathlib.Path("/proc/1/comm").read_text().strip() == "systemd"
    assert os.path.realpath("/proc/1/exe").endswith("/systemd")


@v2_only
def test_cgroup2_with_controllers():
    mounts = [line.split() for line in pathlib.Path("/proc/self/mountinfo").read_text().splitlines()]
    fstypes = [fields[fields.index("-") + 1] for fields in mounts if fields[4] == str(CGROUP2)]
    assert fstypes[-1:] == ["cgroup2"], f"{CGROUP2} is {fstypes}"
    controllers = (CGROUP2 / "cgroup.controllers").read_text().split()
    assert {"cpu", "memory", "pids"} <= set(controllers), controllers


def test_transient_scope_with_delegate_and_memory_max():
    unit = f"pyrunc-smoke-{secrets.token_hex(4)}.scope"
    proc = subprocess.run(["systemd-run", "--scope", f"--unit={unit}", "-p", "Delegate=yes",
                           "-p", f"MemoryMax={MEMORY_MAX // (1024 * 1024)}M", "/bin/true"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr


@v2_only
def test_running_scope_reports_memory_max():
    unit = f"pyrunc-smoke-{secrets.token_hex(4)}.scope"
    # The scope lives as long as its process: sleep, in it, until killed.
    sleeper = subprocess.Popen(["systemd-run", "--scope", f"--unit={unit}", "-p", "Delegate=yes",
                                "-p", f"MemoryMax={MEMORY_MAX // (1024 * 1024)}M", "sleep", "600"],
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        def active():
            assert sleeper.poll() is None, f"systemd-run exited {sleeper.returncode}: {sleeper.stderr.read()}"
            return show(unit, "ActiveState") == "active"

        wait_for(active, f"{unit} to be active", timeout=60.0, interval=0.2)
        assert show(unit, "MemoryMax") == str(MEMORY_MAX)
        assert show(unit, "Delegate") == "yes"
        # systemd wrote it into the scope's cgroup, and the process is in there
        # (systemd-run --scope execs the command in its own pid).
        group = show(unit, "ControlGroup")
        assert group.endswith(f"/{unit}"), group
        assert (CGROUP2 / group.lstrip("/") / "memory.max").read_text().strip() == str(MEMORY_MAX)
        with open(f"/proc/{sleeper.pid}/cgroup") as f:
            assert f.read().splitlines() == [f"0::{group}"]
    finally:
        sleeper.kill()
        sleeper.wait(30)
    wait_for(lambda: show(unit, "ActiveState") in ("inactive", "failed", ""),
             f"{unit} to go away", timeout=60.0, interval=0.2)
