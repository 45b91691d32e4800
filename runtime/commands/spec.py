"""`spec`: write a default config.json into the bundle directory."""
import json
import os

from ..cgroups import default_spec_has_cgroup_namespace
from ..defaults import default_config
from ..errors import PyruncError, strerror


def run(args) -> int:
    path = os.path.join(args.bundle, "config.json")
    if os.path.exists(path):
        raise PyruncError(f"{path}: exists; remove it first")
    # runc 1.1 lists a cgroup namespace only where the host is pure cgroup v2:
    # scripts (runc's own tests) add one to what it writes.
    config = default_config(args.spec_rootless, cgroup_ns=default_spec_has_cgroup_namespace())
    try:
        with open(path, "x") as f:
            json.dump(config, f, indent=2)
            f.write("\n")
    except OSError as e:
        raise PyruncError(f"{path}: {strerror(e)}") from None
    return 0
