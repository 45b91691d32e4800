#!/bin/bash
# Set up pyrunc and run the whole test suite (unit + integration, as root).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
cd "$HERE"
set +e
# No path given: setup.cfg's testpaths (tests/) is the whole suite.
"$VENV/bin/pytest" -p no:cacheprovider -ra "$@"
rc=$?
set -e
if [ "$rc" = 5 ]; then
  echo "test: pytest collected no tests: that is a failure" >&2
  rc=1
fi
# The cgroup-v2 lane (tests/vm/README.md): a QEMU guest with a pure cgroup-v2
# host runs the tests marked cgroup_v2. With the whole suite only.
if [ $# -eq 0 ] && [ -z "${PYRUNC_SKIP_V2_LANE:-}" ]; then
  set +e
  "$VENV/bin/python3" tests/vm/run_v2_lane.py
  lane=$?
  set -e
  if [ "$lane" = 77 ]; then
    echo "test: !!! the cgroup-v2 lane was SKIPPED (QEMU or the kernel could not be installed) !!!" >&2
  elif [ "$lane" != 0 ]; then
    echo "test: the cgroup-v2 lane failed (status $lane)" >&2
    [ "$rc" != 0 ] || rc=1
  fi
fi
exit "$rc"
