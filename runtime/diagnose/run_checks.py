"""The order of `pyrunc check`: the config on its own, then what it asks of
the host and of the rootfs, the risks, and last the plan create would build
(its own checks: mount options, LSMs, seccomp, capabilities). Checks that
read a part the schema refused are skipped: that part has its error."""
import os

from ..errors import ConfigError, PyruncError
from . import config_checks, dry_plan, host_checks, risks, rootfs_checks
from .config_checks import FRAGILE
from .findings import Report

# The id of a checked container: names the default cgroup, which is only looked at.
CHECK_ID = "pyrunc-check"


def check_bundle(bundle: str, systemd: bool = False) -> Report:
    report = Report()
    stop_collecting = config_checks.collect_warnings(report)
    try:
        config = config_checks.load(bundle, report)
        if config is not None:
            _the_rest(config, bundle, systemd, report)
    finally:
        stop_collecting()
    return report


def _the_rest(config: dict, bundle: str, systemd: bool, report: Report) -> None:
    config_ok = not report.errors()
    rootfs = os.path.join(bundle, str(config.get("root", {}).get("path", "")))
    steps = [("the host", lambda: host_checks.check(config, CHECK_ID, systemd, report)),
             ("the rootfs", lambda: rootfs_checks.check(config, bundle, rootfs, report)
              if os.path.isdir(rootfs) else None),
             ("risky settings", lambda: risks.check(config, report))]
    for what, step in steps:
        try:
            step()
        except FRAGILE:
            if config_ok:
                raise  # a valid config must never break a check: a bug to see
            report.skipped.append(f"{what} (the config's errors above come first)")
    if not config_ok:
        report.skipped.append("the launch plan (fix the errors above first)")
        return
    try:
        plan = dry_plan.build(config, bundle, CHECK_ID, systemd=systemd)
    except ConfigError as e:
        config_checks.add_error(report, e)
        return
    except PyruncError as e:
        report.error(None, str(e))
        return
    host_checks.device_findings(plan.ops, report)
