"""Install the `pyrunc` command that containerd, Podman and people run:

    python3 -m runtime.entry /usr/local/bin/pyrunc      (scripts/setup.sh does)

The command is the front door (csrc/front.c, built into the package as
pyrunc-front): PATH becomes a symlink to it. It answers the plain light
commands itself from each container's front record (front_record.py) and
hands everything else, unchanged, to pyrunc-python next to it: the Python
command file this module writes into the package.

pip's console script starts Python with site: the venv's site-packages, its
.pth files (setuptools' distutils hack among them) and the environment's
PYTHON* variables: ~3 ms a call, and a PYTHONPATH could put other code in
front of a runtime that runs as root. The command file starts the
interpreter with -I -S (isolated: no PYTHON* variables, no user site, no
script directory; no site) and puts back the one directory it needs: the one
pyrunc is installed in. Once the command is done and its output flushed, it
leaves by os._exit: the interpreter's teardown (freeing every module, ~1 to
2.5 ms) does nothing pyrunc needs. (An exception out of main, with --debug,
still ends the usual way, with its traceback.) The cycle collector waits for
50000 allocations instead of 700: a command is over long before, and loading
its modules no longer runs ~1 ms of collections that find nothing; `events`
and a waiting `run` still collect, less often. create, run and exec load
their modules from one preload file each (preload.py), which write() builds.
"""
import os
import sys

import runtime
from runtime import preload

TEMPLATE = """#!{python} -IS
# pyrunc's command, written by `python3 -m runtime.entry` (runtime/entry.py).
import gc
gc.set_threshold(50000)
import os
import sys
sys.path.append({site!r})
from runtime.preload import preload
preload(sys.argv[1:])
from runtime.cli import main
status = main()
try:
    sys.stdout.flush()
    sys.stderr.flush()
finally:
    os._exit(status)
"""


PACKAGE = os.path.dirname(os.path.abspath(runtime.__file__))
FRONT = os.path.join(PACKAGE, "pyrunc-front")    # the front door (setup.py builds it)
SCRIPT = os.path.join(PACKAGE, "pyrunc-python")  # where the front door finds Python


def text(python: str = sys.executable) -> str:
    return TEMPLATE.format(python=python, site=os.path.dirname(PACKAGE))


def write(path: str) -> None:
    """The command file, then PATH as a symlink to the front door; each
    replaced atomically: a caller never runs half a file."""
    if os.path.lexists(path) and os.path.isdir(path):
        raise SystemExit(f"runtime.entry: {path} is a directory")
    if not os.access(FRONT, os.X_OK):
        raise SystemExit(f"runtime.entry: {FRONT} is missing: the build did not make it")
    tmp = f"{SCRIPT}.tmp-{os.getpid()}"
    with open(tmp, "w") as f:
        f.write(text())
    os.chmod(tmp, 0o755)
    os.replace(tmp, SCRIPT)
    preload.build()
    tmp = f"{path}.tmp-{os.getpid()}"
    os.symlink(FRONT, tmp)
    os.replace(tmp, path)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit("usage: python3 -m runtime.entry PATH")
    write(sys.argv[1])
