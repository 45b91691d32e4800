"""`plan`: what create would do, step by step, from the plan the C init would
run (runtime/diagnose/). Nothing is created: no state, cgroup or process."""
import os

from .. import jsonlite, spec
from ..diagnose import describe, dry_plan
from ..rootless import cgroups_optional


def run(args) -> int:
    bundle = os.path.abspath(args.bundle)
    config = spec.load(bundle)
    dry = dry_plan.build(config, bundle, args.container_id, args.no_pivot,
                         args.systemd_cgroup)
    plan = describe.describe(config, dry, bundle, args.container_id,
                             cgroups_optional(args.rootless))
    print(jsonlite.dumps(plan) if args.format == "json" else describe.as_text(plan))
    return 0
