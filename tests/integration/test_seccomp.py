"""linux.seccomp: actions, argument filters, flags, the notify listener, the
Docker default profile, exec, the compiled-program cache and bad input."""
import fcntl
import json
import os
import select
import socket
import struct
import threading

import pytest

from conftest import IS_PYRUNC, REPO, assert_one_line_error, needs_root, recv_with_fds

# Not in the cgroup-v2 lane: seccomp does not depend on the cgroup version.
pytestmark = [needs_root()]

EXDEV, ENOSYS, EPERM = 18, 38, 1
SIGSYS = 31
MKDIR = ["mkdir", "mkdirat"]  # libc may use either
DOCKER_PROFILE = REPO / "tests" / "fixtures" / "seccomp" / "docker-default.json"


def profile(*rules, default="SCMP_ACT_ALLOW", **extra) -> dict:
    return {"defaultAction": default, "syscalls": list(rules), **extra}


def rule(names, action, **extra) -> dict:
    return {"names": list(names), "action": action, **extra}


def run_call(runtime, bundle, *call, check=True):
    """Run `/ocitest syscall ...` in a container: (exit status, "RESULT ERRNO")."""
    bundle.args("/ocitest", "syscall", *call)
    proc = runtime("run", "-b", bundle.write(), bundle.id, check=False)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc.returncode, proc.stdout.strip()


@pytest.mark.parametrize("nnp", [True, False], ids=["no_new_privs", "privileged-load"])
def test_errno_action_with_chosen_errno(runtime, bundle, nnp):
    """Both load points: after the credentials (no_new_privs) and before the
    capabilities are dropped (without it the kernel wants CAP_SYS_ADMIN)."""
    bundle.config["process"]["noNewPrivileges"] = nnp
    bundle.config["linux"]["seccomp"] = profile(rule(MKDIR, "SCMP_ACT_ERRNO", errnoRet=EXDEV))
    assert run_call(runtime, bundle, "mkdir", "/tmp/x") == (0, f"-1 {EXDEV}")


def test_default_errno_and_allow_list(runtime, bundle):
    bundle.config["linux"]["seccomp"] = profile(
        default="SCMP_ACT_ERRNO", defaultErrnoRet=EXDEV,
        architectures=["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        syscalls=None)
    # Everything the runtime and the program need, but not mkdir.
    allowed = [name for r in json.loads(DOCKER_PROFILE.read_text())["syscalls"]
               if r["action"] == "SCMP_ACT_ALLOW" and not r.get("args") for name in r["names"]]
    bundle.config["linux"]["seccomp"]["syscalls"] = [
        rule([n for n in allowed if n not in MKDIR], "SCMP_ACT_ALLOW")]
    assert run_call(runtime, bundle, "mkdir", "/tmp/x") == (0, f"-1 {EXDEV}")


def test_argument_filters(runtime, bundle):
    """personality: refused unless its argument is the query value; a masked
    test refuses any persona whose low byte is 8."""
    bundle.config["linux"]["seccomp"] = profile(
        rule(["personality"], "SCMP_ACT_ERRNO", errnoRet=EPERM,
             args=[{"index": 0, "value": 0xFFFFFFFF, "op": "SCMP_CMP_NE"},
                   {"index": 0, "value": 0x0, "op": "SCMP_CMP_NE"}]),
    )
    # Two conditions on one argument: runc makes each a rule of its own (an
    # OR), so every value is refused; the query value too.
    assert run_call(runtime, bundle, "personality", "0x8")[1] == f"-1 {EPERM}"
    bundle.config["linux"]["seccomp"] = profile(
        rule(["personality"], "SCMP_ACT_ERRNO", errnoRet=EPERM,
             args=[{"index": 0, "value": 0xFF, "valueTwo": 0x8, "op": "SCMP_CMP_MASKED_EQ"}]))
    assert run_call(runtime, bundle, "personality", "0x8")[1] == f"-1 {EPERM}"
    assert run_call(runtime, bundle, "personality", "0xffffffff")[1].endswith(" 0")
    assert run_call(runtime, bundle, "personality", "0x0")[1] == "0 0"


@pytest.mark.parametrize("action", ["SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS",
                                    "SCMP_ACT_KILL_THREAD", "SCMP_ACT_TRAP"])
def test_actions_that_end_the_process(runtime, bundle, action):
    bundle.config["linux"]["seccomp"] = profile(rule(MKDIR, action))
    status, out = run_call(runtime, bundle, "mkdir", "/tmp/x", check=False)
    assert status == 128 + SIGSYS and out == ""


def test_trace_without_a_tracer_gives_enosys(runtime, bundle):
    bundle.config["linux"]["seccomp"] = profile(rule(MKDIR, "SCMP_ACT_TRACE"))
    assert run_call(runtime, bundle, "mkdir", "/tmp/x") == (0, f"-1 {ENOSYS}")


def test_log_action_allows_the_call(runtime, bundle):
    bundle.private_rootfs()
    bundle.config["root"]["readonly"] = False
    bundle.config["linux"]["seccomp"] = profile(rule(MKDIR, "SCMP_ACT_LOG"))
    assert run_call(runtime, bundle, "mkdir", "/tmp/x") == (0, "0 0")
    assert (bundle.rootfs / "tmp" / "x").is_dir()


RUNC_NO_FLAGS = "runc 1.1.5 refuses any seccomp flags (runc 1.2 takes them)"


@pytest.mark.skipif(not IS_PYRUNC, reason=RUNC_NO_FLAGS)
@pytest.mark.parametrize("flag", ["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
                                  "SECCOMP_FILTER_FLAG_LOG"])
def test_flags(runtime, bundle, flag):
    bundle.config["linux"]["seccomp"] = profile(rule(MKDIR, "SCMP_ACT_ERRNO", errnoRet=EXDEV),
                                                flags=[flag])
    assert run_call(runtime, bundle, "mkdir", "/tmp/x") == (0, f"-1 {EXDEV}")


def test_docker_default_profile_runs_a_shell(runtime, bundle):
    bundle.private_rootfs()
    bundle.config["root"]["readonly"] = False
    bundle.config["linux"]["seccomp"] = json.loads(DOCKER_PROFILE.read_text())
    bundle.args("/bin/sh", "-c", "mkdir /tmp/d && echo made; /ocitest syscall personality 0x1;"
                " /ocitest info")
    proc = runtime("run", "-b", bundle.write(), bundle.id)
    lines = proc.stdout.splitlines()
    assert lines[:2] == ["made", f"-1 {EPERM}"]  # personality: only a few values pass
    assert json.loads("\n".join(lines[2:]))["seccomp"] == 2  # SECCOMP_MODE_FILTER


def test_exec_gets_the_container_filter(runtime, bundle):
    bundle.config["linux"]["seccomp"] = profile(rule(MKDIR, "SCMP_ACT_ERRNO", errnoRet=EXDEV))
    bundle.args("/ocitest", "sleep", "1000")
    runtime("run", "-d", "-b", bundle.write(), bundle.id)
    out = runtime("exec", bundle.id, "/ocitest", "syscall", "mkdir", "/tmp/x").stdout
    assert out.strip() == f"-1 {EXDEV}"


@pytest.mark.skipif(not IS_PYRUNC, reason="pyrunc's compiled-program cache")
def test_second_create_uses_the_cache(runtime, bundle):
    # A name of its own: the runtime root (and its cache) is the session's.
    bundle.config["linux"]["seccomp"] = profile(
        rule([*MKDIR, f"unknown_{bundle.id}"], "SCMP_ACT_ERRNO", errnoRet=EXDEV))
    bundle.args("/ocitest", "exit", "0")
    first = runtime("--debug", "create", "-b", bundle.write(), bundle.id)
    assert "compiled" in first.stderr and "from the cache" not in first.stderr
    runtime("delete", "--force", bundle.id)
    second = runtime("--debug", "create", "-b", bundle.write(), bundle.id)
    assert "from the cache" in second.stderr and "compiled" not in second.stderr
    runtime("delete", "--force", bundle.id)


@pytest.mark.skipif(not IS_PYRUNC, reason="pyrunc's debug log")
def test_unknown_syscall_names_are_skipped(runtime, bundle):
    bundle.config["linux"]["seccomp"] = profile(
        rule(["no_such_syscall", *MKDIR], "SCMP_ACT_ERRNO", errnoRet=EXDEV))
    bundle.args("/ocitest", "syscall", "mkdir", "/tmp/x")
    proc = runtime("--debug", "run", "-b", bundle.write(), bundle.id)
    assert proc.stdout.strip() == f"-1 {EXDEV}"
    assert "unknown syscall 'no_such_syscall' skipped" in proc.stderr


# -- SCMP_ACT_NOTIFY --

# include/uapi/linux/seccomp.h: struct seccomp_notif (80 bytes), struct
# seccomp_notif_resp (24 bytes), _IOWR('!', 0 / 1, ...).
NOTIF = struct.Struct("=QII iIQ6Q")
NOTIF_RESP = struct.Struct("=QqiI")
NOTIF_RECV = 0xC0000000 | NOTIF.size << 16 | ord("!") << 8 | 0
NOTIF_SEND = 0xC0000000 | NOTIF_RESP.size << 16 | ord("!") << 8 | 1


class Listener:
    """A seccomp agent: takes the notify fd and the state on listenerPath and
    answers every notification with -EXDEV."""

    def __init__(self, path):
        self.path = str(path)
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(self.path)
        self.server.listen(1)
        self.messages, self.calls = [], []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        try:
            conn, _ = self.server.accept()
        except OSError:
            return
        with conn:
            data, fds = recv_with_fds(conn, 65536, 4)
            self.messages.append((json.loads(data), fds))
        if len(fds) == 1:
            self._answer(fds[0])

    def _answer(self, fd):
        try:
            poller = select.poll()
            poller.register(fd, select.POLLIN)
            while not self.stop.is_set():
                events = poller.poll(100)
                if any(ev & (select.POLLHUP | select.POLLERR) for _fd, ev in events):
                    return  # no process uses the filter any more
                if not events:
                    continue
                buf = bytearray(NOTIF.size)
                try:
                    fcntl.ioctl(fd, NOTIF_RECV, buf, True)
                except OSError:
                    continue  # the caller went away meanwhile
                notif_id, pid, _f, nr, _arch, _ip, *_args = NOTIF.unpack(buf)
                self.calls.append((pid, nr))
                resp = bytearray(NOTIF_RESP.pack(notif_id, 0, -EXDEV, 0))
                try:
                    fcntl.ioctl(fd, NOTIF_SEND, resp, True)
                except OSError:
                    pass
        finally:
            os.close(fd)

    def close(self):
        self.stop.set()
        try:
            self.server.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.thread.join(10)
        self.server.close()


@pytest.fixture
def listener(tmp_path):
    agent = Listener(tmp_path / "agent.sock")
    yield agent
    agent.close()


def notify_profile(listener, **extra):
    return profile(rule(MKDIR, "SCMP_ACT_NOTIFY"), listenerPath=listener.path,
                   listenerMetadata="agent-metadata", **extra)


def test_notify_hands_the_fd_and_state_to_the_listener(runtime, bundle, listener):
    # WAIT_KILLABLE_RECV only goes with a listener; TSYNC with one needs TSYNC_ESRCH.
    flags = ["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV", "SECCOMP_FILTER_FLAG_TSYNC"]
    bundle.config["linux"]["seccomp"] = notify_profile(listener,
                                                       **({"flags": flags} if IS_PYRUNC else {}))
    bundle.args("/ocitest", "syscall", "mkdir", "/tmp/x")
    runtime("create", "-b", bundle.write(), bundle.id)
    pid = runtime.state(bundle.id)["pid"]
    runtime("start", bundle.id)
    runtime.wait_status(bundle.id, "stopped")
    listener.thread.join(10)
    [(message, fds)] = listener.messages
    assert len(fds) == 1
    assert message["fds"] == ["seccompFd"] and message["metadata"] == "agent-metadata"
    assert message["pid"] == pid and message["ociVersion"]
    assert message["state"]["id"] == bundle.id and message["state"]["status"] == "creating"
    assert message["state"]["bundle"] == bundle.write()
    assert listener.calls and all(call_pid == pid for call_pid, _nr in listener.calls)


def test_notify_answer_reaches_the_program(runtime, bundle, listener):
    bundle.config["linux"]["seccomp"] = notify_profile(listener)
    assert run_call(runtime, bundle, "mkdir", "/tmp/x") == (0, f"-1 {EXDEV}")


# -- bad input --

@pytest.mark.skipif(not IS_PYRUNC, reason="pyrunc's messages")
@pytest.mark.parametrize("seccomp, pointer, text", [
    (profile(rule(MKDIR, "SCMP_ACT_ALLOW", errnoRet=3), default="SCMP_ACT_ERRNO"),
     "/linux/seccomp/syscalls/0/errnoRet", "takes no errno"),
    (profile(default="SCMP_ACT_KILL", defaultErrnoRet=3),
     "/linux/seccomp/defaultErrnoRet", "takes no errno"),
    (profile(rule(MKDIR, "SCMP_ACT_NOTIFY")), "/linux/seccomp/listenerPath", "required"),
    (profile(default="SCMP_ACT_NOTIFY", listenerPath="/x"), "/linux/seccomp/defaultAction",
     "cannot be the default"),
    (profile(flags=["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"]), "/linux/seccomp/flags",
     "needs an SCMP_ACT_NOTIFY"),
    (profile(architectures=["SCMP_ARCH_LOONGARCH64"]), "/linux/seccomp/architectures/0",
     "not supported by this libseccomp"),
    (profile(rule(MKDIR, "SCMP_ACT_NOTIFY"), listenerPath="/nonexistent/agent.sock"),
     "/linux/seccomp/listenerPath", "failed to connect with seccomp agent"),
    (profile(rule(["write"], "SCMP_ACT_NOTIFY"), listenerPath="/nonexistent/agent.sock"),
     "/linux/seccomp/syscalls/0/names", "SCMP_ACT_NOTIFY cannot be used for the write syscall"),
], ids=["errnoRet-on-allow", "defaultErrnoRet-on-kill", "notify-without-listener",
        "notify-default", "killable-recv-without-notify", "arch-unknown-to-libseccomp",
        "listener-missing", "notify-on-write"])
def test_bad_profiles_fail_cleanly(runtime, bundle, inventory, seccomp, pointer, text):
    before = inventory()
    bundle.config["linux"]["seccomp"] = seccomp
    bundle.args("/ocitest", "exit", "0")
    proc = runtime("create", "-b", bundle.write(), bundle.id, check=False)
    assert_one_line_error(proc, pointer, text)
    assert inventory() == before


# Every system call the init itself made after the load before it went last;
# the program (`ocitest exit`, static) makes none of them.
INIT_CALLS = ["close_range", "rt_sigaction", "rt_sigprocmask", "sendmsg", "recvmsg", "sendto",
              "recvfrom", "openat", "open", "close", "write", "prctl", "setuid", "setgid",
              "setgroups", "chdir", "fchdir", "getcwd", "umask"]


@pytest.mark.skipif(not IS_PYRUNC, reason="runc 1.1.5's Go init makes system calls after the "
                                          "load (the exec fifo's open and write, close, futex)")
@pytest.mark.parametrize("nnp", [True, False], ids=["no_new_privs", "privileged-load"])
def test_nothing_but_execve_after_the_load(runtime, bundle, nnp):
    """A profile that kills every call the init could still make: the program
    runs, so the init made none after the load (runtime-tools' default profile
    has no close_range: the init's close_range ended every container). Without
    no_new_privs, capset drops the CAP_SYS_ADMIN the load needed (runc too
    makes it after the load)."""
    bundle.config["process"]["noNewPrivileges"] = nnp
    bundle.config["linux"]["seccomp"] = profile(rule(INIT_CALLS, "SCMP_ACT_KILL_PROCESS"))
    bundle.args("/ocitest", "exit", "7")
    proc = runtime("run", "-b", bundle.write(), bundle.id, check=False)
    assert proc.returncode == 7, proc.stderr
    # ... and the capability sets are the config's, CAP_SYS_ADMIN gone.
    bundle.config["linux"]["seccomp"] = profile()
    bundle.args("/bin/grep", "^Cap[EPI]", "/proc/self/status")
    out = runtime("run", "-b", bundle.write(), bundle.id).stdout
    sys_admin = 1 << 21
    assert all(not int(line.split()[1], 16) & sys_admin for line in out.splitlines()), out


def test_an_old_allow_list_without_close_range(runtime, bundle):
    """runtime-tools' default: an allow list (default ERRNO) older than close_range."""
    allowed = [name for r in json.loads(DOCKER_PROFILE.read_text())["syscalls"]
               if r["action"] == "SCMP_ACT_ALLOW" and not r.get("args") for name in r["names"]]
    bundle.config["linux"]["seccomp"] = profile(
        rule([n for n in allowed if n not in ("close_range", "clone3")], "SCMP_ACT_ALLOW"),
        default="SCMP_ACT_ERRNO")
    bundle.args("/bin/echo", "ran")
    assert runtime("run", "-b", bundle.write(), bundle.id).stdout == "ran\n"


def test_calls_newer_than_the_profile_get_enosys(runtime, bundle):
    """runc's -ENOSYS stub: a call numbered above the highest one the profile
    names (for its architecture) is "not implemented", so libc falls back
    (clone3 -> clone); one below it that the profile leaves out gets the
    default action."""
    allowed = [name for r in json.loads(DOCKER_PROFILE.read_text())["syscalls"]
               if r["action"] == "SCMP_ACT_ALLOW" and not r.get("args") for name in r["names"]]
    bundle.config["linux"]["seccomp"] = profile(
        rule([n for n in allowed if n not in MKDIR], "SCMP_ACT_ALLOW"),
        default="SCMP_ACT_ERRNO", architectures=["SCMP_ARCH_X86_64", "SCMP_ARCH_X86",
                                                 "SCMP_ARCH_X32"])
    assert run_call(runtime, bundle, "nr", "1000")[1] == f"-1 {ENOSYS}"
    assert run_call(runtime, bundle, "mkdir", "/tmp/x")[1] == f"-1 {EPERM}"
    # No stub where the default allows, or without architectures (as runc).
    bundle.config["linux"]["seccomp"]["architectures"] = []
    assert run_call(runtime, bundle, "nr", "1000")[1] == f"-1 {EPERM}"


def test_start_container_hook_runs_under_the_filter(runtime, bundle):
    """As runc, which runs it in the init after the load: a hook that makes a
    killed call fails the start, and the error says why as Go says it."""
    bundle.config["linux"]["seccomp"] = profile(rule(MKDIR, "SCMP_ACT_KILL"))
    bundle.config["hooks"] = {"startContainer": [
        {"path": "/bin/sh", "args": ["sh", "-c", "mkdir /tmp/hook"]}]}
    bundle.args("/bin/true")
    proc = runtime("run", "-b", bundle.write(), bundle.id, check=False)
    assert proc.returncode == 1
    assert "error running hook #0 (startContainer" in proc.stderr
    assert "bad system call" in proc.stderr


# -- the program create compiles while the init sets up (OP_SECCOMP_FD) --

_UNSEALED = """
import os, sys
from runtime.launcher import Init, InitError
from runtime.plan import Op
fill = [os.open("/dev/null", os.O_RDONLY | os.O_CLOEXEC) for _ in range(20)]
memfd = os.memfd_create("program", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
for fd in fill:  # holes below the extra fd
    os.close(fd)
os.write(memfd, bytes(8))
try:
    Init([Op("SECCOMP_FD", (0, Init.fd_numbers(0, 1)[0]))], sys.argv[1], 0, [], [memfd])
except Exception as e:
    print(type(e).__name__, e)
"""


@pytest.mark.skipif(not IS_PYRUNC, reason="pyrunc's init")
def test_the_init_reads_the_program_only_sealed(tmp_path):
    """The parent fills the memfd while the init sets up and seals it before
    it lets the init go on: an unsealed one is a program not finished. The
    compiling thread opens and closes files meanwhile: with holes in the fd
    table below the extra fds, the init still starts (the launcher once
    executed whatever a dup2 had put at the init memfd's low number). In a
    process of its own, so that the holes are the only free fds below."""
    import subprocess
    import sys
    proc = subprocess.run([sys.executable, "-I", "-c", _UNSEALED, str(tmp_path)], cwd=tmp_path,
                          capture_output=True, text=True, timeout=30)
    assert proc.stdout == ("InitError the seccomp program's memfd is not sealed: the parent did "
                           "not finish it: file descriptor in bad state\n"), proc.stdout + proc.stderr


@pytest.mark.skipif(not IS_PYRUNC, reason="pyrunc's --debug log")
def test_create_compiles_beside_the_init(runtime, bundle, tmp_path):
    """A profile never seen: create's init loads it from the memfd
    (SECCOMP_FD), and it is in force; the second create takes it from the
    cache, the same way."""
    profile_ = profile(rule(MKDIR, "SCMP_ACT_ERRNO", errnoRet=EXDEV))
    profile_["syscalls"].append(rule(["getppid"], "SCMP_ACT_ERRNO", errnoRet=int(
        tmp_path.stat().st_ino % 1000 + 1)))  # a program no earlier test compiled
    bundle.config["linux"]["seccomp"] = profile_
    for _ in range(2):
        log = tmp_path / "debug.log"
        bundle.args("/ocitest", "syscall", "mkdir", "/tmp/x")
        proc = runtime("--debug", "--log", str(log), "run", "-b", bundle.write(), bundle.id,
                       check=False)
        assert (proc.returncode, proc.stdout.split()[-2:]) == (0, ["-1", str(EXDEV)]), proc.stderr
        assert "to the init in a sealed memfd (SECCOMP_FD)" in log.read_text()
        log.unlink()
