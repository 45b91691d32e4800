#!/bin/bash
# Set up pyrunc and run a real container from a busybox-static bundle.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
BUNDLE=/var/lib/pyrunc-demo/bundle
"$VENV/bin/python3" "$HERE/scripts/make_bundle.py" "$BUNDLE" -- sh -c '
  echo "hostname:  $(hostname)"; echo "my pid:    $$"; echo "my user:   $(id)"
  echo "processes: $(ps -o pid,comm | tr -s " \n" " ")"; echo "mounts:"; cat /proc/self/mounts'
ID="demo-$$"
echo "# pyrunc run --bundle $BUNDLE $ID"
exec pyrunc run --bundle "$BUNDLE" "$ID"
