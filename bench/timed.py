"""One timed call of a runtime, the same way for every runtime: the benchmark
times pyrunc and runc with it, and ns_runner.py times crun with it inside its
mount namespace."""
import os
import subprocess
import tempfile
import time


def call(argv: list[str]) -> tuple[int, float, str]:
    """(exit status, seconds, stderr). stderr goes to a file, not a pipe: a
    detached container keeps its stdio open."""
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=err)
        seconds = time.perf_counter() - start
        err.seek(0)
        return proc.returncode, seconds, err.read().decode(errors="replace")


def output(argv: list[str]) -> str:
    """stdout of an untimed call (state, to find a pid)."""
    return subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          check=True).stdout


def command_file(pyrunc: str) -> str:
    """The Python command file behind the pyrunc command: pyrunc-python next
    to the front door it links to (runtime/entry.py)."""
    return os.path.join(os.path.dirname(os.path.realpath(pyrunc)), "pyrunc-python")
