"""Runs crun for the benchmark where crun 1.8.1 can run on this hybrid host:
in a private mount namespace (`unshare -m --propagation slave`) with a
throw-away tmpfs over /sys/fs/cgroup/unified (../shared/notes: crun refuses
hybrid cgroups). The host's own mounts are never touched: the tmpfs exists in
this namespace only and goes with it.

Reads one JSON request a line on stdin, {"argv": [...], "output": bool},
answers one JSON line: {"rc", "seconds", "stderr"} or {"stdout"}, timed by
timed.py exactly as the benchmark times the other runtimes.
"""
import json
import subprocess
import sys

import timed

UNIFIED = "/sys/fs/cgroup/unified"


def main() -> int:
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "pyrunc-bench", UNIFIED], check=True)
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        req = json.loads(line)
        if req.get("output"):
            try:
                reply = {"stdout": timed.output(req["argv"])}
            except subprocess.CalledProcessError as e:
                reply = {"error": f"exit {e.returncode}"}
        else:
            rc, seconds, err = timed.call(req["argv"])
            reply = {"rc": rc, "seconds": seconds, "stderr": err}
        print(json.dumps(reply), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
