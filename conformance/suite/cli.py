"""Options, progress lines, the scoreboard and the JSON results."""
from __future__ import annotations

import argparse
import collections
import fnmatch
import json
import os
import signal
import sys
import time
import traceback

from . import core
from .core import REGISTRY, Fail, HostSkip

# Importing the check modules registers their checks, in this order.
from . import checks_runtime, checks_hooks, checks_config, checks_mounts  # noqa: F401,E402
from . import checks_linux, checks_cgroups, checks_security, checks_features  # noqa: F401,E402


def parse(argv):
    p = argparse.ArgumentParser(prog="conformance/run", description=(
        "OCI runtime-spec v1.3.0 conformance checks against a runc-compatible runtime."))
    p.add_argument("--runtime", default="/usr/local/bin/pyrunc",
                   help="the runtime binary (default /usr/local/bin/pyrunc)")
    p.add_argument("--root", help="its state directory (default: a private temp dir)")
    p.add_argument("--only", action="append", default=[], metavar="PATTERN",
                   help="run only checks whose id, spec file or section matches (glob or "
                        "substring; repeatable, or comma-separated)")
    p.add_argument("--cgroup", choices=("any", "v2-only"), default="any",
                   help="v2-only: just the checks that read cgroup files or need pure cgroup v2 "
                        "(the cgroup-v2 VM lane)")
    p.add_argument("--list", action="store_true", help="list the checks and exit")
    p.add_argument("--verbose", "-v", action="store_true",
                   help="print every runtime call and the full failure texts")
    p.add_argument("--json", metavar="FILE", help="write the results as JSON")
    p.add_argument("--probe", metavar="PATH", help="a prebuilt static ocitest")
    p.add_argument("--check-quotes", metavar="SPECDIR",
                   help="verify every quote against the spec text in SPECDIR and exit")
    return p.parse_args(argv)


def selected(opts):
    pats = [x for o in opts.only for x in o.split(",") if x]
    out = []
    for c in REGISTRY:
        if opts.cgroup == "v2-only" and c.cgroup == "any":
            continue
        if pats and not any(fnmatch.fnmatch(c.id, p) or p in c.id or p == c.spec
                            or p.lower() in c.where.lower() for p in pats):
            continue
        out.append(c)
    return out


def main(argv) -> int:
    opts = parse(argv)
    if opts.check_quotes:
        bad = core.unquoted(opts.check_quotes)
        for b in bad:
            print(b)
        print(f"quotes: {len(REGISTRY) - len(bad)} of {len(REGISTRY)} checks verbatim")
        return 1 if bad else 0
    checks = selected(opts)
    if opts.list:
        for c in checks:
            print(f"{c.id:48} {c.level:8} {c.where}")
            print(f"{'':48} \"{c.quote}\"" + (f" [{c.note}]" if c.note else ""))
        print(f"{len(checks)} checks")
        return 0
    if os.geteuid() != 0:
        print("conformance: must run as root", file=sys.stderr)
        return 2
    if not os.access(opts.runtime, os.X_OK):
        print(f"conformance: no runtime at {opts.runtime}", file=sys.stderr)
        return 2

    def on_term(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGHUP, on_term)

    from .env import Env
    t0 = time.monotonic()
    try:
        env = Env(os.path.abspath(opts.runtime), opts.root, opts.verbose, opts.probe)
    except (RuntimeError, OSError) as e:
        print(f"conformance: cannot set up: {e}", file=sys.stderr)
        return 2
    version = (env.rt("--version", timeout=10).out.strip().splitlines() or [""])[0]
    print(f"conformance: runtime {opts.runtime}, host cgroups {env.host.cgroup_mode}, "
          f"kernel {'.'.join(map(str, env.host.kernel))}, {len(checks)} checks, run {env.token}"
          f"\nconformance: {version}; configs declare ociVersion {env.oci_version}",
          flush=True)
    results = []
    interrupted = False
    try:
        for c in checks:
            results.append(run_one(env, c, opts.verbose))
    except KeyboardInterrupt:
        interrupted = True
        print("conformance: interrupted, cleaning up", flush=True)
    finally:
        problems = env.cleanup()
        for p in problems:
            print(f"conformance: {p}", file=sys.stderr)
    secs = time.monotonic() - t0
    scoreboard(results)
    if opts.json:
        write_json(opts.json, opts.runtime, version, env, results, secs)
    passed = sum(r["verdict"] == "pass" for r in results)
    failed = sum(r["verdict"] == "fail" for r in results)
    skips = collections.Counter(r["detail"] for r in results if r["verdict"] == "skip")
    print(f"time: {secs:.1f}s")
    print(f"skipped: {sum(skips.values())}" + ("" if not skips else " (" + "; ".join(
        f"{n}x {why}" for why, n in sorted(skips.items(), key=lambda x: -x[1])) + ")"))
    print(f"conformance: {passed} passed, {failed} failed")
    if interrupted:
        return 130
    return 0 if failed == 0 else 1


def run_one(env, c, verbose) -> dict:
    t = time.monotonic()
    try:
        if c.cgroup == "v2":
            env.host.need_pure_v2()
        c.func(env)
        verdict, detail = "pass", ""
    except Fail as e:
        verdict, detail = "fail", str(e)
    except HostSkip as e:
        verdict, detail = "skip", str(e)
    except KeyboardInterrupt:
        raise
    except Exception as e:                       # a check that broke is a failure, loudly
        verdict, detail = "fail", f"check crashed: {type(e).__name__}: {e}"
        if verbose:
            traceback.print_exc()
    secs = time.monotonic() - t
    mark = {"pass": "ok  ", "fail": "FAIL", "skip": "skip"}[verdict]
    line = f"{mark} {c.id}"
    if detail:
        short = detail if verbose else detail.splitlines()[0][:160]
        line += f" -- {short}"
    print(line, flush=True)
    if verdict == "fail":
        print(f"       {c.where}: \"{c.quote}\"" + (f" [{c.note}]" if c.note else ""),
              flush=True)
    return {"id": c.id, "spec": c.spec, "section": c.section, "quote": c.quote, "note": c.note,
            "level": c.level, "verdict": verdict, "detail": detail, "seconds": round(secs, 2)}


def scoreboard(results) -> None:
    rows = collections.OrderedDict()
    for r in results:
        key = f"{r['spec']} § {r['section']}"
        row = rows.setdefault(key, {"pass": 0, "fail": 0, "skip": 0})
        row[r["verdict"]] += 1
    if not rows:
        return
    width = max(len(k) for k in rows) + 2
    print()
    print(f"{'section':{width}} {'passed':>6} {'failed':>6} {'skipped':>7}")
    for k, row in rows.items():
        print(f"{k:{width}} {row['pass']:6} {row['fail']:6} {row['skip']:7}")
    tot = {v: sum(r[v] for r in rows.values()) for v in ("pass", "fail", "skip")}
    print(f"{'total':{width}} {tot['pass']:6} {tot['fail']:6} {tot['skip']:7}")
    print()


def write_json(path, runtime, version, env, results, secs) -> None:
    doc = {"runtime": runtime, "version": version,
           "host": {"cgroups": env.host.cgroup_mode,
                    "kernel": ".".join(map(str, env.host.kernel))},
           "seconds": round(secs, 1), "results": results,
           "passed": sum(r["verdict"] == "pass" for r in results),
           "failed": sum(r["verdict"] == "fail" for r in results),
           "skipped": sum(r["verdict"] == "skip" for r in results)}
    with open(path, "w") as f:
        json.dump(doc, f, indent=1)
