"""Seccomp profiles without containers: checks, the compiled program, the
cache, load flags (tests/integration/test_seccomp.py runs them for real)."""
import json
import struct

import pytest

from conftest import REPO
from runtime import root_cache, seccomp, seccomp_names
from runtime.errors import ConfigError

DOCKER = json.loads((REPO / "tests" / "fixtures" / "seccomp" / "docker-default.json").read_text())
INSN = struct.Struct("=HBBI")  # struct sock_filter: code, jt, jf, k
BPF_RET_K = 0x06


def returns(program: bytes) -> set[int]:
    """The constant return values of a classic BPF program."""
    assert len(program) % INSN.size == 0
    return {k for code, _jt, _jf, k in INSN.iter_unpack(program) if code == BPF_RET_K}


def compiled(profile: dict) -> bytes:
    from runtime.seccomp_compile import compile_profile
    return compile_profile(profile)


@pytest.mark.parametrize("name, errno_ret, want", [
    ("SCMP_ACT_ERRNO", None, 0x00050001),  # EPERM when not given
    ("SCMP_ACT_ERRNO", 18, 0x00050012),
    ("SCMP_ACT_TRACE", 7, 0x7FF00007),
    ("SCMP_ACT_ALLOW", None, 0x7FFF0000),
    ("SCMP_ACT_KILL_PROCESS", None, 0x80000000),
])
def test_action_values(name, errno_ret, want):
    assert seccomp_names.action_value(name, errno_ret, "/p") == want


@pytest.mark.parametrize("profile, pointer", [
    ({"defaultAction": "SCMP_ACT_ALLOW", "defaultErrnoRet": 1}, "/linux/seccomp/defaultErrnoRet"),
    ({"defaultAction": "SCMP_ACT_ERRNO",
      "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_LOG", "errnoRet": 1}]},
     "/linux/seccomp/syscalls/0/errnoRet"),
    ({"defaultAction": "SCMP_ACT_NOTIFY", "listenerPath": "/x"}, "/linux/seccomp/defaultAction"),
    ({"defaultAction": "SCMP_ACT_ALLOW",
      "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]},
     "/linux/seccomp/listenerPath"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/x",
      "syscalls": [{"names": ["sendmsg"], "action": "SCMP_ACT_NOTIFY"}]},
     "/linux/seccomp/syscalls/0/names"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/x",
      "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ALLOW"},
                   {"names": ["read", "write"], "action": "SCMP_ACT_NOTIFY"}]},
     "/linux/seccomp/syscalls/1/names"),
])
def test_check_refuses(profile, pointer):
    with pytest.raises(ConfigError) as e:
        seccomp.check(profile)
    assert e.value.pointer == pointer


def test_docker_profile_compiles_to_its_actions():
    program = compiled(DOCKER)
    # default EPERM, allow, clone3's ENOSYS; a kill for other architectures
    assert {0x00050001, 0x7FFF0000, 0x00050026}.issubset(returns(program))


def test_each_action_reaches_the_program():
    for name, value in seccomp_names.ACTIONS.items():
        if name == "SCMP_ACT_ALLOW":
            continue
        program = compiled({"defaultAction": "SCMP_ACT_ALLOW",
                            "syscalls": [{"names": ["mkdir"], "action": name}]})
        want = value | 1 if name in seccomp_names.WITH_ERRNO else value
        assert want in returns(program), name


def test_rules_with_the_default_action_and_unknown_names_are_dropped():
    base = compiled({"defaultAction": "SCMP_ACT_ALLOW"})
    same = compiled({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["mkdir"], "action": "SCMP_ACT_ALLOW"},
        {"names": ["no_such_syscall"], "action": "SCMP_ACT_ERRNO"}]})
    assert same == base


def test_repeated_argument_index_makes_separate_rules():
    """Two conditions on arg 0 in one rule: an OR of two rules (as runc),
    where libseccomp alone would refuse the rule."""
    program = compiled({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["personality"], "action": "SCMP_ACT_ERRNO",
         "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"},
                  {"index": 0, "value": 2, "op": "SCMP_CMP_EQ"}]}]})
    ks = [k for _c, _t, _f, k in INSN.iter_unpack(program)]
    assert 1 in ks and 2 in ks


def test_cache_key_follows_the_program_input():
    from runtime.seccomp_compile import cache_key
    a = seccomp._program_input({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/a"})
    b = seccomp._program_input({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/b"})
    c = seccomp._program_input({"defaultAction": "SCMP_ACT_LOG"})
    assert cache_key(a) == cache_key(b) != cache_key(c)


def test_prepare_caches_the_program(tmp_path):
    profile = {"defaultAction": "SCMP_ACT_ALLOW",
               "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}]}
    first = seccomp.prepare(profile, str(tmp_path))
    [cached] = [p for p in tmp_path.iterdir() if p.name.startswith(seccomp.CACHE_PREFIX)]
    assert cached.read_bytes() == first.program
    cached.write_bytes(b"\0" * 8)  # a cache hit is what is used
    assert seccomp.prepare(profile, str(tmp_path)).program == b"\0" * 8


def test_root_cache_is_bounded(tmp_path, monkeypatch):
    monkeypatch.setattr(root_cache, "LIMIT", 3)
    for i in range(3):
        root_cache.put(str(tmp_path), ".t-", str(i), b"x")
    assert len(list(tmp_path.iterdir())) == 3
    root_cache.put(str(tmp_path), ".t-", "new", b"y")
    assert [p.name for p in tmp_path.iterdir()] == [".t-new"]
    assert root_cache.get(str(tmp_path), ".t-", "new") == b"y"
    assert root_cache.get(str(tmp_path), ".t-", "0") is None


def test_load_flags():
    notify = {"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/x",
              "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}],
              "flags": ["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"]}
    flags = seccomp.load_flags(notify)
    assert flags & seccomp_names.FLAG_NEW_LISTENER and flags & seccomp_names.FLAG_TSYNC_ESRCH
    assert seccomp.load_flags({"defaultAction": "SCMP_ACT_ALLOW",
                               "flags": ["SECCOMP_FILTER_FLAG_LOG"]}) == 2


def test_a_pending_program_fills_and_seals_its_memfd():
    """create compiles in a thread (seccomp.PendingProgram): the init gets
    the memfd at its spawn and reads it only sealed (OP_SECCOMP_FD)."""
    import fcntl
    import os
    pending = seccomp.PendingProgram(lambda: b"\x06\0\0\0\0\0\xff\x7f")
    try:
        assert fcntl.fcntl(pending.memfd, fcntl.F_GET_SEALS) & fcntl.F_SEAL_WRITE == 0
        pending.finish()
        seals = fcntl.fcntl(pending.memfd, fcntl.F_GET_SEALS)
        assert seals & (fcntl.F_SEAL_WRITE | fcntl.F_SEAL_GROW | fcntl.F_SEAL_SHRINK |
                        fcntl.F_SEAL_SEAL) == (fcntl.F_SEAL_WRITE | fcntl.F_SEAL_GROW |
                                               fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_SEAL)
        assert os.pread(pending.memfd, 64, 0) == b"\x06\0\0\0\0\0\xff\x7f"
        assert os.get_inheritable(pending.memfd) is False
    finally:
        pending.close()
    assert pending.memfd == -1


def test_a_pending_program_raises_what_the_compile_raised():
    """A rule libseccomp refuses fails create where create waits for the
    program, with the compile's own error (no valid profile makes libseccomp
    refuse one, so the error is made here)."""
    def refuse():
        raise ConfigError("/linux/seccomp/syscalls/0/names/0", "libseccomp refused the rule")
    pending = seccomp.PendingProgram(refuse)
    try:
        with pytest.raises(ConfigError, match="refused the rule"):
            pending.finish()
    finally:
        pending.close()


def test_closing_a_pending_program_waits_for_the_compile():
    """An error path ends the command soon after: the thread must not be
    cut off while it writes the cache into the root."""
    import threading
    import time
    release, finished = threading.Event(), []

    def slow():
        release.wait(5)
        time.sleep(0.05)
        finished.append(True)
        return b"\0" * 8
    pending = seccomp.PendingProgram(slow)
    release.set()
    pending.close()
    assert finished == [True]


def test_prepare_in_background_matches_prepare(tmp_path):
    """The same program either way, from the compile or from the cache; a
    notify filter is made at once (it loads before READY)."""
    want = seccomp.prepare(DOCKER, str(tmp_path / "a"))
    for _ in range(2):  # a miss, then a hit
        got = seccomp.prepare_in_background(DOCKER, str(tmp_path / "b"))
        assert got.program is None and got.flags == want.flags and not got.notify
        got.pending.finish()
        with open(f"/proc/self/fd/{got.pending.memfd}", "rb") as f:
            assert f.read() == want.program
        got.pending.close()
    notify = dict(DOCKER, listenerPath="/run/agent.sock",
                  syscalls=DOCKER["syscalls"] + [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}])
    got = seccomp.prepare_in_background(notify, None)
    assert got.program and got.notify and got.pending is None
