"""Build the static ``ocitest`` helper that integration tests run inside containers.

Usage as a module::

    from tests.helper.build import build_ocitest
    binary = build_ocitest(tmp_path)

or from the command line::

    python3 build.py OUTDIR
"""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import sys
import tempfile

SOURCE = pathlib.Path(__file__).resolve().parent / "ocitest.c"
CFLAGS = ["-static", "-O2", "-Wall", "-Wextra"]


def build_ocitest(dest_dir: pathlib.Path) -> pathlib.Path:
    """Compile ocitest.c statically into ``dest_dir/ocitest`` and return its path.

    The compile is skipped when the output already exists and is newer than
    the source. Raises RuntimeError (carrying gcc's stderr) on failure.
    """
    dest_dir = pathlib.Path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    out = dest_dir / "ocitest"

    src_mtime = SOURCE.stat().st_mtime_ns
    try:
        if out.stat().st_mtime_ns > src_mtime and os.access(out, os.X_OK):
            return out
    except FileNotFoundError:
        pass

    cc = os.environ.get("CC") or shutil.which("gcc")
    if not cc:
        raise RuntimeError("gcc not found: cannot build ocitest helper")

    # Compile to a temporary name in the same directory and rename it into
    # place, so concurrent builders never see a half-written binary.
    fd, tmp_name = tempfile.mkstemp(prefix=".ocitest-", dir=dest_dir)
    os.close(fd)
    tmp = pathlib.Path(tmp_name)
    try:
        proc = subprocess.run(
            [cc, *CFLAGS, "-o", str(tmp), str(SOURCE)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        if proc.returncode != 0:
            raise RuntimeError(
                f"building ocitest failed (exit {proc.returncode}):\n{proc.stderr}"
            )
        tmp.chmod(0o755)
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            tmp.unlink()
    return out


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(f"usage: {argv[0]} OUTDIR", file=sys.stderr)
        return 2
    try:
        path = build_ocitest(pathlib.Path(argv[1]))
    except RuntimeError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
