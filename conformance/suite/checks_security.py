"""config-linux.md § Seccomp and § The Container Process State (the seccomp
notify listener).

Not observable, so not checked: "The container runtime MAY use several
sendmsg(2) calls" (MAY); SECCOMP_FILTER_FLAG_TSYNC, _LOG and
_WAIT_KILLABLE_RECV leave no trace the container can read.
"""
from __future__ import annotations

import array
import errno
import json
import os
import socket
import threading

from .core import Fail, HostSkip, check, expect
from .env import PROBE
from .host import read

CFG = "config-linux.md"
EPERM, ENOSYS, EOPNOTSUPP = errno.EPERM, errno.ENOSYS, errno.EOPNOTSUPP
SIGSYS = 31


def seccomp_basic(env):
    """ALLOW by default; mkdir gets the default errno; personality(0x1234)
    gets EOPNOTSUPP (an argument rule); personality(0x4242) kills."""
    def go():
        b = env.bundle("seccomp")
        b.linux["seccomp"] = {
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
            "syscalls": [
                {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"},
                {"names": ["personality"], "action": "SCMP_ACT_ERRNO", "errnoRet": EOPNOTSUPP,
                 "args": [{"index": 0, "value": 0x1234, "op": "SCMP_CMP_EQ"}]},
                {"names": ["personality"], "action": "SCMP_ACT_KILL_PROCESS",
                 "args": [{"index": 0, "value": 0x4242, "op": "SCMP_CMP_EQ"}]},
            ],
        }
        return env.probe(b, ["info"], ["syscall", "mkdir", "/tmp/cf-dir"],
                         ["syscall", "personality", "0x1234"],
                         ["syscall", "personality", "0xffffffff"],
                         ["syscall", "personality", "0x4242"], ["cat", "/proc/self/status"])
    return env.once("seccomp", go)


def result(p, i):
    parts = p.text(i).split()
    if len(parts) != 2:
        raise Fail(f"the syscall probe printed {p.text(i)!r} ({p.status[i]})")
    return int(parts[0]), int(parts[1])


@check("linux.seccomp.filter", CFG, "Seccomp",
       "Seccomp configuration allows one to configure actions to take for matched syscalls and "
       "furthermore also allows matching on values passed as arguments to syscalls.")
def _(env):
    p = seccomp_basic(env)
    expect(p.json(0)["seccomp"] == 2, f"Seccomp mode {p.json(0)['seccomp']}, not 2 (filter)")
    expect(result(p, 3) == (0, 0), f"personality(0xffffffff) (no rule matches) gave "
                                   f"{result(p, 3)}")


@check("linux.seccomp.errno-default", CFG, "Seccomp",
       "The default is EPERM.", note="errnoRet: SCMP_ACT_ERRNO without errnoRet returns EPERM")
def _(env):
    got = result(seccomp_basic(env), 1)
    expect(got == (-1, EPERM), f"mkdir under SCMP_ACT_ERRNO returned {got}, not (-1, EPERM)")


@check("linux.seccomp.errnoRet", CFG, "Seccomp",
       "errnoRet (uint, OPTIONAL) - the errno return code to use.")
def _(env):
    got = result(seccomp_basic(env), 2)
    expect(got == (-1, EOPNOTSUPP), f"personality(0x1234) returned {got}, not "
                                    f"(-1, {EOPNOTSUPP}) (errnoRet with an args rule)")


@check("linux.seccomp.args", CFG, "Seccomp",
       "op (string, REQUIRED) - the operator for syscall arguments in seccomp.")
def _(env):
    p = seccomp_basic(env)
    expect(result(p, 2)[0] == -1, "personality(0x1234) (SCMP_CMP_EQ 0x1234) was not filtered")
    expect(result(p, 3) == (0, 0), f"personality(0xffffffff) was filtered: {result(p, 3)}")


@check("linux.seccomp.kill", CFG, "Seccomp",
       "action (string, REQUIRED) - the action for seccomp rules.",
       note="SCMP_ACT_KILL_PROCESS")
def _(env):
    p = seccomp_basic(env)
    p.text(4)
    expect(p.status[4] == f"signal {SIGSYS}",
           f"personality(0x4242) under SCMP_ACT_KILL_PROCESS: {p.status[4]}, not signal 31")


@check("linux.seccomp.defaultErrnoRet-unsupported", CFG, "Seccomp",
       "When the action doesn't support an errno, the runtime MUST print and error and fail.",
       note="defaultAction SCMP_ACT_ALLOW with defaultErrnoRet")
def _(env):
    b = env.bundle("sc-defret")
    b.linux["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW", "defaultErrnoRet": 5,
                          "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}]}
    env.expect_error(b, "defaultErrnoRet with SCMP_ACT_ALLOW")


@check("linux.seccomp.errnoRet-unsupported", CFG, "Seccomp",
       "When the action doesn't support an errno, the runtime MUST print and error and fail.",
       note="SCMP_ACT_KILL with errnoRet")
def _(env):
    b = env.bundle("sc-ret")
    b.linux["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW",
                          "syscalls": [{"names": ["acct"], "action": "SCMP_ACT_KILL",
                                        "errnoRet": 5}]}
    env.expect_error(b, "errnoRet with SCMP_ACT_KILL")


@check("linux.seccomp.names-required", CFG, "Seccomp",
       "names MUST contain at least one entry.")
def _(env):
    b = env.bundle("sc-nonames")
    b.linux["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW",
                          "syscalls": [{"names": [], "action": "SCMP_ACT_ERRNO"}]}
    env.expect_error(b, "a seccomp rule without names")


@check("linux.seccomp.metadata-without-listener", CFG, "Seccomp",
       "This field MUST NOT be set if listenerPath is not set.",
       note="such a config is invalid: config.md § Valid values demands an error")
def _(env):
    b = env.bundle("sc-meta")
    b.linux["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW", "listenerMetadata": "cf-meta",
                          "syscalls": [{"names": ["acct"], "action": "SCMP_ACT_ERRNO"}]}
    env.expect_error(b, "listenerMetadata without listenerPath")


@check("linux.seccomp.invalid-arch", "config.md", "Valid values",
       "Runtimes MUST generate an error when invalid or unsupported values are encountered.",
       note="seccomp architecture SCMP_ARCH_CFBOGUS")
def _(env):
    b = env.bundle("sc-arch")
    b.linux["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_CFBOGUS"]}
    env.expect_error(b, "seccomp architecture SCMP_ARCH_CFBOGUS")


@check("linux.seccomp.flags", CFG, "Seccomp",
       "flags (array of strings, OPTIONAL) - list of flags to use with seccomp(2).",
       note="SECCOMP_FILTER_FLAG_SPEC_ALLOW: no forced Speculative Store Bypass mitigation")
def _(env):
    def ssb(text):
        for ln in text.splitlines():
            if ln.startswith("Speculation_Store_Bypass:"):
                return ln.split(":", 1)[1].strip()
        return ""
    base = ssb(seccomp_basic(env).text(5))
    if "force mitigated" not in base:
        raise HostSkip(f"the CPU's Speculative Store Bypass state is {base!r} under seccomp "
                       "(no forced mitigation to lift)")
    b = env.bundle("sc-flags")
    b.linux["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW",
                          "flags": ["SECCOMP_FILTER_FLAG_SPEC_ALLOW"],
                          "syscalls": [{"names": ["acct"], "action": "SCMP_ACT_ERRNO"}]}
    got = ssb(env.probe(b, ["cat", "/proc/self/status"]).text(0))
    expect("force mitigated" not in got, f"with SECCOMP_FILTER_FLAG_SPEC_ALLOW the process is "
                                         f"still {got!r}")


# ------------------------------------------------------------- notify listener

class Listener:
    """An AF_UNIX stream listener that takes one seccomp state and closes the
    received fds at once (the container's notified syscall then gets ENOSYS)."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(4)
        self.sock.settimeout(30)
        self.chunks = []            # (bytes, fds) per recvmsg
        self.fd_kinds = []
        self.connections = 0
        self.error = None
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        try:
            conn, _ = self.sock.accept()
            self.connections += 1
            with conn:
                conn.settimeout(20)
                while True:
                    fds = array.array("i")
                    data, anc, _, _ = conn.recvmsg(65536, socket.CMSG_SPACE(16 * 4))
                    for level, kind, raw in anc:
                        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                            fds.frombytes(raw[:len(raw) - len(raw) % 4])
                    for fd in fds:
                        try:
                            self.fd_kinds.append(os.readlink(f"/proc/self/fd/{fd}"))
                        finally:
                            os.close(fd)
                    if not data and not fds:
                        break               # the runtime closed the connection
                    self.chunks.append((data, len(fds)))
            # A second connection would be a reused listener: see if one comes.
            self.sock.settimeout(1)
            try:
                c2, _ = self.sock.accept()
                self.connections += 1
                c2.close()
            except socket.timeout:
                pass
        except OSError as e:
            self.error = str(e)
        finally:
            self.sock.close()

    def message(self):
        return b"".join(c[0] for c in self.chunks)


def notify(env) -> dict:
    def go():
        b = env.bundle("sc-notify")
        lst = Listener(os.path.join(env.tmp, f"notify-{b.id}.sock"))
        b.linux["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": lst.path,
                              "listenerMetadata": "cf-meta",
                              "syscalls": [{"names": ["mkdir", "mkdirat"],
                                            "action": "SCMP_ACT_NOTIFY"}]}
        b.probe_args(["syscall", "mkdir", "/tmp/cf-n"])
        r = env.run(b, timeout=30)
        lst.thread.join(5)
        o = {"run": r, "listener": lst, "bundle": b}
        try:
            o["state"] = json.loads(lst.message() or b"null")
        except ValueError:
            o["state"] = None
        return o
    return env.once("sc-notify", go)


def need_msg(o):
    lst = o["listener"]
    if not lst.chunks:
        raise Fail(f"nothing arrived on listenerPath ({lst.error or 'no connection'}); "
                   f"run: {o['run'].brief()}")
    if not isinstance(o["state"], dict):
        raise Fail(f"what arrived is not one JSON object: {lst.message()[:200]!r}")
    return o["state"]


@check("linux.seccomp.listener.state", CFG, "Seccomp",
       "The runtime MUST send exactly one container process state per connection.")
def _(env):
    need_msg(notify(env))


@check("linux.seccomp.listener.closed", CFG, "Seccomp",
       "The connection MUST NOT be reused and it MUST be closed after sending a seccomp state.")
def _(env):
    o = notify(env)
    need_msg(o)
    expect(o["listener"].connections == 1, f"{o['listener'].connections} connections")


@check("linux.seccomp.listener.error", CFG, "Seccomp",
       "If sending to this socket fails, the runtime MUST generate an error.")
def _(env):
    b = env.bundle("sc-nolistener")
    b.linux["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW",
                          "listenerPath": os.path.join(env.tmp, "no-such.sock"),
                          "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]}
    b.probe_args(["syscall", "mkdir", "/tmp/x"])
    env.expect_error(b, "a listenerPath nobody listens on", op="run")


@check("linux.seccomp.listener.seccompFd", CFG, "Seccomp",
       "seccompFd (string, REQUIRED) is the seccomp file descriptor returned by the seccomp "
       "syscall.")
def _(env):
    o = notify(env)
    st = need_msg(o)
    expect(st.get("fds") == ["seccompFd"], f"fds {st.get('fds')!r}, not ['seccompFd']")
    kinds = o["listener"].fd_kinds
    expect(len(kinds) == 1 and "seccomp" in kinds[0], f"the fds sent are {kinds}")
    p = o["run"]
    expect(f"-1 {ENOSYS}" in p.out, f"the notified mkdir (listener gone) printed "
                                    f"{p.out.strip()[-80:]!r}, not -1 ENOSYS")


@check("linux.seccomp.process-state.payload", CFG, "The Container Process State",
       "The container runtime MUST send the container process state over the UNIX socket as "
       "regular payload serialized in JSON and file descriptors MUST be sent using SCM_RIGHTS.")
def _(env):
    o = notify(env)
    need_msg(o)
    expect(sum(n for _, n in o["listener"].chunks) == 1, "no fd came with SCM_RIGHTS")


@check("linux.seccomp.process-state.first-call", CFG, "The Container Process State",
       "If more than one sendmsg(2) is used, the file descriptors MUST be sent only in the first "
       "call.")
def _(env):
    o = notify(env)
    need_msg(o)
    counts = [n for _, n in o["listener"].chunks]
    expect(counts and counts[0] >= 1 and not any(counts[1:]), f"fds per message: {counts}")


@check("linux.seccomp.process-state.fields", CFG, "The Container Process State",
       "pid (int, REQUIRED) is the container process ID, as seen by the runtime.")
def _(env):
    o = notify(env)
    st = need_msg(o)
    expect(isinstance(st.get("ociVersion"), str), f"ociVersion {st.get('ociVersion')!r}")
    expect(isinstance(st.get("pid"), int) and st["pid"] > 1, f"pid {st.get('pid')!r}")
    expect(st.get("metadata") == "cf-meta", f"metadata {st.get('metadata')!r}, not cf-meta")
    state = st.get("state") or {}
    expect(state.get("id") == o["bundle"].id, f"state.id {state.get('id')!r}")
    expect(state.get("pid") in (None, st.get("pid")), f"state.pid {state.get('pid')} differs "
                                                      f"from pid {st.get('pid')}")
