"""pyrunc run vs runc run of busybox /bin/true, interleaved, in one run.

    python3 bench/run_vs_runc.py [--runs N] [--pyrunc PATH] [--runc PATH]

Both runtimes run the same bundle (busybox-static rootfs, runc spec's defaults,
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


def make_bundle(path: pathlib.Path) -> str:
    from runtime.defaults import default_config  # the installed pyrunc

    build_rootfs(str(path / "rootfs"))
    config = default_config()
    config["ociVersion"] = "1.0.2"  # runc 1.1 accepts this one
    config["process"]["terminal"] = False
    config["process"]["args"] = ["/bin/true"]
    config["linux"]["cgroupsPath"] = "/pyrunc-bench"
    (path / "config.json").write_text(json.dumps(config))
    return str(path)


def one_run(binary: str, root: str, bundle: str, cid: str) -> float:
    start = time.perf_counter()
    proc = subprocess.run([binary, "--root", root, "run", "-b", bundle, cid],
                          stdin=subprocess.DEVNULL, capture_output=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{binary} run failed ({proc.returncode}): {proc.stderr.decode()}")
    return elapsed


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--pyrunc", default="/usr/local/bin/pyrunc")
    ap.add_argument("--runc", default=shutil.which("runc") or "/usr/sbin/runc")
    args = ap.parse_args()
    work = pathlib.Path(tempfile.mkdtemp(prefix="pyrunc-bench-"))
    try:
        bundle = make_bundle(work)
        roots = {"pyrunc": str(work / "root-pyrunc"), "runc": str(work / "root-runc")}
        binaries = {"pyrunc": args.pyrunc, "runc": args.runc}
        cold = one_run(args.pyrunc, roots["pyrunc"], bundle, "cold")
        one_run(args.runc, roots["runc"], bundle, "warm")
        times = {"pyrunc": [], "runc": []}
        for i in range(args.runs):
            order = ("pyrunc", "runc") if i % 2 == 0 else ("runc", "pyrunc")
            for name in order:
                times[name].append(one_run(binaries[name], roots[name], bundle, f"b{i}"))
        print(f"busybox /bin/true, {args.runs} runs each, interleaved "
              f"(pyrunc's cold first run: {cold * 1000:.1f} ms)")
        for name, ts in times.items():
            print(f"  {name:7s} median {statistics.median(ts) * 1000:6.1f} ms   "
                  f"mean {statistics.mean(ts) * 1000:6.1f} ms   "
                  f"min {min(ts) * 1000:6.1f}   max {max(ts) * 1000:6.1f}")
        ratio = statistics.median(times["pyrunc"]) / statistics.median(times["runc"])
        print(f"  ratio pyrunc/runc (medians): {ratio:.2f}")
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
