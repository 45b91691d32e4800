"""Write the `pyrunc` command file that containerd, Podman and people run:

    python3 -m runtime.entry /usr/local/bin/pyrunc      (scripts/setup.sh does)

pip's console script starts Python with site: the venv's site-packages, its
.pth files (setuptools' distutils hack among them) and the environment's
PYTHON* variables: ~3 ms a call, and a PYTHONPATH could put other code in
front of a runtime that runs as root. This file starts the interpreter with
-I -S (isolated: no environment, no user site, no script directory; no site)
and puts back the one directory it needs: the one pyrunc is installed in.
"""
import os
import sys

import runtime

TEMPLATE = """#!{python} -IS
# pyrunc's command, written by `python3 -m runtime.entry` (runtime/entry.py).
import sys
sys.path.append({site!r})
from runtime.cli import main
sys.exit(main())
"""


def text(python: str = sys.executable) -> str:
    site = os.path.dirname(os.path.dirname(os.path.abspath(runtime.__file__)))
    return TEMPLATE.format(python=python, site=site)


def write(path: str) -> None:
    """Replaced atomically: a caller never runs half a file."""
    tmp = f"{path}.tmp-{os.getpid()}"
    if os.path.lexists(path) and os.path.isdir(path):
        raise SystemExit(f"runtime.entry: {path} is a directory")
    with open(tmp, "w") as f:
        f.write(text())
    os.chmod(tmp, 0o755)
    os.replace(tmp, path)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit("usage: python3 -m runtime.entry PATH")
    write(sys.argv[1])
