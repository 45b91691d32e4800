"""Commands that never read a config must not pay for jsonschema (~60 ms), nor
for the cffi module (the features document asks libseccomp and the kernel
what they have, so it is the one that loads it)."""
import subprocess
import sys

import pytest

PROBE = """
import sys
from runtime.cli import main
main(["--root", sys.argv[1], *sys.argv[2:]])
print("jsonschema" in sys.modules, "runtime._native" in sys.modules)
"""


@pytest.mark.parametrize("args, cffi", [
    (["state", "x"], False), (["kill", "x", "KILL"], False), (["delete", "x"], False),
    (["delete", "--force", "x"], False), (["start", "x"], False), (["list"], False),
    (["features"], True)])
def test_no_jsonschema_import(tmp_path, args, cffi):
    # From a neutral directory: run from the source tree, "runtime" would be
    # the tree's, which has no compiled modules.
    proc = subprocess.run([sys.executable, "-c", PROBE, str(tmp_path), *args],
                          capture_output=True, text=True, timeout=30, cwd=tmp_path)
    last = proc.stdout.strip().splitlines()[-1]
    assert last.split() == ["False", str(cffi)], proc.stdout + proc.stderr
    assert "internal error" not in proc.stderr
