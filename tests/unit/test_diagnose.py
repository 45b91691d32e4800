"""runtime/diagnose/ pieces without a bundle on disk: the ELF reader, the
hints, the report's layout, and the one host check the kernel here cannot
fail (a namespace type it lacks: mocked, as the brief allows for an error path
the kernel cannot be made to produce)."""
import errno
import json
import os
import struct

from runtime.diagnose import config_checks, elf, host_checks
from runtime.diagnose.findings import Report
from runtime.init_hints import hint
from runtime.plan_ops import Op


def elf_file(tmp_path, bits=64, order="<", machine=62, interp=None):
    """A minimal ELF: header, program headers (PT_INTERP if given)."""
    wide = bits == 64
    ehsize, phentsize = (64, 56) if wide else (52, 32)
    ident = b"\x7fELF" + bytes([2 if wide else 1, 1 if order == "<" else 2, 1]) + bytes(9)
    phnum = 1 if interp else 0
    if wide:
        header = ident + struct.pack(order + "HHIQQQIHHHHHH", 2, machine, 1, 0, ehsize, 0, 0,
                                     ehsize, phentsize, phnum, 0, 0, 0)
    else:
        header = ident + struct.pack(order + "HHIIIIIHHHHHH", 2, machine, 1, 0, ehsize, 0, 0,
                                     ehsize, phentsize, phnum, 0, 0, 0)
    data = header
    if interp:
        text = interp.encode() + b"\0"
        offset = ehsize + phentsize
        if wide:
            data += struct.pack(order + "IIQQQQQQ", 3, 4, offset, 0, 0, len(text), len(text), 1)
        else:
            data += struct.pack(order + "IIIIIIII", 3, offset, 0, 0, len(text), len(text), 4, 1)
        data += text
    path = tmp_path / "prog"
    path.write_bytes(data)
    return path


def read_elf(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        return elf.read(fd)
    finally:
        os.close(fd)


def test_elf_class_order_machine_and_loader(tmp_path):
    e = read_elf(elf_file(tmp_path, 64, "<", 62, "/lib64/ld-linux-x86-64.so.2"))
    assert (e.bits, e.machine, e.interp) == (64, 62, "/lib64/ld-linux-x86-64.so.2")
    e = read_elf(elf_file(tmp_path, 32, ">", 22, "/lib/ld.so.1"))
    assert (e.bits, e.machine_name(), e.interp) == (32, "s390x", "/lib/ld.so.1")
    assert read_elf(elf_file(tmp_path, 64, "<", 183)).interp is None


def test_not_elf_or_truncated_is_none(tmp_path):
    (tmp_path / "script").write_text("#!/bin/sh\n")
    assert read_elf(tmp_path / "script") is None
    (tmp_path / "short").write_bytes(b"\x7fELF\x02\x01\x01")
    assert read_elf(tmp_path / "short") is None


def test_a_real_dynamic_program_names_its_libraries():
    e = read_elf("/bin/ls")
    assert e.interp and "libc.so.6" in e.needed


def test_namespace_type_the_kernel_lacks(monkeypatch):
    real = os.path.exists
    monkeypatch.setattr(os.path, "exists",
                        lambda p: False if p == "/proc/self/ns/time" else real(p))
    report = Report()
    config = {"process": {"args": ["x"]}, "linux": {"namespaces": [{"type": "pid"},
                                                                  {"type": "time"}]}}
    from runtime.config import Config
    host_checks._namespaces(Config(config), report)
    assert [(f.pointer, f.message) for f in report.errors()] == [
        ("/linux/namespaces/1", "this kernel has no time namespaces")]


def test_init_hints():
    proc = Op("MOUNT", (0, 0, 0, "proc", "/proc", "proc", "", 1))
    tmpfs = Op("MOUNT", (0, 0, 0, "tmpfs", "/t", "tmpfs", "", 0))
    assert hint(proc, errno.EPERM).startswith("proc needs a new pid namespace")
    assert hint(tmpfs, errno.EPERM).startswith("in a user namespace only some")
    assert hint(tmpfs, errno.ENODEV).startswith("this kernel does not know")
    assert hint(Op("HOSTNAME", ("h",)), errno.EPERM).startswith("the hostname needs")
    assert hint(tmpfs, errno.EXDEV) == "" and hint(None, errno.EPERM) == ""
    oom = Op("WRITE_FILE", ("/proc/self/oom_score_adj", "-998"))
    assert "restrict_oom_score_adj" in hint(oom, errno.EACCES)
    sysctl = Op("WRITE_FILE", ("/proc/sys/net/ipv4/ip_forward", "1"))
    assert hint(sysctl, errno.EACCES).startswith("the file is read-only here")


def test_config_hints_fill_in_the_field():
    assert config_checks.hint_for("missing required field 'args'") == "add the field 'args'"
    assert config_checks.hint_for("needs a ipc namespace of the container's own") == \
        'add {"type": "ipc"} to /linux/namespaces, or remove the sysctl'
    assert config_checks.hint_for("something else") == ""


def test_report_layout():
    report = Report()
    report.warning("/a", "w1", "fix w")
    report.error("/b", "e1", "fix e")
    report.error(None, "e2", path="/etc/passwd")
    text = report.as_text("/bundle").splitlines()
    assert text[:6] == ["ERRORS (2)", "  config.json: /b: e1", "      fix: fix e",
                        "  rootfs: /etc/passwd: e2", "", "WARNINGS (1)"]
    assert text[-1] == "/bundle: 2 error(s), 1 warning(s): would not run"
    assert report.exit_status() == 1
    assert [f["severity"] for f in json.loads(report.as_json())] == ["warning", "error", "error"]
