"""NOTIFY_SOCKET (sd_notify) passthrough, as runc does it: the container's
READY=1 reaches the caller's socket with MAINPID, and start waits for it."""
import os
import socket
import subprocess


from conftest import needs_root

# Not in the cgroup-v2 lane: nothing here depends on the cgroup version (exec's
# cgroup join, which hooks and terminals share, is tested there by test_exec.py),
# and the lane's guest time is near its limit.
pytestmark = [needs_root()]


def test_ready_is_forwarded_with_mainpid(runtime, bundle, tmp_path):
    host = tmp_path / "notify.sock"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(str(host))
    listener.settimeout(30)
    env = {**os.environ, "NOTIFY_SOCKET": str(host)}
    bundle.args("/bin/sh", "-c", 'echo "$NOTIFY_SOCKET" > /dev/stderr; /ocitest notify "STATUS=starting"; '
                "sleep 1; /ocitest notify READY=1; exec /ocitest sleep 1000")
    try:
        runtime("create", "-b", bundle.write(), bundle.id, env=env)
        pid = runtime.state(bundle.id)["pid"]
        start = subprocess.Popen([runtime.binary, "--root", runtime.root, "start", bundle.id],
                                 env=env, stderr=subprocess.PIPE, text=True)
        try:
            # start blocks until READY=1 (the program sleeps a second first)
            assert start.wait(timeout=30) == 0, start.stderr.read()
        finally:
            if start.poll() is None:
                start.kill()
                start.wait()
        lines = []  # pyrunc sends one datagram, runc 1.1.5 two
        while not any(line.startswith("MAINPID=") for line in lines):
            lines += listener.recv(4096).decode().splitlines()
        assert lines == ["READY=1", f"MAINPID={pid}"]
        assert runtime.state(bundle.id)["status"] == "running"
    finally:
        listener.close()


def test_without_notify_socket_nothing_is_mounted(runtime, bundle):
    bundle.args("/bin/sh", "-c", 'echo "[$NOTIFY_SOCKET]"; grep -q " /run/notify " /proc/self/mountinfo && echo mounted || echo absent')
    env = {k: v for k, v in os.environ.items() if k != "NOTIFY_SOCKET"}
    out = runtime("run", "-b", bundle.write(), bundle.id, env=env).stdout.splitlines()
    assert out[0] == "[]"
    assert out[1] == "absent"
