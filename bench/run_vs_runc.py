"""pyrunc vs runc, interleaved, in one run: `run` of busybox /bin/true, and
`delete --force` of a running container with three processes.

    python3 bench/run_vs_runc.py [--runs N] [--pyrunc PATH] [--runc PATH]

Both runtimes use the same bundles (busybox-static rootfs, runc spec's defaults,
no terminal) with their own --root; runs alternate so that machine noise hits
both alike. Prints each runtime's median, mean and spread and the ratio of
medians. pyrunc's first run (cold schema-verdict cache) is reported apart.
"""
import argparse
import json
import pathlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))
from make_bundle import build_rootfs  # noqa: E402


def make_bundle(path: pathlib.Path, args: list[str]) -> str:
    from runtime.defaults import default_config  # the installed pyrunc

    rootfs = path.parent / "rootfs"
    if not rootfs.exists():
        build_rootfs(str(rootfs))
    path.mkdir()
    config = default_config()
    config["ociVersion"] = "1.0.2"  # runc 1.1 accepts this one
    config["root"]["path"] = str(rootfs)
    config["process"]["terminal"] = False
    config["process"]["args"] = args
    config["linux"]["cgroupsPath"] = "/pyrunc-bench"
    (path / "config.json").write_text(json.dumps(config))
    return str(path)


def call(binary: str, root: str, *args: str) -> float:
    # stderr to a file, not a pipe: a detached container keeps its stdio open.
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.run([binary, "--root", root, *args], stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL, stderr=err)
        elapsed = time.perf_counter() - start
        if proc.returncode != 0:
            err.seek(0)
            raise SystemExit(f"{binary} {args[0]} failed ({proc.returncode}): "
                             f"{err.read().decode()}")
    return elapsed


def one_run(binary: str, root: str, bundle: str, cid: str) -> float:
    return call(binary, root, "run", "-b", bundle, cid)


def one_delete(binary: str, root: str, bundle: str, cid: str) -> float:
    """Only the delete is timed: SIGKILL, wait for the cgroup to empty, rmdir."""
    call(binary, root, "run", "-d", "-b", bundle, cid)
    return call(binary, root, "delete", "--force", cid)


def report(title: str, times: dict) -> None:
    print(title)
    for name, ts in times.items():
        print(f"  {name:7s} median {statistics.median(ts) * 1000:6.1f} ms   "
              f"mean {statistics.mean(ts) * 1000:6.1f} ms   "
              f"min {min(ts) * 1000:6.1f}   max {max(ts) * 1000:6.1f}")
    ratio = statistics.median(times["pyrunc"]) / statistics.median(times["runc"])
    print(f"  ratio pyrunc/runc (medians): {ratio:.2f}")


def interleaved(measure, binaries: dict, roots: dict, bundle: str, runs: int) -> dict:
    times = {"pyrunc": [], "runc": []}
    for i in range(runs):
        order = ("pyrunc", "runc") if i % 2 == 0 else ("runc", "pyrunc")
        for name in order:
            times[name].append(measure(binaries[name], roots[name], bundle, f"b{i}"))
    return times


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--pyrunc", default="/usr/local/bin/pyrunc")
    ap.add_argument("--runc", default=shutil.which("runc") or "/usr/sbin/runc")
    args = ap.parse_args()
    work = pathlib.Path(tempfile.mkdtemp(prefix="pyrunc-bench-"))
    try:
        true_bundle = make_bundle(work / "true", ["/bin/true"])
        busy_bundle = make_bundle(work / "busy", ["/bin/sh", "-c", "sleep 1000 & sleep 1000 & wait"])
        roots = {"pyrunc": str(work / "root-pyrunc"), "runc": str(work / "root-runc")}
        binaries = {"pyrunc": args.pyrunc, "runc": args.runc}
        cold = one_run(args.pyrunc, roots["pyrunc"], true_bundle, "cold")
        one_run(args.runc, roots["runc"], true_bundle, "warm")
        report(f"run of busybox /bin/true, {args.runs} runs each, interleaved "
               f"(pyrunc's cold first run: {cold * 1000:.1f} ms)",
               interleaved(one_run, binaries, roots, true_bundle, args.runs))
        report(f"delete --force of a running container (3 processes), {args.runs} runs each",
               interleaved(one_delete, binaries, roots, busy_bundle, args.runs))
    finally:
        for d in pathlib.Path("/sys/fs/cgroup").glob("*/pyrunc-bench"):
            try:
                d.rmdir()
            except OSError:
                pass
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
