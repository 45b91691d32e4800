"""Where one pyrunc command spends its time: the modules it imports (python
-X importtime, averaged over runs) and, for create, its phases (cProfile).
docs/performance.md quotes it.

    python3 bench/profile.py [--runs N] [--pyrunc PATH]

Runs on a busybox container of its own (created, started, deleted here),
through the interpreter and site directory the command file names.
"""
import argparse
import json
import pathlib
import shutil
import subprocess
import sys
import tempfile

import timed

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))
from make_bundle import build_rootfs  # noqa: E402

IMPORTS = """
import sys
sys.path.append({site!r})
from runtime.cli import main
main(sys.argv[1:])
"""
PHASES = """
import cProfile, pstats, sys
sys.path.append({site!r})
from runtime.cli import main
import runtime.commands.create
profile = cProfile.Profile()
profile.enable()
main(sys.argv[1:])
profile.disable()
stats = pstats.Stats(profile).stats
wanted = {wanted!r}
for (path, line, name), (_cc, _nc, _tt, cumulative, _callers) in stats.items():
    key = path.rsplit("/runtime/", 1)[-1] + ":" + name
    if key in wanted:
        print("PHASE", key, round(cumulative * 1000, 2), file=sys.stderr)
"""
CREATE_PHASES = ("commands/create.py:create", "spec.py:load", "commands/create.py:_make_cgroups",
                 "launch.py:make_plan", "launch.py:spawn", "launcher.py:_init_memfd",
                 "launcher.py:wait_ready", "state.py:save")


def command_file(binary: str) -> tuple[str, str]:
    with open(timed.command_file(binary)) as f:
        lines = f.read().splitlines()
    site = next(line for line in lines if line.startswith("sys.path.append("))
    return lines[0][2:].split()[0], site[len("sys.path.append("):-1].strip("'\"")


def run_child(python, code, argv) -> str:
    with tempfile.TemporaryFile() as err:
        subprocess.run([python, "-I", "-S", "-X", "importtime", "-c", code, *argv],
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err, check=True)
        err.seek(0)
        return err.read().decode()


def import_profile(python, site, argv) -> dict[str, float]:
    """Module -> its own import time (us) in one run of argv."""
    out = {}
    for line in run_child(python, IMPORTS.format(site=site), argv).splitlines():
        if line.startswith("import time:") and "|" in line and "self" not in line:
            self_us, _cumulative, name = line[len("import time:"):].split("|")
            out[name.strip()] = int(self_us)
    return out


def report(command: str, times: dict[str, float]) -> None:
    ours = {k: v for k, v in times.items() if k.startswith("runtime")}
    top = sorted(ours.items(), key=lambda kv: -kv[1])[:6]
    others = sum(times.values()) - sum(ours.values())
    print(f"{command:8s} {sum(ours.values()) / 1000:6.1f} ms {others / 1000:6.1f} ms  "
          + ", ".join(f"{k.removeprefix('runtime.')} {v / 1000:.2f}" for k, v in top))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--pyrunc", default="/usr/local/bin/pyrunc")
    args = ap.parse_args()
    python, site = command_file(args.pyrunc)
    work = pathlib.Path(tempfile.mkdtemp(prefix="pyrunc-profile-"))
    base = [args.pyrunc, "--root", str(work / "root")]
    create = ["create", "-b", str(work), "c"]
    try:
        from runtime.defaults import default_config  # the installed pyrunc
        config = default_config()
        config["root"]["path"] = build_rootfs(str(work / "rootfs"))
        config["process"].update(terminal=False, args=["/bin/sleep", "1000"])
        config["linux"]["cgroupsPath"] = "/pyrunc-profile/c"
        (work / "config.json").write_text(json.dumps(config))
        print("import self-times, averaged; -X importtime adds its own overhead")
        print(f"{'command':8s} {'runtime.*':>9s} {'others':>9s}  largest of runtime.* (ms)")
        state, made = {}, {}
        for _ in range(args.runs):
            for name, value in import_profile(python, site, base[1:] + create).items():
                made[name] = made.get(name, 0) + value / args.runs
            for name, value in import_profile(python, site, base[1:] + ["state", "c"]).items():
                state[name] = state.get(name, 0) + value / args.runs
            timed.call(base + ["delete", "--force", "c"])
        report("state", state)
        report("create", made)
        out = run_child(python, PHASES.format(site=site, wanted=CREATE_PHASES), base[1:] + create)
        print("create's phases (cProfile, cumulative ms; profiling slows them):")
        for line in out.splitlines():
            if line.startswith("PHASE"):
                _, key, ms = line.split()
                print(f"  {key:40s} {float(ms):6.2f}")
    finally:
        subprocess.run(base + ["delete", "--force", "c"], stderr=subprocess.DEVNULL)
        for d in pathlib.Path("/sys/fs/cgroup").glob("*/pyrunc-profile"):
            for sub in d.glob("*/"):
                sub.rmdir()
            d.rmdir()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
