"""The commands containerd and Podman call many times per container, run on a
real container the way the installed command file runs them (python3 -I -S,
runtime/entry.py): none may load a module that costs milliseconds to import
(argparse, json, re, enum, signal, collections, jsonschema, cffi). create
may load cffi (the plan's constants) and nothing else of these.
docs/performance.md gives what each costs."""
import json
import os
import subprocess
import tempfile
import time

import pytest

from conftest import IS_PYRUNC

pytestmark = pytest.mark.skipif(not IS_PYRUNC, reason="checks pyrunc's own imports")

HEAVY = ("argparse", "json", "re", "enum", "signal", "collections", "functools", "jsonschema",
         "_cffi_backend", "runtime._native", "runtime._seccomp",
         "jeepney")  # (D-Bus: only the commands that talk to systemd)
PROBE = """
import sys
sys.path.append({site!r})
from runtime.cli import main
main(sys.argv[1:])
sys.stdout.flush()
print("\\nLOADED", *[m for m in {heavy!r} if m in sys.modules], file=sys.stderr, flush=True)
"""


def _command_file(binary: str) -> tuple[str, str]:
    """The interpreter and the site directory the command file names (the
    front door's pyrunc-python, next to it)."""
    binary = os.path.join(os.path.dirname(os.path.realpath(binary)), "pyrunc-python")
    with open(binary) as f:
        lines = f.read().splitlines()
    assert lines[0].startswith("#!") and lines[0].endswith(" -IS"), \
        f"{binary} is not the command file runtime/entry.py writes"
    site = next(line for line in lines if line.startswith("sys.path.append("))
    return lines[0][2:].split()[0], site[len("sys.path.append("):-1].strip("'\"")


def _loaded(runtime, *args) -> set[str]:
    python, site = _command_file(runtime.binary)
    # Files, not pipes: a created container's init holds the runtime's stdio.
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.run([python, "-I", "-S", "-c", PROBE.format(site=site, heavy=HEAVY),
                               "--root", runtime.root, *args], stdin=subprocess.DEVNULL,
                              stdout=out, stderr=err, timeout=60)
        err.seek(0)
        text = err.read().decode(errors="replace")
    last = text.strip().splitlines()[-1]
    assert proc.returncode == 0 and last.startswith("LOADED"), (args, text)
    return set(last.split()[1:])


def _wait_stopped(runtime, cid: str) -> None:
    for _ in range(500):
        if json.loads(runtime("state", cid).stdout)["status"] == "stopped":
            return
        time.sleep(0.01)
    raise AssertionError(f"{cid} did not stop")


def test_light_commands_load_no_heavy_module(runtime, bundle):
    cid = bundle.id
    path = bundle.args("/bin/sleep", "1000").write()
    assert _loaded(runtime, "create", "--bundle", path, cid) <= {"_cffi_backend",
                                                                  "runtime._native"}
    loaded = {}
    for args in (["state", cid], ["start", cid], ["ps", "--format", "json", cid],
                 ["pause", cid], ["resume", cid], ["list"], ["list", "--format", "json"],
                 ["kill", cid, "0"], ["kill", cid, "KILL"]):
        loaded[" ".join(args[:-1] if cid in args else args)] = _loaded(runtime, *args)
    _wait_stopped(runtime, cid)
    loaded["delete"] = _loaded(runtime, "delete", cid)
    assert {command: names for command, names in loaded.items() if names} == {}
