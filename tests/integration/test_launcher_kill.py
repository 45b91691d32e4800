"""Init.kill() with one of our own children left in the init's pid namespace
(a hook or exec'd process: CLONE_PARENT makes them ours). The kernel keeps a
pid namespace's dying init in zap_pid_ns_processes until every process of
the namespace is reaped, so waiting for the init alone never returns."""
import subprocess
import sys

from conftest import needs_root

pytestmark = [needs_root()]

# Runs in its own interpreter: it makes itself a child subreaper, so that a
# pid-namespace init becomes its child, as a container's init is pyrunc's.
SCRIPT = r"""
import ctypes, os, signal, subprocess, time
from runtime.launcher import Init

libc = ctypes.CDLL(None, use_errno=True)
PR_SET_CHILD_SUBREAPER, CLONE_NEWPID = 36, 0x20000000
assert libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
outer = subprocess.Popen(["unshare", "--pid", "--fork", "sleep", "1000"])
deadline = time.monotonic() + 10
while True:
    with open(f"/proc/{outer.pid}/task/{outer.pid}/children") as f:
        kids = f.read().split()
    if kids or time.monotonic() > deadline:
        break
    time.sleep(0.01)
ns_init = int(kids[0])
outer.kill()
outer.wait()                      # ns_init is now our child (subreaper)
pidfd = os.pidfd_open(ns_init)
assert libc.setns(pidfd, CLONE_NEWPID) == 0, os.strerror(ctypes.get_errno())
inside = os.fork()                # a child of ours in its pid namespace
if inside == 0:
    time.sleep(1000)
    os._exit(0)
init = Init.__new__(Init)         # the object create holds, minus the spawn
init.pid, init.console_fd, init.seccomp_fd, init._sock = ns_init, None, None, None
signal.alarm(20)                  # the bug: kill() never returns
init.kill()
print("killed", os.path.exists(f"/proc/{ns_init}"), os.path.exists(f"/proc/{inside}"))
"""


def test_kill_reaps_our_children_in_the_init_pid_namespace():
    proc = subprocess.run([sys.executable, "-c", SCRIPT], cwd="/", capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["killed", "False", "False"]
