"""Commands that never read a config must not pay for jsonschema (~60 ms), nor
for the cffi module (the features document asks libseccomp and the kernel
what they have, so it is the one that loads it), nor for argparse, json, re,
enum or signal (~4 to 10 ms each to import, each a light command's whole
budget above the interpreter's start). Here on a container that does not
exist (the error path); tests/integration/test_light_imports.py runs them on
a real one."""
import subprocess
import sys

import pytest

HEAVY = ("jsonschema", "runtime._native", "argparse", "json", "re", "enum", "signal")
PROBE = f"""
import sys
from runtime.cli import main
main(["--root", sys.argv[1], *sys.argv[2:]])
print("LOADED", *[m for m in {HEAVY!r} if m in sys.modules])
"""


@pytest.mark.parametrize("args, allowed", [
    (["state", "x"], ""), (["kill", "x", "KILL"], ""), (["delete", "x"], ""),
    (["delete", "--force", "x"], ""), (["start", "x"], ""), (["list"], ""),
    (["pause", "x"], ""), (["resume", "x"], ""), (["ps", "x"], ""),
    (["features"], "runtime._native")])
def test_no_heavy_import(tmp_path, args, allowed):
    # -I -S as the command file (runtime/entry.py) runs it, from a neutral
    # directory: in the source tree, "runtime" would be the tree's, which
    # has no compiled modules. site-packages is given back by hand.
    site = next(p for p in sys.path if p.endswith("site-packages"))
    probe = f"import sys; sys.path.append({site!r})\n" + PROBE
    proc = subprocess.run([sys.executable, "-I", "-S", "-c", probe, str(tmp_path), *args],
                          capture_output=True, text=True, timeout=30, cwd=tmp_path)
    last = proc.stdout.strip().splitlines()[-1]
    assert last.startswith("LOADED"), proc.stdout + proc.stderr
    assert set(last.split()[1:]) <= set(allowed.split()), proc.stdout + proc.stderr
    assert "internal error" not in proc.stderr
