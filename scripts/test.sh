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
  exit 1
fi
exit "$rc"
