"""Commands that never read a config must not pay for jsonschema (~60 ms)."""
import subprocess
import sys

import pytest

PROBE = """
import sys
from runtime.cli import main
main(["--root", sys.argv[1], *sys.argv[2:]])
print("jsonschema" in sys.modules, "runtime._native" in sys.modules)
"""


@pytest.mark.parametrize("args", [["state", "x"], ["kill", "x", "KILL"], ["delete", "x"],
                                  ["delete", "--force", "x"], ["start", "x"], ["list"], ["features"]])
def test_no_jsonschema_import(tmp_path, args):
    proc = subprocess.run([sys.executable, "-c", PROBE, str(tmp_path), *args],
                          capture_output=True, text=True, timeout=30)
    last = proc.stdout.strip().splitlines()[-1]
    assert last.split() == ["False", "False"], proc.stdout + proc.stderr
