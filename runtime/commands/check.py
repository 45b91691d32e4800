"""`check`: every problem of a bundle at once, without running anything
(runtime/diagnose/ does the work). Exit 0 without errors, warnings or not."""
import os

from ..diagnose.run_checks import check_bundle


def run(args) -> int:
    bundle = os.path.abspath(args.bundle)
    report = check_bundle(bundle, args.systemd_cgroup)
    print(report.as_json() if args.format == "json" else report.as_text(bundle))
    return report.exit_status()
